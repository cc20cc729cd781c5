#ifndef A0_EXECUTOR_H
#define A0_EXECUTOR_H

#include <czmq.h>

/* executor: one thread that runs one batch at a time, end to end: import
 * job slot, POST, poll, errors, per-user outcomes. It owns its own Redis
 * connection and Management API client, so a slow HTTP call never stalls
 * the worker's heartbeats. */

typedef struct {
    const char *redis_url;
    const char *worker_id;
    const char *target_domain;
    const char *target_base_url;
    const char *target_client_id;
    const char *target_client_secret;
    volatile int *stopping; /* set by the worker on SIGTERM */
    volatile int *refused;  /* set here when the target refuses this
                               worker's credentials or scopes */
} executor_cfg_t;

/* Starts an executor. Send it an ASSIGN message (the three proto frames);
 * it answers on the same pipe with one DONE or FAIL message per batch. */
zactor_t *executor_new(const executor_cfg_t *cfg);

#endif
