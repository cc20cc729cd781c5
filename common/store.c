/* store: one hiredis connection to the run's Redis and typed wrappers over
 * the a0m function library. Every write that changes a batch or a user goes
 * through a function call, so it is atomic and fenced; this module only
 * builds argument vectors and reads replies. */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

extern const char store_functions_lua[];

struct store_t {
    redisContext *ctx;
    char *host;
    int port;
    int db;
    char errstr[256];
};

/* A growable argv for redisCommandArgv. */
typedef struct {
    const char **argv;
    size_t *lens;
    char **owned;
    int argc;
    int cap;
    int nowned;
} args_t;

static void args_push(args_t *a, const char *s, size_t len)
{
    if (a->argc == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->argv = xrealloc(a->argv, sizeof(char *) * (size_t)a->cap);
        a->lens = xrealloc(a->lens, sizeof(size_t) * (size_t)a->cap);
        a->owned = xrealloc(a->owned, sizeof(char *) * (size_t)a->cap);
    }
    a->argv[a->argc] = s;
    a->lens[a->argc] = len;
    a->argc++;
}

static void args_str(args_t *a, const char *s)
{
    args_push(a, s, strlen(s));
}

/* Pushes a string the args own (freed by args_free). */
static void args_own(args_t *a, char *s)
{
    args_str(a, s);
    a->owned[a->nowned++] = s;
}

static void args_int(args_t *a, int64_t v)
{
    args_own(a, xasprintf("%lld", (long long)v));
}

static void args_free(args_t *a)
{
    for (int i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->argv);
    free(a->lens);
    free(a->owned);
    memset(a, 0, sizeof *a);
}

static int parse_url(store_t *self, const char *url)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    const char *colon = strrchr(p, ':');
    const char *slash = strchr(p, '/');
    if (!colon || (slash && slash < colon)) {
        self->host = xstrndup(p, slash ? (size_t)(slash - p) : strlen(p));
        self->port = 6379;
    } else {
        self->host = xstrndup(p, (size_t)(colon - p));
        self->port = atoi(colon + 1);
    }
    self->db = slash ? atoi(slash + 1) : 0;
    return self->host[0] && self->port > 0 && self->port < 65536 ? 0 : -1;
}

static int connect_now(store_t *self)
{
    if (self->ctx)
        redisFree(self->ctx);
    struct timeval tv = { 2, 0 };
    self->ctx = redisConnectWithTimeout(self->host, self->port, tv);
    if (!self->ctx || self->ctx->err) {
        snprintf(self->errstr, sizeof self->errstr, "redis: connect %s:%d: %s",
                 self->host, self->port,
                 self->ctx ? self->ctx->errstr : "out of memory");
        if (self->ctx)
            redisFree(self->ctx);
        self->ctx = NULL;
        return -1;
    }
    /* Commands are short; BLPOP waits are bounded below this. */
    struct timeval rtv = { 10, 0 };
    redisSetTimeout(self->ctx, rtv);
    redisEnableKeepAlive(self->ctx);
    const char *pass = getenv("A0_REDIS_PASSWORD");
    if (pass && *pass) {
        redisReply *r = redisCommand(self->ctx, "AUTH %s", pass);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (bad) {
            snprintf(self->errstr, sizeof self->errstr,
                     "redis: AUTH failed on %s:%d", self->host, self->port);
            return -1;
        }
    }
    if (self->db) {
        redisReply *r = redisCommand(self->ctx, "SELECT %d", self->db);
        if (r)
            freeReplyObject(r);
    }
    return 0;
}

store_t *store_new(const char *url, char **err)
{
    store_t *self = xcalloc(1, sizeof *self);
    if (parse_url(self, url) != 0) {
        *err = xasprintf("redis: bad URL (want redis://HOST:PORT[/DB])");
        store_destroy(&self);
        return NULL;
    }
    if (connect_now(self) != 0) {
        *err = xstrdup(self->errstr);
        store_destroy(&self);
        return NULL;
    }
    return self;
}

