#ifndef A0_LIMITER_H
#define A0_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#include "auth0.h"
#include "store.h"

/* limiter: the farm-wide rate limit as one Auth0 client sees it. Turns a
 * plan (free, essentials, enterprise, unlimited) and per-group overrides
 * into buckets, keeps them in the run's meta hash, and plugs into an
 * auth0_t as its gate and pause hooks: every request first books a slot in
 * the shared buckets in Redis, every 429 pauses the whole farm. Redis
 * unreachable means no request is sent at all (fail closed). */

#define LIMITER_NAME_MAX 24

typedef struct {
    char name[LIMITER_NAME_MAX]; /* bucket a0m:{T}:rl:NAME; "" = none */
    double rate;                 /* requests per second */
    int64_t burst;
} limiter_bucket_t;

typedef struct {
    char plan[16];
    /* Auth0's Management API global bucket: every Management API request
     * draws from it, on top of its group's bucket. */
    limiter_bucket_t global;
    /* Per endpoint group; AUTH0_GROUP_TOKEN is the Authentication API's
     * token endpoint, which never draws from the global bucket. Groups
     * Auth0 counts together share a bucket name. */
    limiter_bucket_t group[AUTH0_GROUP_COUNT];
    int brake_pct; /* slow down when x-ratelimit-remaining falls under this
                      share of the limit; 0 = never */
} limiter_cfg_t;

/* Default share of the published limits a run takes: the migration shares
 * the tenant's budget with its live traffic. */
#define LIMITER_SHARE_DEFAULT 0.5

/* Buckets of a plan at share (0 < share <= 1) of its published sustained
 * rates, bursts at the same share but at most 10. "unlimited" has none.
 * -1 for an unknown plan name. */
int limiter_cfg_plan(limiter_cfg_t *cfg, const char *plan, double share);

/* Gives "global" or a group ("jobs_write", "jobs_read", "users_read",
 * "users_write", "token") its own bucket. burst <= 0 keeps the current
 * burst (or, for a group without one, takes the rate rounded up). rate 0
 * removes the bucket. -1 for an unknown name. */
int limiter_cfg_set(limiter_cfg_t *cfg, const char *name, double rate,
                    int64_t burst);

/* Applies "NAME=RATE[/BURST]". -1 with err filled when malformed. */
int limiter_cfg_parse(limiter_cfg_t *cfg, const char *spec, char *err,
                      size_t errlen);

/* One line for logs: "plan enterprise: global 8/s burst 10, ...". */
void limiter_cfg_describe(const limiter_cfg_t *cfg, char *out, size_t n);

/* Writes the configuration into a0m:{run}:meta (plan, rate, burst,
 * rl_<group>, brake_pct) / reads it back. Fields a run written by an
 * older version lacks mean "no bucket". 0 or -1 (see store_error). */
int limiter_cfg_write(store_t *store, const char *run,
                      const limiter_cfg_t *cfg);
int limiter_cfg_read(store_t *store, const char *run, limiter_cfg_t *cfg);

typedef struct limiter_t limiter_t;

/* A limiter over store (not owned; the caller's thread only). stopping,
 * when set, makes waits give up (may be NULL). */
limiter_t *limiter_new(store_t *store, const volatile int *stopping);
void limiter_destroy(limiter_t **p);

/* Target tenant (the bucket keys' {T}) and buckets to use from now on. */
void limiter_configure(limiter_t *self, const char *tenant,
                       const limiter_cfg_t *cfg);

/* Installs the gate and pause hooks on api (the limiter must outlive
 * it). Until limiter_configure, the gate only checks that Redis answers. */
void limiter_attach(limiter_t *self, auth0_t *api);

/* The gate: returns once a request of group may be sent (0), after
 * booking it in every bucket it draws from and sleeping until its slot;
 * -1 when it may not be sent at all (stopping, or Redis answering with
 * errors). While Redis is unreachable it waits for it. */
int limiter_gate(limiter_t *self, auth0_group_t group);

/* The pause hook: Auth0 answered 429 and asked for pause_ms. Pauses the
 * whole farm (every Management API bucket; only the token bucket for a
 * token 429) and restarts the buckets empty at the pause's end. */
void limiter_pause(limiter_t *self, auth0_group_t group, int64_t pause_ms);

/* Tells the limiter what a response said (x-ratelimit-*): recorded in
 * a0m:{T}:rl:last with the next booking, and the early brake. */
void limiter_note(limiter_t *self, auth0_group_t group,
                  const auth0_resp_t *resp);

/* Blocks until Redis answers, backing off with jitter. 0, or -1 when
 * stopping was set first. */
int limiter_wait_redis(limiter_t *self);

#endif
