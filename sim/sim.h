#ifndef A0SIM_SIM_H
#define A0SIM_SIM_H

#include <pthread.h>
#include <stdint.h>

/* The simulated tenant as one context shared by every module. All tenant
 * state (store, jobs, tokens, counters, limiter) sits behind one mutex,
 * sim_t.lock; functions of those modules expect the caller to hold it
 * unless their header says otherwise. */

#include <jansson.h>

#define SIM_MAX_CLIENTS 16
#define SIM_MAX_TENANTS 8

/* A client that may ask /oauth/token for Management API tokens. */
typedef struct {
    char *id;
    char *secret; /* never logged */
    char *scope;  /* granted scopes, space-separated; NULL: no client grant
                     for the Management API */
} sim_client_t;

typedef struct {
    char *listen;        /* bind address, default 127.0.0.1 */
    int port;            /* 0 = any free port */
    char *port_file;     /* where to write the bound port, or NULL */
    char *domain;        /* tenant domain; audience derives from it */
    char *audience;      /* https://DOMAIN/api/v2/ */
    char *client_id;     /* the client of the command line */
    char *client_secret; /* never logged */
    char *scope;         /* scopes granted to that client */
    sim_client_t clients[SIM_MAX_CLIENTS]; /* [0] is the one above */
    int nclients;
    json_t *connections;   /* [{"name","strategy",...}] in creation order */
    int requires_username; /* for connections of the command line */
    int username_min, username_max;
    char *plan;          /* rate-limit preset, NULL = none */
    json_t *fault_rules; /* rules armed at start, from the --fault flags */
    char *snapshot_path;
    int64_t snapshot_interval_s;
    json_t *tenants; /* domains of the other tenants of the process */
    long generate;   /* users to generate at start */
    uint64_t seed;
    char *load_path;    /* export NDJSON(.gz) to seed users from */
    double import_rate; /* users per second per job, 0 = instant */
    double rate;        /* global bucket refill per second, 0 = the
                           plan's */
    double burst;       /* global bucket size */
    int64_t job_retention_s;
    int64_t export_link_ttl_s;
    int64_t token_ttl_s;
    int64_t job_timeout_s;        /* active jobs older than this fail */
    int max_active_imports;       /* concurrent import jobs allowed */
    char *format_code;            /* error code for a failed "format" check */
    char *additional_code;        /* error code for an unknown property */
    int failed_job_errors_object; /* errors of a failed job: 1 job object,
                                     0 = 204 */
    int log_level;
} sim_cfg_t;

typedef struct store_t store_t;
typedef struct jobs_t jobs_t;
typedef struct tokens_t tokens_t;
typedef struct counters_t counters_t;
typedef struct limits_t limits_t;
typedef struct faults_t faults_t;

typedef struct {
    sim_cfg_t cfg;
    pthread_mutex_t lock; /* the tenant mutex */
    store_t *store;
    jobs_t *jobs;
    tokens_t *tokens;
    counters_t *counters;
    limits_t *limits;  /* NULL when nothing is limited */
    faults_t *faults;  /* armed through /__sim/faults */
    int port;          /* bound port */
    char *base_url;    /* http://HOST:PORT, for export links */
    uint64_t link_key; /* signs export links */
    int index;         /* 0: the tenant of --domain; others by Host */
    char *owned[3];    /* cfg strings this tenant allocated itself */
} sim_t;

void sim_lock(sim_t *sim);
void sim_unlock(sim_t *sim);

#endif