void store_destroy(store_t **p)
{
    if (!p || !*p)
        return;
    store_t *self = *p;
    if (self->ctx)
        redisFree(self->ctx);
    free(self->host);
    free(self);
    *p = NULL;
}

const char *store_error(const store_t *self)
{
    return self->errstr;
}

redisReply *store_command(store_t *self, int argc, const char **argv,
                          const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!self->ctx && connect_now(self) != 0)
            return NULL;
        redisReply *r = redisCommandArgv(self->ctx, argc, argv, lens);
        if (r) {
            if (r->type == REDIS_REPLY_ERROR)
                snprintf(self->errstr, sizeof self->errstr, "redis: %s: %s",
                         argv[0], r->str);
            return r;
        }
        snprintf(self->errstr, sizeof self->errstr, "redis: %s: %s", argv[0],
                 self->ctx->errstr[0] ? self->ctx->errstr : "I/O");
        redisFree(self->ctx);
        self->ctx = NULL;
    }
    return NULL;
}

redisReply *store_commandf(store_t *self, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!self->ctx && connect_now(self) != 0)
            return NULL;
        va_list ap;
        va_start(ap, fmt);
        redisReply *r = redisvCommand(self->ctx, fmt, ap);
        va_end(ap);
        if (r) {
            if (r->type == REDIS_REPLY_ERROR)
                snprintf(self->errstr, sizeof self->errstr, "redis: %s",
                         r->str);
            return r;
        }
        snprintf(self->errstr, sizeof self->errstr, "redis: %s",
                 self->ctx->errstr[0] ? self->ctx->errstr : "I/O error");
        redisFree(self->ctx);
        self->ctx = NULL;
    }
    return NULL;
}

