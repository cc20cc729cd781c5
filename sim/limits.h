#ifndef A0SIM_LIMITS_H
#define A0SIM_LIMITS_H

#include "ratelimit.h"

#include <stdint.h>

/* limits: the rate limits of a tenant: an optional global bucket for the
 * Management API and optional buckets per endpoint group, preset from the
 * published plans. The caller holds the tenant mutex. */

typedef enum {
    LIMIT_USERS_READ = 0, /* GET /users, /users/{id}, /users-by-email ... */
    LIMIT_USERS_WRITE,    /* POST and PATCH on users */
    LIMIT_USERS_DELETE,   /* DELETE on users */
    LIMIT_OTHER,          /* every other Management API endpoint */
    LIMIT_TOKEN,          /* POST /oauth/token (Authentication API) */
    LIMIT_NGROUPS,
} limit_group_t;

typedef enum {
    LIMIT_PASS = 0,
    LIMIT_GLOBAL, /* refused by the global bucket */
    LIMIT_GROUP,  /* refused by the endpoint group's bucket */
} limit_verdict_t;

typedef struct limits_t limits_t;

/* Builds the buckets of plan (free, essentials, enterprise,
 * enterprise-nonprod, unlimited; NULL = none). rate > 0 replaces the
 * global bucket with rate per second and burst. Returns NULL when
 * nothing would be limited; *bad is set when the plan is unknown. */
limits_t *limits_new(const char *plan, double rate, double burst, int *bad);
void limits_destroy(limits_t **p);

/* 1 when plan names a preset. */
int limits_plan_known(const char *plan);

/* Takes a token for group at now_ms. info describes the bucket whose
 * headers the response carries (the group's when it has one, else the
 * global one); *limited is 0 when no bucket applies. */
limit_verdict_t limits_take(limits_t *self, limit_group_t group, int64_t now_ms,
                            ratelimit_info_t *info, int *limited);

/* Size of the bucket that group's responses report, 0 when none. */
int64_t limits_burst(const limits_t *self, limit_group_t group);

#endif
