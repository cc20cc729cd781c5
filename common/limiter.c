/* limiter: the client side of the farm-wide rate limit. Owns no Redis
 * connection (it borrows the caller's store) and no key of its own beyond
 * the meta fields it writes (plan, rate, burst, rl_<group>, brake_pct);
 * the buckets, the farm pause and the metrics live in Redis under
 * a0m:{T}:rl:* and change only through the a0m_rl_* functions.
 *
 * Invariants: no request passes the gate without a booking in every
 * bucket it draws from, made through Redis (so with Redis down nothing is
 * sent); nobody sleeps less than Redis said; nobody asks Redis again
 * sooner than one emission interval after a denial. */
#include "limiter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define M "limiter"

#define MAX_WAIT_MS     2000 /* furthest booking ahead */
#define BURST_CAP       10   /* largest default burst */
#define REDIS_BACKOFF   8000 /* longest sleep between Redis checks */
#define LOGIC_ERR_LIMIT 5    /* Redis answers with errors: give up */
#define MAX_BUCKETS     (AUTH0_GROUP_COUNT + 1)

static const char *const group_keys[AUTH0_GROUP_COUNT] = {
    [AUTH0_GROUP_TOKEN] = "rl_token",
    [AUTH0_GROUP_JOBS_WRITE] = "rl_jobs_write",
    [AUTH0_GROUP_JOBS_READ] = "rl_jobs_read",
    [AUTH0_GROUP_USERS_READ] = "rl_users_read",
    [AUTH0_GROUP_USERS_WRITE] = "rl_users_write",
};

/* ---- plans ---- */

static void bucket_set(limiter_bucket_t *b, const char *name, double rate,
                       int64_t burst)
{
    snprintf(b->name, sizeof b->name, "%s", rate > 0 ? name : "");
    b->rate = rate > 0 ? rate : 0;
    b->burst = rate > 0 ? (burst > 0 ? burst : 1) : 0;
}

/* A published limit (sustained per second, bucket size) at share. */
static void share_of(limiter_bucket_t *b, const char *name, double rate,
                     int64_t burst, double share)
{
    double down = floor((double)burst * share);
    int64_t bs = (int64_t)down;
    bs = bs < 1 ? 1 : bs > BURST_CAP ? BURST_CAP : bs;
    bucket_set(b, name, rate * share, bs);
}

/* Numbers from Auth0's rate-limit configuration pages. Essentials counts
 * the jobs endpoints with "all other endpoints" (150/min, burst 10) and
 * has no global bucket; free and enterprise have only the global one. */
static void plan_essentials(limiter_cfg_t *c, double share)
{
    share_of(&c->group[AUTH0_GROUP_JOBS_WRITE], "other", 150.0 / 60, 10, share);
    c->group[AUTH0_GROUP_JOBS_READ] = c->group[AUTH0_GROUP_JOBS_WRITE];
    share_of(&c->group[AUTH0_GROUP_USERS_READ], "users_read", 500.0 / 60, 40,
             share);
    share_of(&c->group[AUTH0_GROUP_USERS_WRITE], "users_write", 200.0 / 60, 20,
             share);
    share_of(&c->group[AUTH0_GROUP_TOKEN], "token", 25, 25, share);
}

int limiter_cfg_plan(limiter_cfg_t *cfg, const char *plan, double share)
{
    memset(cfg, 0, sizeof *cfg);
    if (!(share > 0 && share <= 1))
        return -1;
    if (strcmp(plan, "free") == 0) {
        share_of(&cfg->global, "global", 2, 2, share);
        share_of(&cfg->group[AUTH0_GROUP_TOKEN], "token", 30, 30, share);
    } else if (strcmp(plan, "essentials") == 0) {
        plan_essentials(cfg, share);
    } else if (strcmp(plan, "enterprise") == 0) {
        share_of(&cfg->global, "global", 16, 50, share);
        share_of(&cfg->group[AUTH0_GROUP_TOKEN], "token", 100, 100, share);
    } else if (strcmp(plan, "unlimited") != 0) {
        return -1;
    }
    snprintf(cfg->plan, sizeof cfg->plan, "%s", plan);
    return 0;
}

static limiter_bucket_t *bucket_named(limiter_cfg_t *cfg, const char *name)
{
    if (strcmp(name, "global") == 0)
        return &cfg->global;
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++)
        if (strcmp(name, auth0_group_name((auth0_group_t)g)) == 0)
            return &cfg->group[g];
    return NULL;
}