/* Runs args; returns the reply unless it is missing or an error. */
static redisReply *run_args(store_t *self, args_t *a)
{
    redisReply *r = store_command(self, a->argc, a->argv, a->lens);
    if (r && r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/* Runs args and frees them; 0 when Redis answered without an error. */
static int run_discard(store_t *self, args_t *a)
{
    redisReply *r = run_args(self, a);
    args_free(a);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

int store_ping(store_t *self)
{
    redisReply *r = store_commandf(self, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Name of the embedded library, from its "#!lua name=..." line. */
static void library_name(char *out, size_t n)
{
    const char *p = strstr(store_functions_lua, "name=");
    size_t len = p ? strcspn(p + 5, " \r\n") : 0;
    snprintf(out, n, "%.*s", (int)len, p ? p + 5 : "");
}

/* Deletes every a0m_v* library but ours: a new version reuses function
 * names, which Redis refuses to have in two libraries. */
static int drop_other_versions(store_t *self, const char *ours)
{
    redisReply *r =
        store_commandf(self, "FUNCTION LIST LIBRARYNAME %s", "a0m_v*");
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *lib = r->element[i];
        for (size_t k = 0;
             lib->type == REDIS_REPLY_ARRAY && k + 1 < lib->elements; k += 2) {
            const redisReply *key = lib->element[k], *val = lib->element[k + 1];
            if (key->type != REDIS_REPLY_STRING ||
                strcmp(key->str, "library_name") != 0 ||
                val->type != REDIS_REPLY_STRING || strcmp(val->str, ours) == 0)
                continue;
            redisReply *d =
                store_commandf(self, "FUNCTION DELETE %s", val->str);
            rc |= !d || d->type == REDIS_REPLY_ERROR ? -1 : 0;
            if (d)
                freeReplyObject(d);
        }
    }
    freeReplyObject(r);
    return rc;
}

int store_load_functions(store_t *self)
{
    char name[64];
    library_name(name, sizeof name);
    if (drop_other_versions(self, name) != 0)
        return -1;
    args_t a = { 0 };
    args_str(&a, "FUNCTION");
    args_str(&a, "LOAD");
    args_str(&a, "REPLACE");
    args_str(&a, store_functions_lua);
    return run_discard(self, &a);
}

char *store_key(const char *id, const char *suffix)
{
    return xasprintf("a0m:{%s}:%s", id, suffix);
}

/* Starts an FCALL of fn with nkeys keys named by run/suffix pairs. */
static void fcall_begin(args_t *a, const char *fn, int nkeys)
{
    args_str(a, "FCALL");
    args_str(a, fn);
    args_int(a, nkeys);
}

static void key_push(args_t *a, const char *id, const char *suffix)
{
    args_own(a, store_key(id, suffix));
}

static void batch_key_push(args_t *a, const char *run, const char *what,
                           int64_t batch)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "%s:%lld", what, (long long)batch);
    key_push(a, run, suffix);
}

static void copy_elem(const redisReply *r, size_t i, char *out, size_t n)
{
    out[0] = '\0';
    if (i >= r->elements)
        return;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS)
        snprintf(out, n, "%s", e->str);
    else if (e->type == REDIS_REPLY_INTEGER)
        snprintf(out, n, "%lld", e->integer);
}

static int64_t int_elem(const redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

/* Runs args, frees them and reads a two-integer reply. 0, or -1 when
 * Redis failed or answered something else. */
static int run_pair(store_t *self, args_t *a, int64_t *first, int64_t *second)
{
    redisReply *r = run_args(self, a);
    args_free(a);
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2;
    if (ok) {
        *first = int_elem(r, 0);
        *second = int_elem(r, 1);
    }
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int store_plan_batch(store_t *self, const char *run, int64_t batch, char **uids,
                     size_t n, char *state, int64_t *attempt, char *job_id)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_plan_batch", 4);
    batch_key_push(&a, run, "batch", batch);
    batch_key_push(&a, run, "users", batch);
    key_push(&a, run, "stats");
    key_push(&a, run, "pending");
    args_int(&a, batch);
    for (size_t i = 0; i < n; i++)
        args_str(&a, uids[i]);
    redisReply *r = run_args(self, &a);
    args_free(&a);
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 3;
    if (ok) {
        copy_elem(r, 0, state, 32);
        *attempt = int_elem(r, 1);
        copy_elem(r, 2, job_id, 64);
    }
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int store_set_local_outcomes(store_t *self, const char *run, const char **pairs,
                             size_t npairs)
{
    if (npairs == 0)
        return 0;
    args_t a = { 0 };
    fcall_begin(&a, "a0m_set_outcomes", 2);
    key_push(&a, run, "users:local");
    key_push(&a, run, "stats");
    for (size_t i = 0; i < npairs; i++)
        args_str(&a, pairs[i]);
    return run_discard(self, &a);
}

int store_claim(store_t *self, const char *run, int64_t batch,
                const char *worker, int64_t lease_ms, int64_t epoch,
                int64_t max_attempts, store_claim_t *out)
{
    memset(out, 0, sizeof *out);
    args_t a = { 0 };
    fcall_begin(&a, "a0m_claim", 5);
    batch_key_push(&a, run, "batch", batch);
    key_push(&a, run, "leases");
    key_push(&a, run, "fence");
    key_push(&a, run, "pending");
    key_push(&a, run, "events");
    args_int(&a, batch);
    args_str(&a, worker);
    args_int(&a, lease_ms);
    args_int(&a, epoch);
    args_int(&a, max_attempts);
    redisReply *r = run_args(self, &a);
    args_free(&a);
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements >= 2;
    if (ok) {
        out->token = int_elem(r, 0);
        if (out->token == 0) {
            copy_elem(r, 1, out->reason, sizeof out->reason);
        } else {
            copy_elem(r, 1, out->state, sizeof out->state);
            out->attempt = int_elem(r, 2);
            copy_elem(r, 3, out->job_id, sizeof out->job_id);
        }
    }
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int store_transition(store_t *self, const char *run, int64_t batch,
                     int64_t token, const char *from, const char *to,
                     int64_t lease_ms, const char **fields, size_t nfields)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_transition", 2);
    batch_key_push(&a, run, "batch", batch);
    key_push(&a, run, "leases");
    args_int(&a, batch);
    args_int(&a, token);
    args_str(&a, from);
    args_str(&a, to);
    args_int(&a, lease_ms);
    for (size_t i = 0; i < nfields; i++)
        args_str(&a, fields[i]);
    return run_discard(self, &a);
}

int store_complete(store_t *self, const char *run, int64_t batch, int64_t token,
                   const char *summary, const char **pairs, size_t npairs)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_complete", 5);
    batch_key_push(&a, run, "batch", batch);
    batch_key_push(&a, run, "users", batch);
    key_push(&a, run, "stats");
    key_push(&a, run, "leases");
    key_push(&a, run, "events");
    args_int(&a, batch);
    args_int(&a, token);
    args_str(&a, summary);
    for (size_t i = 0; i < npairs; i++)
        args_str(&a, pairs[i]);
    return run_discard(self, &a);
}

static int release_args(store_t *self, const char *run, int64_t batch,
                        int64_t max_attempts, const char *reason, int64_t token,
                        int refund, char *state);

int store_release(store_t *self, const char *run, int64_t batch,
                  int64_t max_attempts, const char *reason, int64_t token,
                  char *state)
{
    return release_args(self, run, batch, max_attempts, reason, token, 0,
                        state);
}

int store_refund(store_t *self, const char *run, int64_t batch,
                 const char *reason, int64_t token, char *state)
{
    return release_args(self, run, batch, 1000000, reason, token, 1, state);
}

static int release_args(store_t *self, const char *run, int64_t batch,
                        int64_t max_attempts, const char *reason, int64_t token,
                        int refund, char *state)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_release", 6);
    batch_key_push(&a, run, "batch", batch);
    key_push(&a, run, "leases");
    key_push(&a, run, "pending");
    batch_key_push(&a, run, "users", batch);
    key_push(&a, run, "stats");
    key_push(&a, run, "events");
    args_int(&a, batch);
    args_int(&a, max_attempts);
    args_str(&a, reason);
    args_int(&a, token);
    args_str(&a, refund ? "1" : "0");
    redisReply *r = run_args(self, &a);
    args_free(&a);
    if (!r)
        return -1;
    snprintf(state, 32, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return 0;
}

#define SPLIT_BASE 1000000000000LL

int store_next_batch_numbers(store_t *self, const char *run, int64_t *first)
{
    char *key = store_key(run, "split_seq");
    redisReply *r = store_commandf(self, "INCRBY %s 2", key);
    free(key);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    if (ok)
        *first = SPLIT_BASE + r->integer - 1;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

int store_split(store_t *self, const char *run, int64_t batch, int64_t child1,
                int64_t child2, size_t n1, char **uids, size_t n)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_split", 10);
    batch_key_push(&a, run, "batch", batch);
    batch_key_push(&a, run, "users", batch);
    batch_key_push(&a, run, "batch", child1);
    batch_key_push(&a, run, "users", child1);
    batch_key_push(&a, run, "batch", child2);
    batch_key_push(&a, run, "users", child2);
    key_push(&a, run, "pending");
    key_push(&a, run, "leases");
    key_push(&a, run, "stats");
    key_push(&a, run, "events");
    args_int(&a, batch);
    args_int(&a, child1);
    args_int(&a, child2);
    args_int(&a, (int64_t)n1);
    for (size_t i = 0; i < n; i++)
        args_str(&a, uids[i]);
    return run_discard(self, &a);
}

static void rl_key_push(args_t *a, const char *tenant, const char *name)
{
    args_own(a, xasprintf("a0m:{%s}:rl:%s", tenant, name));
}

/* Requests per second as milli-requests per second, rounded down so the
 * farm never asks for more than it was given. */
static void rate_push(args_t *a, double rate)
{
    int64_t mrps = (int64_t)(rate * 1000.0);
    args_int(a, mrps > 0 ? mrps : 1);
}

static void buckets_push(args_t *a, const store_bucket_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rate_push(a, b[i].rate);
        args_int(a, b[i].burst > 0 ? b[i].burst : 1);
    }
}

static void note_push(args_t *a, const store_rl_note_t *note)
{
    args_str(a, note->group ? note->group : "");
    args_int(a, note->limit);
    args_int(a, note->remaining);
    args_int(a, note->reset);
    args_int(a, note->status);
}

int store_rl_acquire(store_t *self, const char *tenant,
                     const store_bucket_t *buckets, size_t n,
                     int64_t max_wait_ms, const store_rl_note_t *note,
                     int64_t *wait_ms)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_rl_acquire", (int)n + 3);
    key_push(&a, tenant, "rlpause");
    key_push(&a, tenant, "rl:stats");
    key_push(&a, tenant, "rl:last");
    for (size_t i = 0; i < n; i++)
        rl_key_push(&a, tenant, buckets[i].name);
    args_int(&a, max_wait_ms);
    buckets_push(&a, buckets, n);
    if (note)
        note_push(&a, note);
    int64_t verdict, ms;
    if (run_pair(self, &a, &verdict, &ms) != 0)
        return -1;
    *wait_ms = ms;
    return verdict == 2 ? 1 : 0;
}

