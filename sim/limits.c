/* limits: owns the buckets of one tenant and the plan presets. The
 * numbers are those of Auth0's rate-limit configuration pages: Free has a
 * global Management API bucket of 2 with 2 per second; Essentials has no
 * global row but per-endpoint buckets (read users 40 / 500 per minute,
 * write and delete users 20 / 200 per minute, all other endpoints 10 / 150
 * per minute); Enterprise production has a global bucket of 50 with 16 per
 * second, non-production 10 with 2 per second. The global bucket is
 * evaluated first, as Auth0 does, then the endpoint's. */
#include "limits.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    double rate; /* per second; 0 = no bucket */
    double burst;
} preset_t;

typedef struct {
    const char *name;
    preset_t global;
    preset_t group[LIMIT_NGROUPS];
} plan_t;

#define PER_MIN(n) ((n) / 60.0)

static const plan_t plans[] = {
    { "free", { 2, 2 }, { [LIMIT_TOKEN] = { 30, 30 } } },
    { "essentials",
      { 0, 0 },
      { [LIMIT_USERS_READ] = { PER_MIN(500), 40 },
        [LIMIT_USERS_WRITE] = { PER_MIN(200), 20 },
        [LIMIT_USERS_DELETE] = { PER_MIN(200), 20 },
        [LIMIT_OTHER] = { PER_MIN(150), 10 },
        [LIMIT_TOKEN] = { 25, 25 } } },
    { "enterprise", { 16, 50 }, { [LIMIT_TOKEN] = { 100, 100 } } },
    { "enterprise-nonprod", { 2, 10 }, { [LIMIT_TOKEN] = { 100, 100 } } },
    { "unlimited", { 0, 0 }, { { 0, 0 } } },
    { NULL, { 0, 0 }, { { 0, 0 } } },
};

struct limits_t {
    ratelimit_t *global;
    ratelimit_t *group[LIMIT_NGROUPS];
};

static const plan_t *find_plan(const char *name)
{
    for (const plan_t *p = plans; name && p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

int limits_plan_known(const char *plan)
{
    return find_plan(plan) != NULL;
}

static ratelimit_t *bucket(preset_t p)
{
    return p.rate > 0 ? ratelimit_new(p.rate, p.burst) : NULL;
}

limits_t *limits_new(const char *plan, double rate, double burst, int *bad)
{
    const plan_t *p = find_plan(plan);
    *bad = plan && !p;
    limits_t *self = xcalloc(1, sizeof *self);
    int any = 0;
    if (p) {
        self->global = bucket(p->global);
        for (int g = 0; g < LIMIT_NGROUPS; g++)
            any |= (self->group[g] = bucket(p->group[g])) != NULL;
    }
    if (rate > 0) {
        ratelimit_destroy(&self->global);
        self->global = ratelimit_new(rate, burst);
    }
    if (!any && !self->global)
        limits_destroy(&self);
    return self;
}

void limits_destroy(limits_t **p)
{
    if (!p || !*p)
        return;
    ratelimit_destroy(&(*p)->global);
    for (int g = 0; g < LIMIT_NGROUPS; g++)
        ratelimit_destroy(&(*p)->group[g]);
    free(*p);
    *p = NULL;
}

limit_verdict_t limits_take(limits_t *self, limit_group_t group, int64_t now_ms,
                            ratelimit_info_t *info, int *limited)
{
    ratelimit_t *global = group == LIMIT_TOKEN ? NULL : self->global;
    ratelimit_t *own = self->group[group];
    ratelimit_info_t gi;
    *limited = global || own;
    if (global && !ratelimit_take(global, now_ms, &gi)) {
        *info = gi;
        return LIMIT_GLOBAL;
    }
    if (!own) {
        if (global)
            *info = gi;
        return LIMIT_PASS;
    }
    return ratelimit_take(own, now_ms, info) ? LIMIT_PASS : LIMIT_GROUP;
}

int64_t limits_burst(const limits_t *self, limit_group_t group)
{
    if (self->group[group])
        return ratelimit_burst(self->group[group]);
    if (self->global && group != LIMIT_TOKEN)
        return ratelimit_burst(self->global);
    return 0;
}