int limiter_cfg_set(limiter_cfg_t *cfg, const char *name, double rate,
                    int64_t burst)
{
    limiter_bucket_t *b = bucket_named(cfg, name);
    if (!b || !(rate >= 0))
        return -1;
    double up = ceil(rate);
    if (burst <= 0)
        burst = b->burst > 0 ? b->burst : (int64_t)up;
    bucket_set(b, name, rate, burst);
    return 0;
}

int limiter_cfg_parse(limiter_cfg_t *cfg, const char *spec, char *err,
                      size_t errlen)
{
    char name[LIMITER_NAME_MAX];
    const char *eq = strchr(spec, '=');
    size_t len = eq ? (size_t)(eq - spec) : 0;
    char *end = NULL;
    double rate = eq ? strtod(eq + 1, &end) : -1;
    int ok = eq && len > 0 && len < sizeof name && end != eq + 1 && rate >= 0 &&
             rate <= 100000;
    long long burst = 0;
    if (ok && *end == '/') {
        const char *b = end + 1;
        burst = strtoll(b, &end, 10);
        ok = end != b && burst >= 1 && burst <= 100000;
    }
    ok = ok && *end == '\0';
    if (ok) {
        snprintf(name, sizeof name, "%.*s", (int)len, spec);
        ok = limiter_cfg_set(cfg, name, rate, burst) == 0;
    }
    if (!ok)
        snprintf(err, errlen,
                 "'%s': want NAME=RATE[/BURST], NAME one of global, "
                 "jobs_write, jobs_read, users_read, users_write, token",
                 spec);
    return ok ? 0 : -1;
}

static size_t describe_one(char *out, size_t n, const char *what,
                           const limiter_bucket_t *b)
{
    if (!b->name[0])
        return 0;
    int k = strcmp(what, b->name) == 0
                ? snprintf(out, n, ", %s %.3g/s burst %lld", what, b->rate,
                           (long long)b->burst)
                : snprintf(out, n, ", %s (bucket %s) %.3g/s burst %lld", what,
                           b->name, b->rate, (long long)b->burst);
    return k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
}

void limiter_cfg_describe(const limiter_cfg_t *cfg, char *out, size_t n)
{
    int k = snprintf(out, n, "plan %s", cfg->plan[0] ? cfg->plan : "(none)");
    size_t at = k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
    at += describe_one(out + at, n - at, "global", &cfg->global);
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++)
        at += describe_one(out + at, n - at, auth0_group_name((auth0_group_t)g),
                           &cfg->group[g]);
    if (cfg->brake_pct > 0 && at < n)
        snprintf(out + at, n - at, ", brake under %d%%", cfg->brake_pct);
}

/* ---- meta ---- */

static char *bucket_text(const limiter_bucket_t *b)
{
    if (!b->name[0])
        return xstrdup("-");
    return xasprintf("%s %.6f %lld", b->name, b->rate, (long long)b->burst);
}

static void bucket_parse(limiter_bucket_t *b, const char *s)
{
    char name[LIMITER_NAME_MAX];
    double rate = 0;
    long long burst = 0;
    memset(b, 0, sizeof *b);
    if (s && sscanf(s, "%23s %lf %lld", name, &rate, &burst) == 3 && rate > 0 &&
        burst > 0)
        bucket_set(b, name, rate, burst);
}

int limiter_cfg_write(store_t *store, const char *run, const limiter_cfg_t *cfg)
{
    char *key = store_key(run, "meta");
    char *f[AUTH0_GROUP_COUNT];
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++)
        f[g] = bucket_text(&cfg->group[g]);
    redisReply *r = store_commandf(
        store,
        "HSET %s plan %s rate %.6f burst %lld brake_pct %d %s %s %s %s "
        "%s %s %s %s %s %s",
        key, cfg->plan[0] ? cfg->plan : "-", cfg->global.rate,
        (long long)cfg->global.burst, cfg->brake_pct, group_keys[0], f[0],
        group_keys[1], f[1], group_keys[2], f[2], group_keys[3], f[3],
        group_keys[4], f[4]);
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++)
        free(f[g]);
    free(key);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

static const char *elem_str(const redisReply *r, size_t i)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

static void cfg_from_reply(limiter_cfg_t *cfg, const redisReply *r)
{
    const char *plan = elem_str(r, 0), *rate = elem_str(r, 1);
    const char *burst = elem_str(r, 2), *brake = elem_str(r, 3);
    snprintf(cfg->plan, sizeof cfg->plan, "%s", plan ? plan : "");
    bucket_set(&cfg->global, "global", rate ? atof(rate) : 0,
               burst ? atoll(burst) : 1);
    cfg->brake_pct = brake ? atoi(brake) : 0;
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++)
        bucket_parse(&cfg->group[g], elem_str(r, 4 + (size_t)g));
}