int64_t store_rl_penalize(store_t *self, const char *tenant,
                          const store_bucket_t *buckets, size_t n,
                          int64_t pause_ms, const char *reason)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_rl_penalize", (int)n + 4);
    key_push(&a, tenant, "rlpause");
    key_push(&a, tenant, "rl:stats");
    key_push(&a, tenant, "rl:pauses");
    key_push(&a, tenant, "rl:strikes");
    for (size_t i = 0; i < n; i++)
        rl_key_push(&a, tenant, buckets[i].name);
    args_int(&a, pause_ms);
    args_str(&a, reason);
    buckets_push(&a, buckets, n);
    redisReply *r = run_args(self, &a);
    args_free(&a);
    if (!r)
        return -1;
    int64_t applied = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return applied;
}

int64_t store_rl_paused_ms(store_t *self, const char *tenant)
{
    char *key = store_key(tenant, "rlpause");
    const char *argv[] = { "PTTL", key };
    size_t lens[] = { 4, strlen(key) };
    redisReply *r = store_command(self, 2, argv, lens);
    free(key);
    if (!r)
        return -1;
    int64_t ms = -1;
    if (r->type == REDIS_REPLY_INTEGER)
        ms = r->integer > 0 ? r->integer : 0;
    freeReplyObject(r);
    return ms;
}

