#ifndef A0_RUN_H
#define A0_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "limiter.h"

/* Exit statuses of the a0migrate command. */
#define EXIT_ALL_DONE  0 /* every user terminal, none failed */
#define EXIT_SOME_FAIL 1 /* some users failed or conflict */
#define EXIT_USAGE     2 /* usage or configuration error */
#define EXIT_RECONCILE 3 /* reconciliation found a difference */
#define EXIT_CANNOT    4 /* Redis, credentials or target unusable */

typedef struct {
    const char *input;
    const char *hashes;
    const char *run_id; /* NULL: derived from inputs */
    const char *redis_url;
    const char *bind; /* ROUTER endpoint */
    const char *target_connection;
    const char *const *connection_map; /* "SOURCE=TARGET" entries */
    size_t connection_map_n;
    int rewrite_metadata_keys; /* '.'/'$' to '_', reserved keys to src_ */
    int expect_hashes;         /* database users without a hash: exit 2 */
    const char *worker_bin;    /* for --local-workers */
    int local_workers;
    int dry_run;
    size_t batch_users;
    size_t max_request_bytes; /* whole multipart request bound */
    double rate;              /* --rate, < 0 when not given */
    int64_t burst;            /* --burst, 0 when not given */
    limiter_cfg_t limits;     /* the farm's buckets: plan and overrides */
    int64_t job_slots;
    int64_t max_attempts;
    int64_t lease_ms;
    int64_t heartbeat_ms;
    int64_t liveness; /* missed heartbeats before death */
    int64_t reconcile_wait_ms;
    int64_t lock_wait_ms; /* wait for a predecessor's lease */
    int64_t poll_max_ms;
    /* target tenant */
    const char *target_domain;
    const char *target_base_url;
    const char *target_client_id;
    const char *target_client_secret;
} run_cfg_t;

/* Plans, dispatches and waits. Returns an exit status. */
int run_main(const run_cfg_t *cfg);

/* Prints the counts of a run; returns an exit status. */
int run_status(const char *redis_url, const char *run_id, int json);

#endif