int limiter_cfg_read(store_t *store, const char *run, limiter_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char *key = store_key(run, "meta");
    redisReply *r = store_commandf(
        store, "HMGET %s plan rate burst brake_pct %s %s %s %s %s", key,
        group_keys[0], group_keys[1], group_keys[2], group_keys[3],
        group_keys[4]);
    free(key);
    int ok = r && r->type == REDIS_REPLY_ARRAY &&
             r->elements == 4 + AUTH0_GROUP_COUNT;
    if (ok)
        cfg_from_reply(cfg, r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* ---- the gate ---- */

struct limiter_t {
    store_t *store;
    const volatile int *stopping;
    char tenant[256];
    limiter_cfg_t cfg;
    int configured;
    /* the last response's x-ratelimit-*, sent with the next booking */
    store_rl_note_t note;
    int have_note;
    unsigned rng;
};

limiter_t *limiter_new(store_t *store, const volatile int *stopping)
{
    limiter_t *self = xcalloc(1, sizeof *self);
    self->store = store;
    self->stopping = stopping;
    self->rng = (unsigned)(util_mono_ms() ^ (int64_t)(uintptr_t)self);
    return self;
}

void limiter_destroy(limiter_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

void limiter_configure(limiter_t *self, const char *tenant,
                       const limiter_cfg_t *cfg)
{
    snprintf(self->tenant, sizeof self->tenant, "%s", tenant);
    self->cfg = *cfg;
    self->configured = 1;
}

static int stopping(const limiter_t *self)
{
    return self->stopping && *self->stopping;
}

static int64_t jitter(limiter_t *self, int64_t upto)
{
    return upto > 0 ? (int64_t)(rand_r(&self->rng) % (unsigned)(upto + 1)) : 0;
}

int limiter_wait_redis(limiter_t *self)
{
    int64_t backoff = 250;
    int warned = 0;
    while (store_ping(self->store) != 0) {
        if (stopping(self))
            return -1;
        if (!warned++)
            log_warn(M, "%s; holding all Auth0 calls until it is back",
                     store_error(self->store));
        util_sleep_ms(backoff + jitter(self, backoff));
        backoff = backoff < REDIS_BACKOFF / 2 ? backoff * 2 : REDIS_BACKOFF / 2;
    }
    if (warned)
        log_info(M, "Redis is back");
    return 0;
}

/* Adds a bucket unless absent or already listed (groups may share one). */
static size_t add_bucket(store_bucket_t *out, size_t n,
                         const limiter_bucket_t *b)
{
    if (!b->name[0])
        return n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(out[i].name, b->name) == 0)
            return n;
    /* One request of the burst stays unused: it absorbs the jitter of
     * the network between our booking and Auth0's own bucket. */
    out[n].name = b->name;
    out[n].rate = b->rate;
    out[n].burst = b->burst > 1 ? b->burst - 1 : 1;
    return n + 1;
}

/* Buckets a request of group draws from. */
static size_t buckets_of(const limiter_t *self, auth0_group_t group,
                         store_bucket_t *out)
{
    if (!self->configured)
        return 0;
    size_t n = add_bucket(out, 0, &self->cfg.group[group]);
    if (group != AUTH0_GROUP_TOKEN)
        n = add_bucket(out, n, &self->cfg.global);
    return n;
}

/* Every Management API bucket: a 429 pauses all of them. */
static size_t buckets_all(const limiter_t *self, store_bucket_t *out)
{
    size_t n = add_bucket(out, 0, &self->cfg.global);
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++)
        if (g != AUTH0_GROUP_TOKEN)
            n = add_bucket(out, n, &self->cfg.group[g]);
    return n;
}

/* Milliseconds between two requests of the slowest bucket. */
static int64_t interval_ms(const store_bucket_t *b, size_t n)
{
    double slowest = n ? b[0].rate : 10;
    for (size_t i = 1; i < n; i++)
        if (b[i].rate < slowest)
            slowest = b[i].rate;
    double ms = slowest > 0 ? ceil(1000.0 / slowest) : 100;
    return (int64_t)ms;
}

/* A Redis call failed. Unreachable: wait for it (fail closed). Answering
 * with errors (say, functions not loaded): a few slow tries, then the
 * request is refused. 0 to try again, -1 to refuse. */
static int on_redis_error(limiter_t *self, int *errors)
{
    if (store_ping(self->store) != 0)
        return limiter_wait_redis(self);
    if (++*errors >= LOGIC_ERR_LIMIT || stopping(self)) {
        log_error(M, "%s; refusing the request", store_error(self->store));
        return -1;
    }
    util_sleep_ms(1000);
    return 0;
}

/* After sleeping for a booking: a 429 seen meanwhile by anyone in the
 * farm voids it. 0 to send, 1 to ask again, -1 on a Redis error. */
static int still_clear(limiter_t *self, int64_t slot_ms)
{
    int64_t paused = store_rl_paused_ms(self->store, self->tenant);
    if (paused < 0)
        return -1;
    if (paused == 0)
        return 0;
    util_sleep_ms(paused + jitter(self, slot_ms));
    return 1;
}

/* One booking attempt: 0 booked (and slept), 1 ask again, -1 error. */
static int book(limiter_t *self, const store_bucket_t *b, size_t n)
{
    int64_t wait = 0, slot = interval_ms(b, n);
    int rc = store_rl_acquire(self->store, self->tenant, b, n, MAX_WAIT_MS,
                              self->have_note ? &self->note : NULL, &wait);
    if (rc < 0)
        return -1;
    self->have_note = 0;
    if (rc == 1) {
        /* Denied: come back when a booking is likely, spread by jitter
         * so that denied callers do not return together. */
        int64_t back = wait - MAX_WAIT_MS / 2;
        util_sleep_ms((back > slot ? back : slot) + jitter(self, slot));
        return 1;
    }
    if (wait == 0)
        return 0;
    util_sleep_ms(wait);
    return still_clear(self, slot);
}

int limiter_gate(limiter_t *self, auth0_group_t group)
{
    store_bucket_t b[MAX_BUCKETS];
    size_t n = buckets_of(self, group, b);
    int errors = 0;
    for (;;) {
        if (stopping(self) && group == AUTH0_GROUP_JOBS_WRITE)
            return -1; /* draining: start no new job */
        int rc = n ? book(self, b, n) : store_ping(self->store);
        if (rc == 0)
            return 0;
        if (rc < 0 && on_redis_error(self, &errors) != 0)
            return -1;
    }
}

void limiter_pause(limiter_t *self, auth0_group_t group, int64_t pause_ms)
{
    store_bucket_t b[MAX_BUCKETS];
    size_t n = group == AUTH0_GROUP_TOKEN ? buckets_of(self, group, b)
                                          : buckets_all(self, b);
    int64_t applied = self->configured
                          ? store_rl_penalize(self->store, self->tenant, b, n,
                                              pause_ms, "429")
                          : -1;
    log_warn(M, "429 from Auth0 (%s): farm paused for %lld ms",
             auth0_group_name(group),
             (long long)(applied >= 0 ? applied : pause_ms));
    /* Redis did not take the pause: at least this client keeps it; the
     * gate then waits for Redis anyway. */
    if (applied < 0)
        util_sleep_ms(pause_ms);
}

static int gate_hook(void *arg, auth0_group_t group)
{
    return limiter_gate(arg, group);
}

static void pause_hook(void *arg, auth0_group_t group, int64_t pause_ms)
{
    limiter_pause(arg, group, pause_ms);
}

void limiter_attach(limiter_t *self, auth0_t *api)
{
    auth0_set_gate(api, gate_hook, pause_hook, self);
}

/* The early brake: Auth0's bucket runs low (other traffic on the tenant
 * shares it), so the farm waits for its next refill. */
static void brake(limiter_t *self, const auth0_resp_t *resp)
{
    store_bucket_t b[MAX_BUCKETS];
    size_t n = buckets_all(self, b);
    int64_t ms = auth0_pause_ms(resp, util_wall_ms() / 1000, 250, 60000);
    store_rl_penalize(self->store, self->tenant, b, n, ms, "brake");
}

void limiter_note(limiter_t *self, auth0_group_t group,
                  const auth0_resp_t *resp)
{
    if (!self->configured || resp->rl_limit < 0 || resp->rl_remaining < 0)
        return;
    self->note.group = auth0_group_name(group);
    self->note.limit = resp->rl_limit;
    self->note.remaining = resp->rl_remaining;
    self->note.reset = resp->rl_reset;
    self->note.status = resp->status;
    self->have_note = 1;
    int low = resp->rl_remaining * 100 < resp->rl_limit * self->cfg.brake_pct;
    if (self->cfg.brake_pct > 0 && low && resp->status != 429)
        brake(self, resp);
}