int store_rate_acquire(store_t *self, const char *tenant, const char *group,
                       double rate, int64_t burst, int64_t max_wait_ms,
                       int64_t *wait_ms)
{
    store_bucket_t b = { group, rate, burst };
    return store_rl_acquire(self, tenant, &b, 1, max_wait_ms, NULL, wait_ms);
}

int store_rate_penalize(store_t *self, const char *tenant, const char *group,
                        double rate, int64_t burst, int64_t pause_ms)
{
    store_bucket_t b = { group, rate, burst };
    return store_rl_penalize(self, tenant, &b, 1, pause_ms, "429") < 0 ? -1 : 0;
}

int store_sem_acquire(store_t *self, const char *tenant, const char *holder,
                      int64_t capacity, int64_t lease_ms, int64_t *wait_ms)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_sem_acquire", 2);
    key_push(&a, tenant, "jobs");
    key_push(&a, tenant, "jobs:fence");
    args_int(&a, capacity);
    args_str(&a, holder);
    args_int(&a, lease_ms);
    int64_t held, ms;
    if (run_pair(self, &a, &held, &ms) != 0)
        return -1;
    *wait_ms = held == 1 ? 0 : ms;
    return held == 1 ? 1 : 0;
}

int store_sem_renew(store_t *self, const char *tenant, const char *holder,
                    int64_t lease_ms)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_sem_renew", 1);
    key_push(&a, tenant, "jobs");
    args_str(&a, holder);
    args_int(&a, lease_ms);
    redisReply *r = run_args(self, &a);
    args_free(&a);
    if (!r)
        return -1;
    int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return held ? 0 : -1;
}

