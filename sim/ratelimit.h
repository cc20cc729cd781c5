#ifndef A0SIM_RATELIMIT_H
#define A0SIM_RATELIMIT_H

#include <stdint.h>

/* ratelimit: the Management API's token bucket (burst = capacity,
 * sustained = refill per second), refilled continuously. The caller holds
 * the tenant mutex. */

typedef struct ratelimit_t ratelimit_t;

typedef struct {
    int64_t limit;     /* x-ratelimit-limit: the bucket size */
    int64_t remaining; /* x-ratelimit-remaining: whole tokens left */
    int64_t reset;     /* x-ratelimit-reset: epoch second by which the
                          bucket holds one more whole token than now */
} ratelimit_info_t;

ratelimit_t *ratelimit_new(double rate, double burst);
void ratelimit_destroy(ratelimit_t **p);

/* Takes one token at now_ms. Returns 1 when the request may pass, 0 when
 * the bucket is empty; info is filled either way. */
int ratelimit_take(ratelimit_t *self, int64_t now_ms, ratelimit_info_t *info);

/* The bucket size. */
int64_t ratelimit_burst(const ratelimit_t *self);

#endif