int store_sem_release(store_t *self, const char *tenant, const char *holder)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_sem_release", 2);
    key_push(&a, tenant, "jobs");
    key_push(&a, tenant, "jobs:wake");
    args_str(&a, holder);
    return run_discard(self, &a);
}

int store_sem_yield(store_t *self, const char *tenant, const char *holder,
                    int64_t hold_ms)
{
    args_t a = { 0 };
    fcall_begin(&a, "a0m_sem_yield", 2);
    key_push(&a, tenant, "jobs");
    key_push(&a, tenant, "jobs:fence");
    args_str(&a, holder);
    args_int(&a, hold_ms);
    return run_discard(self, &a);
}

int store_sem_holders(store_t *self, const char *tenant, char **out, size_t max)
{
    char *key = store_key(tenant, "jobs");
    char stop[32];
    snprintf(stop, sizeof stop, "%zu", max ? max - 1 : 0);
    const char *argv[] = { "ZRANGE", key, "0", stop };
    size_t lens[] = { 6, strlen(key), 1, strlen(stop) };
    redisReply *r = max ? store_command(self, 4, argv, lens) : NULL;
    free(key);
    if (!r)
        return max ? -1 : 0;
    int n = 0;
    for (size_t i = 0;
         r->type == REDIS_REPLY_ARRAY && i < r->elements && (size_t)n < max;
         i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            out[n++] = xstrndup(r->element[i]->str, r->element[i]->len);
    }
    int ok = r->type == REDIS_REPLY_ARRAY;
    freeReplyObject(r);
    return ok ? n : -1;
}

int store_sem_reap_turn(store_t *self, const char *tenant, int64_t ms)
{
    char *key = store_key(tenant, "jobs:reap");
    redisReply *r =
        store_commandf(self, "SET %s 1 NX PX %lld", key, (long long)ms);
    free(key);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_STATUS ? 1
             : r->type == REDIS_REPLY_NIL  ? 0
                                           : -1;
    freeReplyObject(r);
    return rc;
}

int64_t store_time_ms(store_t *self)
{
    redisReply *r = store_commandf(self, "TIME");
    int64_t ms = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        ms = int_elem(r, 0) * 1000 + int_elem(r, 1) / 1000;
    if (r)
        freeReplyObject(r);
    return ms;
}

int store_sem_wait(store_t *self, const char *tenant, int64_t timeout_ms)
{
    char *key = store_key(tenant, "jobs:wake");
    /* BLPOP takes seconds (fractions since Redis 6). */
    char secs[32];
    snprintf(secs, sizeof secs, "%.3f", (double)timeout_ms / 1000.0);
    const char *argv[] = { "BLPOP", key, secs };
    size_t lens[] = { 5, strlen(key), strlen(secs) };
    redisReply *r = store_command(self, 3, argv, lens);
    free(key);
    if (!r)
        return -1;
    int woke = r->type == REDIS_REPLY_ARRAY;
    freeReplyObject(r);
    return woke ? 1 : 0;
}

char *store_hget(store_t *self, const char *key, const char *field)
{
    const char *argv[] = { "HGET", key, field };
    size_t lens[] = { 4, strlen(key), strlen(field) };
    redisReply *r = store_command(self, 3, argv, lens);
    if (!r)
        return NULL;
    char *v = NULL;
    if (r->type == REDIS_REPLY_STRING)
        v = xstrndup(r->str, r->len);
    freeReplyObject(r);
    return v;
}
