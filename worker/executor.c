/* executor: runs one batch at a time on its own thread. Owns a Redis
 * connection (batch transitions, outcomes, rate limiter, job semaphore) and
 * an Auth0 client. Every state change of the batch goes through the fenced
 * functions in store.c, so if this executor has lost its lease, its writes
 * are refused and it gives the batch up.
 *
 * Order of a batch: SUBMITTING (intent) -> job slot -> POST -> SUBMITTED
 * (job id) -> poll until the job ends -> slot released -> errors ->
 * outcomes and DONE. A POST whose outcome is unknown leaves the batch in
 * SUBMITTING, which the coordinator turns into RECONCILE; its slot stays
 * held until the batch lease runs out, as a job it may have created
 * would hold one of Auth0's. */
#include "executor.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth0.h"
#include "limiter.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "util.h"

#define M "executor"

typedef struct {
    char tenant[256];
    int64_t job_slots;
    int64_t reconcile_wait_ms;
    int64_t poll_max_ms;
    int64_t lease_ms;
} meta_t;

typedef struct {
    const executor_cfg_t *cfg;
    store_t *store;
    auth0_t *api;
    limiter_t *lim; /* the farm-wide rate limit: the client's gate */
    char meta_run[80];
    meta_t meta;
    /* the batch at hand */
    proto_msg_t *m;
    char holder[128];
    int64_t last_renew_ms;
    int resubmit; /* an earlier POST of this batch may have imported some */
} exec_t;

typedef enum {
    STEP_OK = 0,
    STEP_LOST,     /* our lease is gone: drop the batch silently */
    STEP_RETRY,    /* FAIL retryable */
    STEP_POISON,   /* FAIL poison */
    STEP_SPLIT,    /* FAIL split */
    STEP_STOPPING, /* FAIL draining */
    STEP_REFUSED,  /* our credentials are refused: hand back, stop */
} step_t;

/* ---- Redis, fail closed ---- */

/* Blocks until Redis answers (or the worker stops). No Auth0 call is made
 * while Redis is unreachable: the limiter's gate books every request in
 * Redis first. */
static int wait_redis(exec_t *x)
{
    return limiter_wait_redis(x->lim);
}

static int load_meta(exec_t *x, const char *run)
{
    if (strcmp(x->meta_run, run) == 0)
        return 0;
    char *key = store_key(run, "meta");
    redisReply *r = store_commandf(
        x->store,
        "HMGET %s tenant job_slots reconcile_wait_ms poll_max_ms lease_ms",
        key);
    free(key);
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 5 &&
             r->element[0]->type == REDIS_REPLY_STRING;
    if (ok) {
        meta_t *mt = &x->meta;
        snprintf(mt->tenant, sizeof mt->tenant, "%s", r->element[0]->str);
        mt->job_slots = atoll(r->element[1]->str ? r->element[1]->str : "2");
        mt->reconcile_wait_ms =
            atoll(r->element[2]->str ? r->element[2]->str : "600000");
        mt->poll_max_ms =
            atoll(r->element[3]->str ? r->element[3]->str : "5000");
        mt->lease_ms =
            atoll(r->element[4]->str ? r->element[4]->str : "120000");
    }
    if (r)
        freeReplyObject(r);
    limiter_cfg_t lc;
    if (ok && limiter_cfg_read(x->store, run, &lc) == 0) {
        limiter_configure(x->lim, x->meta.tenant, &lc);
        snprintf(x->meta_run, sizeof x->meta_run, "%s", run);
        return 0;
    }
    return -1;
}

/* ---- batch state ---- */

/* Moves the batch; STEP_LOST when our token is no longer current. */
static step_t move(exec_t *x, const char *from, const char *to,
                   const char **fields, size_t nfields)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        if (store_transition(x->store, x->m->run_id, x->m->batch, x->m->token,
                             from, to, x->meta.lease_ms, fields,
                             nfields) == 0) {
            x->last_renew_ms = util_mono_ms();
            return STEP_OK;
        }
        const char *e = store_error(x->store);
        if (strstr(e, "stale token") || strstr(e, "batch is")) {
            log_warn(M, "batch %lld: %s; giving it up", (long long)x->m->batch,
                     e);
            return STEP_LOST;
        }
        if (wait_redis(x) != 0)
            return STEP_STOPPING;
    }
    return STEP_RETRY;
}

/* How long a job slot stays held without news. Once Auth0 has accepted
 * the job, the job occupies one of Auth0's slots even when its worker
 * died, until someone polls it to its end (the batch's next holder, or a
 * worker waiting for a slot: reap_slots), so the lease is long. Until
 * then a dead worker's slot frees with its batch lease; should its POST
 * have created a job after all, that job shows as a job-cap 429. */
static int64_t slot_lease_ms(const exec_t *x, const char *state)
{
    int64_t r = x->meta.reconcile_wait_ms;
    if (strcmp(state, "SUBMITTED") != 0 || r < x->meta.lease_ms)
        return x->meta.lease_ms;
    return r;
}

/* Keeps our lease and our job slot alive while we wait on Auth0. */
static step_t renew(exec_t *x, const char *state)
{
    if (util_mono_ms() - x->last_renew_ms < x->meta.lease_ms / 4)
        return STEP_OK;
    if (!strcmp(state, "SUBMITTING") || !strcmp(state, "SUBMITTED"))
        store_sem_renew(x->store, x->meta.tenant, x->holder,
                        slot_lease_ms(x, state));
    return move(x, state, state, NULL, 0);
}

static char *batch_field(exec_t *x, const char *field)
{
    char name[64];
    snprintf(name, sizeof name, "batch:%lld", (long long)x->m->batch);
    char *key = store_key(x->m->run_id, name);
    char *v = store_hget(x->store, key, field);
    free(key);
    return v;
}

/* ---- import job slot ---- */

static void reap_slots(exec_t *x);

/* Waits for a slot: a holder's release wakes us (BLPOP on the wake list),
 * else the earliest lease running out; no polling of Redis meanwhile. The
 * slot is the batch's from before the POST until its job has ended. */
static step_t take_slot(exec_t *x, const char *state)
{
    for (;;) {
        if (*x->cfg->stopping)
            return STEP_STOPPING;
        int64_t wait = 0;
        int rc = store_sem_acquire(x->store, x->meta.tenant, x->holder,
                                   x->meta.job_slots, x->meta.lease_ms, &wait);
        if (rc == 1)
            return STEP_OK;
        if (rc < 0) {
            if (wait_redis(x) != 0)
                return STEP_STOPPING;
            continue;
        }
        if (store_sem_wait(x->store, x->meta.tenant,
                           wait < 5000 ? wait : 5000) == 0)
            reap_slots(x);
        step_t s = renew(x, state);
        if (s != STEP_OK)
            return s;
    }
}

static void free_slot(exec_t *x)
{
    store_sem_release(x->store, x->meta.tenant, x->holder);
}

/* Full-jitter backoff: up to base * 2^(n-1) ms, at most cap_ms. */
static int64_t backoff_ms(int n, int64_t base, int64_t cap_ms)
{
    int64_t top = base;
    for (int i = 1; i < n && top < cap_ms; i++)
        top *= 2;
    top = top < cap_ms ? top : cap_ms;
    return top / 2 + rand() % (top / 2 + 1);
}

/* ---- submit ---- */

#define POST_TRIES   4    /* POSTs that certainly created nothing */
#define JOBCAP_MS    2000 /* first stand-in hold after a job-cap 429 */
#define JOBCAP_MAXMS 30000

static const char *json_msg(const char *body)
{
    static _Thread_local char msg[160];
    json_t *o = json_loads(body ? body : "", 0, NULL);
    const char *s = json_string_value(json_object_get(o, "message"));
    snprintf(msg, sizeof msg, "%s", s ? s : "");
    json_decref(o);
    return msg;
}

/* Back from SUBMITTING to LEASED: the POST certainly created nothing. */
static step_t not_sent(exec_t *x, step_t outcome)
{
    free_slot(x);
    step_t s = move(x, "SUBMITTING", "LEASED", NULL, 0);
    return s == STEP_OK ? outcome : s;
}

/* The POST answered 202: record the job. */
static step_t accepted(exec_t *x, const auth0_resp_t *resp, const char *ext,
                       char *job_id, char *why, size_t whylen)
{
    json_t *o = json_loads(resp->body, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    snprintf(job_id, 64, "%s", id ? id : "");
    json_decref(o);
    if (!job_id[0]) {
        /* Outcome unknown: the slot stays held, the batch reconciles. */
        snprintf(why, whylen, "202 without a job id");
        return STEP_RETRY;
    }
    const char *f[] = { "job_id", job_id, "external_id", ext };
    step_t s = move(x, "SUBMITTING", "SUBMITTED", f, 4);
    if (s == STEP_OK)
        store_sem_renew(x->store, x->meta.tenant, x->holder,
                        slot_lease_ms(x, "SUBMITTED"));
    return s;
}

/* The target refuses this worker's client (bad secret, no grant, missing
 * scope): no batch can succeed here, and it is no fault of the batch. */
static int credentials_refused(auth0_err_t e, long st)
{
    return (e == AUTH0_ERR_TOKEN || e == AUTH0_OK) && (st == 401 || st == 403);
}

/* A POST that created nothing and may succeed later: unreachable, no
 * token, or a server error. */
static int transient_refusal(auth0_err_t e, long st)
{
    return (e == AUTH0_ERR_CONNECT || e == AUTH0_ERR_TOKEN ||
            (e == AUTH0_OK && st >= 500)) &&
           !credentials_refused(e, st);
}

/* What to do after a POST that did not answer 202. */
static step_t refused(exec_t *x, auth0_err_t e, long st)
{
    if (credentials_refused(e, st)) {
        *x->cfg->refused = 1;
        return not_sent(x, STEP_REFUSED);
    }
    if (e == AUTH0_ERR_CONNECT || e == AUTH0_ERR_GATE || e == AUTH0_ERR_TOKEN)
        return not_sent(x, *x->cfg->stopping ? STEP_STOPPING : STEP_RETRY);
    if (e == AUTH0_OK && st == 413)
        return not_sent(x, STEP_SPLIT);
    if (e == AUTH0_OK && (st == 401 || st == 403 || st >= 500))
        return not_sent(x, STEP_RETRY);
    if (e == AUTH0_OK && st >= 400)
        return not_sent(x, STEP_POISON);
    /* Sent, no answer: Auth0 may have created the job, which then holds
     * one of its slots, so ours stays held; the batch reconciles. */
    return STEP_RETRY;
}

/* Auth0's own job count is full (a job the farm cannot see): our slot
 * goes to a stand-in for a while, and we queue again behind the
 * semaphore. Not a rate-limit matter. */
static void yield_slot(exec_t *x, int *jobcaps)
{
    int64_t hold = backoff_ms(++*jobcaps, 2 * JOBCAP_MS, JOBCAP_MAXMS);
    log_info(M,
             "batch %lld: Auth0 has no free import slot; queueing again "
             "(slot lent for %lld ms)",
             (long long)x->m->batch, (long long)hold);
    store_sem_yield(x->store, x->meta.tenant, x->holder, hold);
}

/* Posts the import; on success fills job_id (64 bytes). */
static step_t submit(exec_t *x, char *job_id, char *why, size_t whylen)
{
    char ext[160];
    snprintf(ext, sizeof ext, "a0m:%s:b%lld:a%lld", x->m->run_id,
             (long long)x->m->batch, (long long)x->m->attempt);
    int tries = 0, jobcaps = 0;
    for (;;) {
        step_t s = take_slot(x, "SUBMITTING");
        if (s != STEP_OK)
            return s;
        auth0_resp_t resp;
        memset(&resp, 0, sizeof resp);
        auth0_err_t e = auth0_import(x->api, x->m->connection_id, ext, 0,
                                     x->m->payload, x->m->payload_len, &resp);
        limiter_note(x->lim, AUTH0_GROUP_JOBS_WRITE, &resp);
        long st = resp.status;
        snprintf(why, whylen, "%s", resp.errstr);
        if (e == AUTH0_OK && st == 202) {
            s = accepted(x, &resp, ext, job_id, why, whylen);
            auth0_resp_clear(&resp);
            return s;
        }
        int jobcap = e == AUTH0_OK && auth0_is_job_cap_429(&resp);
        if (e == AUTH0_OK && st >= 400 && st < 500 && !jobcap && st != 429)
            snprintf(why, whylen, "POST /api/v2/jobs/users-imports: %ld %s", st,
                     json_msg(resp.body));
        auth0_resp_clear(&resp);
        if (jobcap) {
            yield_slot(x, &jobcaps);
            continue;
        }
        if (e == AUTH0_OK && st == 429)
            continue; /* the pause hook paused the farm; the gate waits */
        if (transient_refusal(e, st) && ++tries < POST_TRIES &&
            !*x->cfg->stopping) {
            util_sleep_ms(backoff_ms(tries, 1000, 15000));
            continue; /* nothing was created; the slot stays ours */
        }
        return refused(x, e, st);
    }
}

/* ---- poll ---- */

#define POLL_MIN_MS 250

/* Learnt per executor: how long Auth0 takes per user, so the first poll
 * comes about when a job should be done. */
static _Thread_local double ms_per_user = 1.0;

static int64_t clamp_poll(const exec_t *x, double ms)
{
    if (ms < POLL_MIN_MS)
        return POLL_MIN_MS;
    if (ms > (double)x->meta.poll_max_ms)
        return x->meta.poll_max_ms;
    return (int64_t)ms;
}

/* Auth0's forecast for a running job: time_left_seconds (whole seconds,
 * so up to one too many) or what percentage_done and the time so far
 * imply, whichever is sooner; -1 when it gives neither. */
static double forecast_ms(json_t *job, int64_t elapsed_ms)
{
    json_int_t left =
        json_integer_value(json_object_get(job, "time_left_seconds"));
    json_int_t pct =
        json_integer_value(json_object_get(job, "percentage_done"));
    double f = left > 0 ? (double)left * 1000.0 : -1;
    if (pct > 0 && pct < 100) {
        double by_pct = (double)elapsed_ms * (double)(100 - pct) / (double)pct;
        f = f < 0 || by_pct < f ? by_pct : f;
    }
    return f;
}

/* The next wait: Auth0's forecast while the job runs, else twice the
 * last wait, so that a job that sits queued costs few requests. */
static int64_t next_poll_ms(exec_t *x, json_t *job, int64_t elapsed_ms,
                            int64_t last_ms)
{
    const char *st = json_string_value(json_object_get(job, "status"));
    double f =
        st && !strcmp(st, "processing") ? forecast_ms(job, elapsed_ms) : -1;
    if (f < 0)
        return clamp_poll(x, (double)last_ms * 2);
    double n = x->m->nusers ? (double)x->m->nusers : 1;
    ms_per_user = 0.7 * ms_per_user + 0.3 * ((double)elapsed_ms + f) / n;
    return clamp_poll(x, f);
}

/* A job found ended at the first poll may have ended long before: aim a
 * little earlier next time. */
static void learn_done(const exec_t *x, int polls, int64_t elapsed_ms)
{
    double n = x->m->nusers ? (double)x->m->nusers : 1;
    double seen = (double)elapsed_ms / n;
    if (polls == 1)
        ms_per_user = 0.85 * (seen < ms_per_user ? seen : ms_per_user);
    else
        ms_per_user = 0.7 * ms_per_user + 0.3 * seen;
}

/* Gone (404): the job was purged or never existed for Auth0. */
static step_t job_gone(exec_t *x, const char *job_id, char *why, size_t whylen)
{
    snprintf(why, whylen, "job %s no longer exists", job_id);
    free_slot(x);
    const char *f[] = { "job_id", "" };
    step_t s = move(x, "SUBMITTED", "SUBMITTING", f, 2);
    return s == STEP_OK ? STEP_RETRY : s;
}

/* One status read: the job object, NULL when unreadable; *gone on 404. */
static json_t *read_job(exec_t *x, const char *job_id, int *gone)
{
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    auth0_err_t e = auth0_get_job(x->api, job_id, &resp);
    limiter_note(x->lim, AUTH0_GROUP_JOBS_READ, &resp);
    *gone = e == AUTH0_OK && resp.status == 404;
    json_t *o = NULL;
    if (e == AUTH0_OK && resp.status == 200)
        o = json_loads(resp.body, 0, NULL);
    auth0_resp_clear(&resp);
    return o;
}

/* Polls until the job ends; every status read costs budget, so the waits
 * follow what Auth0 says of the job. *job gets the final job object. */
static step_t poll_job(exec_t *x, const char *job_id, json_t **job, char *why,
                       size_t whylen)
{
    int64_t start = util_mono_ms();
    int64_t wait = clamp_poll(x, 0.8 * ms_per_user * (double)x->m->nusers);
    for (int polls = 1;; polls++) {
        util_sleep_ms(wait);
        if (*x->cfg->stopping)
            return STEP_STOPPING; /* another worker adopts the job */
        step_t s = renew(x, "SUBMITTED");
        if (s != STEP_OK)
            return s;
        int gone = 0;
        json_t *o = read_job(x, job_id, &gone);
        if (gone)
            return job_gone(x, job_id, why, whylen);
        const char *st = json_string_value(json_object_get(o, "status"));
        int64_t elapsed = util_mono_ms() - start;
        if (st && (!strcmp(st, "completed") || !strcmp(st, "failed"))) {
            learn_done(x, polls, elapsed);
            *job = o;
            return STEP_OK;
        }
        wait = next_poll_ms(x, o, elapsed, wait);
        json_decref(o);
    }
}

/* ---- slots of dead workers ---- */

#define REAP_MAX     64
#define REAP_TURN_MS 2000

/* Whether Auth0 reports the job ended (or no longer knows it). */
static int job_ended(exec_t *x, const char *job_id)
{
    int gone = 0;
    json_t *o = read_job(x, job_id, &gone);
    const char *st = json_string_value(json_object_get(o, "status"));
    int ended =
        gone || (st && (!strcmp(st, "completed") || !strcmp(st, "failed")));
    json_decref(o);
    return ended;
}

/* A holder ("RUN:BATCH") whose batch nobody leases any more, whose job
 * has ended: nobody else would free its slot before its batch is
 * adopted, and adopting needs a worker that may be waiting for it. */
static int orphan_ended(exec_t *x, const char *holder, int64_t now)
{
    const char *colon = strrchr(holder, ':');
    if (!colon || strncmp(holder, "auth0:", 6) == 0 ||
        strcmp(holder, x->holder) == 0)
        return 0;
    char *key = xasprintf("a0m:{%.*s}:batch:%s", (int)(colon - holder), holder,
                          colon + 1);
    redisReply *r =
        store_commandf(x->store, "HMGET %s state job_id lease_until", key);
    free(key);
    int ended = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->str && r->element[1]->str && r->element[1]->str[0] &&
        strcmp(r->element[0]->str, "SUBMITTED") == 0 &&
        atoll(r->element[2]->str ? r->element[2]->str : "0") <= now)
        ended = job_ended(x, r->element[1]->str);
    if (r)
        freeReplyObject(r);
    return ended;
}

/* Waiting for a slot, every slot taken: one waiter of the farm at a time
 * looks for slots whose job ended while nobody polled it, and frees
 * them. */
static void reap_slots(exec_t *x)
{
    if (store_sem_reap_turn(x->store, x->meta.tenant, REAP_TURN_MS) != 1)
        return;
    char *h[REAP_MAX];
    int n = store_sem_holders(x->store, x->meta.tenant, h, REAP_MAX);
    int64_t now = store_time_ms(x->store);
    for (int i = 0; i < n; i++) {
        if (now > 0 && orphan_ended(x, h[i], now)) {
            log_info(M, "freeing the job slot of %s: its job has ended", h[i]);
            store_sem_release(x->store, x->meta.tenant, h[i]);
        }
        free(h[i]);
    }
}

/* ---- outcomes ---- */

/* Index of the payload user an error entry speaks of, or -1. The echoed
 * user carries the user_id we sent (without "auth0|") or at least the
 * e-mail. */
static long find_user(json_t *payload, json_t *echoed)
{
    const char *id = json_string_value(json_object_get(echoed, "user_id"));
    const char *email = json_string_value(json_object_get(echoed, "email"));
    size_t i;
    json_t *u;
    json_array_foreach(payload, i, u)
    {
        const char *uid = json_string_value(json_object_get(u, "user_id"));
        if (id && uid && strcmp(id, uid) == 0)
            return (long)i;
    }
    json_array_foreach(payload, i, u)
    {
        const char *e = json_string_value(json_object_get(u, "email"));
        if (!id && email && e && strcasecmp(email, e) == 0)
            return (long)i;
    }
    return -1;
}

/* A user Auth0 says exists: ours (same id and e-mail: an earlier attempt of
 * this batch imported it) or someone else's. */
static const char *classify_existing(exec_t *x, json_t *sent)
{
    const char *id = json_string_value(json_object_get(sent, "user_id"));
    const char *email = json_string_value(json_object_get(sent, "email"));
    if (!id || !x->resubmit)
        return "conflict";
    char *full = xasprintf("auth0|%s", id);
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    auth0_err_t e = auth0_get_user(x->api, full, &resp);
    limiter_note(x->lim, AUTH0_GROUP_USERS_READ, &resp);
    free(full);
    const char *verdict = "conflict";
    if (e == AUTH0_OK && resp.status == 200) {
        json_t *o = json_loads(resp.body, 0, NULL);
        const char *te = json_string_value(json_object_get(o, "email"));
        if (te && email && strcasecmp(te, email) == 0)
            verdict = "present";
        json_decref(o);
    }
    auth0_resp_clear(&resp);
    return verdict;
}

static char *outcome_of(exec_t *x, json_t *sent, json_t *errors)
{
    json_t *first = json_array_get(errors, 0);
    const char *code = json_string_value(json_object_get(first, "code"));
    const char *path = json_string_value(json_object_get(first, "path"));
    const char *msg = json_string_value(json_object_get(first, "message"));
    code = code ? code : "UNKNOWN";
    int exists = strcmp(code, "DUPLICATED_USER") == 0 && msg &&
                 strstr(msg, "already exist") && !strstr(msg, "provided");
    if (exists) {
        const char *v = classify_existing(x, sent);
        return strcmp(v, "present") == 0 ? xstrdup("present")
                                         : xasprintf("conflict|%s|", code);
    }
    /* Messages may echo the user's e-mail: keep the code and path only. */
    return xasprintf("failed|%s|%s", code, path ? path : "");
}

/* Reads /jobs/{id}/errors into values[i] for the users it names. */
static int read_errors(exec_t *x, const char *job_id, json_t *payload,
                       char **values)
{
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    auth0_err_t e = auth0_get_job_errors(x->api, job_id, &resp);
    limiter_note(x->lim, AUTH0_GROUP_JOBS_READ, &resp);
    if (e != AUTH0_OK || (resp.status != 200 && resp.status != 204)) {
        auth0_resp_clear(&resp);
        return -1;
    }
    json_t *arr = resp.status == 200 ? json_loads(resp.body, 0, NULL) : NULL;
    auth0_resp_clear(&resp);
    size_t i;
    json_t *entry;
    json_array_foreach(arr, i, entry)
    {
        long k = find_user(payload, json_object_get(entry, "user"));
        if (k < 0 || values[k])
            continue;
        values[k] = outcome_of(x, json_array_get(payload, (size_t)k),
                               json_object_get(entry, "errors"));
    }
    json_decref(arr);
    return 0;
}

/* Writes every user's outcome and ends the batch. */
static step_t finish(exec_t *x, const char *job_id, json_t *job,
                     int64_t *inserted, int64_t *failed)
{
    json_t *summary = json_object_get(job, "summary");
    int64_t nfailed = json_integer_value(json_object_get(summary, "failed"));
    json_t *payload = json_loadb(x->m->payload, x->m->payload_len, 0, NULL);
    size_t n = x->m->nusers;
    char **values = xcalloc(n, sizeof(char *));
    if (nfailed > 0 && read_errors(x, job_id, payload, values) != 0) {
        for (size_t i = 0; i < n; i++)
            free(values[i]);
        free(values);
        json_decref(payload);
        return STEP_RETRY; /* the job stays SUBMITTED; polled again */
    }
    const char **pairs = xcalloc(2 * n, sizeof(char *));
    *inserted = *failed = 0;
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = x->m->user_ids[i];
        pairs[2 * i + 1] = values[i] ? values[i] : "imported";
        if (values[i])
            (*failed)++;
        else
            (*inserted)++;
    }
    char *sum = json_dumps(summary ? summary : json_null(), JSON_COMPACT);
    int rc = store_complete(x->store, x->m->run_id, x->m->batch, x->m->token,
                            sum ? sum : "{}", pairs, 2 * n);
    free(sum);
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
    free(pairs);
    json_decref(payload);
    if (rc != 0) {
        log_warn(M, "batch %lld: %s", (long long)x->m->batch,
                 store_error(x->store));
        return STEP_LOST;
    }
    return STEP_OK;
}

/* ---- one batch ---- */

/* An ambiguous earlier POST may have started a job we can't see: wait
 * until any such job must have ended, then submit again. Users it
 * imported then come back as existing and are checked one by one. */
static step_t wait_orphan(exec_t *x)
{
    char *intent = batch_field(x, "intent_at");
    int64_t until = (intent ? atoll(intent) : 0) + x->meta.reconcile_wait_ms;
    free(intent);
    while (util_wall_ms() < until) {
        if (*x->cfg->stopping)
            return STEP_STOPPING;
        util_sleep_ms(1000);
        step_t s = renew(x, "RECONCILE");
        if (s != STEP_OK)
            return s;
    }
    return move(x, "RECONCILE", "LEASED", NULL, 0);
}

static step_t begin(exec_t *x)
{
    char *state = batch_field(x, "state");
    step_t s = STEP_OK;
    x->resubmit = x->m->attempt > 1;
    if (state && strcmp(state, "RECONCILE") == 0) {
        x->resubmit = 1;
        s = wait_orphan(x);
    }
    free(state);
    if (s != STEP_OK)
        return s;
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)util_wall_ms());
    /* Recorded so that whoever ends up polling this job classifies the
     * users it reports as existing the same way. */
    const char *f[] = { "intent_at", now, "resubmit", x->resubmit ? "1" : "0" };
    return move(x, "LEASED", "SUBMITTING", f, 4);
}

/* Adopting a job another worker posted: was that POST a resubmission? */
static void adopt(exec_t *x)
{
    char *flag = batch_field(x, "resubmit");
    x->resubmit = (flag && strcmp(flag, "1") == 0) || x->m->attempt > 1;
    free(flag);
}

static step_t run_batch(exec_t *x, char *why, size_t whylen, int64_t *inserted,
                        int64_t *failed)
{
    snprintf(x->holder, sizeof x->holder, "%s:%lld", x->m->run_id,
             (long long)x->m->batch);
    if (wait_redis(x) != 0)
        return STEP_STOPPING;
    if (load_meta(x, x->m->run_id) != 0) {
        snprintf(why, whylen, "run %s has no meta in Redis", x->m->run_id);
        return STEP_RETRY;
    }
    x->last_renew_ms = util_mono_ms();
    char job_id[64] = "";
    step_t s = STEP_OK;
    if (x->m->job_id && x->m->job_id[0]) {
        snprintf(job_id, sizeof job_id, "%s", x->m->job_id);
        adopt(x);
        /* Adopted: the job keeps the slot it holds, unless a waiter
         * already found it ended and freed it. */
        store_sem_renew(x->store, x->meta.tenant, x->holder,
                        slot_lease_ms(x, "SUBMITTED"));
    } else {
        s = begin(x);
        if (s == STEP_OK)
            s = submit(x, job_id, why, whylen);
    }
    if (s != STEP_OK)
        return s;
    json_t *job = NULL;
    s = poll_job(x, job_id, &job, why, whylen);
    if (s != STEP_OK)
        return s;
    free_slot(x); /* the job has ended: Auth0's slot is free again */
    const char *st = json_string_value(json_object_get(job, "status"));
    if (strcmp(st, "failed") == 0) {
        snprintf(why, whylen, "import job %s failed", job_id);
        json_decref(job);
        const char *f[] = { "job_id", "" };
        s = move(x, "SUBMITTED", "LEASED", f, 2);
        return s == STEP_OK ? STEP_RETRY : s;
    }
    s = finish(x, job_id, job, inserted, failed);
    json_decref(job);
    return s;
}

static proto_fail_t fail_kind(step_t s)
{
    switch (s) {
    case STEP_POISON:
        return PROTO_FAIL_POISON;
    case STEP_SPLIT:
        return PROTO_FAIL_SPLIT;
    case STEP_STOPPING:
    case STEP_REFUSED:
        return PROTO_FAIL_DRAINING;
    default:
        return PROTO_FAIL_RETRYABLE;
    }
}

static void handle_assign(exec_t *x, zsock_t *pipe, zmsg_t *msg)
{
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    char err[256];
    if (proto_decode(msg, &m, err, sizeof err) != 0 || m.cmd != PROTO_ASSIGN) {
        log_error(M, "bad ASSIGN: %s", err);
        proto_msg_clear(&m);
        zstr_send(pipe, "BAD");
        return;
    }
    x->m = &m;
    char why[512] = "";
    int64_t inserted = 0, failed = 0;
    step_t s = run_batch(x, why, sizeof why, &inserted, &failed);
    proto_msg_t out;
    memset(&out, 0, sizeof out);
    out.worker_id = (char *)x->cfg->worker_id;
    out.run_id = m.run_id;
    out.batch = m.batch;
    out.token = m.token;
    out.attempt = m.attempt;
    if (s == STEP_OK) {
        out.cmd = PROTO_DONE;
        out.inserted = inserted;
        out.failed = failed;
        out.total = (int64_t)m.nusers;
    } else {
        out.cmd = PROTO_FAIL;
        out.fail = fail_kind(s);
        out.reason = s == STEP_LOST ? (char *)"lease lost" : why;
    }
    zmsg_t *reply = proto_encode(&out);
    zmsg_send(&reply, pipe);
    x->m = NULL;
    proto_msg_clear(&m);
}

/* Answers an ASSIGN this executor can't run (no Redis yet, stopping):
 * the batch goes back untouched. */
static void hand_back(exec_t *x, zsock_t *pipe, zmsg_t *msg)
{
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    char err[256];
    if (proto_decode(msg, &m, err, sizeof err) != 0) {
        zstr_send(pipe, "BAD");
        return;
    }
    proto_msg_t out;
    memset(&out, 0, sizeof out);
    out.cmd = PROTO_FAIL;
    out.worker_id = (char *)x->cfg->worker_id;
    out.run_id = m.run_id;
    out.batch = m.batch;
    out.token = m.token;
    out.attempt = m.attempt;
    out.fail = PROTO_FAIL_DRAINING;
    out.reason = (char *)"worker stopping";
    zmsg_t *reply = proto_encode(&out);
    zmsg_send(&reply, pipe);
    proto_msg_clear(&m);
}

/* Connects to Redis, retrying until it answers or the worker stops. */
static int connect_store(exec_t *x)
{
    char *err = NULL;
    int said = 0;
    while (!(x->store = store_new(x->cfg->redis_url, &err))) {
        if (!said++)
            log_warn(M, "%s; retrying", err);
        free(err);
        err = NULL;
        if (*x->cfg->stopping)
            return -1;
        util_sleep_ms(500);
    }
    auth0_cfg_t ac;
    memset(&ac, 0, sizeof ac);
    ac.domain = x->cfg->target_domain;
    ac.base_url = x->cfg->target_base_url;
    ac.client_id = x->cfg->target_client_id;
    ac.client_secret = x->cfg->target_client_secret;
    x->api = auth0_new(&ac);
    x->lim = limiter_new(x->store, x->cfg->stopping);
    limiter_attach(x->lim, x->api);
    return 0;
}

static void actor(zsock_t *pipe, void *arg)
{
    exec_t x;
    memset(&x, 0, sizeof x);
    x.cfg = arg;
    /* Ready at once: the worker must not hang on a Redis that is down. */
    zsock_signal(pipe, 0);
    /* Even without Redis, stay until told to end ($TERM), so that the
     * worker's destroy finds this thread's goodbye where it expects it. */
    connect_store(&x);
    for (;;) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        char *first = zframe_strdup(zmsg_first(msg));
        int term = first && strcmp(first, "$TERM") == 0;
        free(first);
        if (!term && x.store && !*x.cfg->stopping)
            handle_assign(&x, pipe, msg);
        else if (!term)
            hand_back(&x, pipe, msg);
        zmsg_destroy(&msg);
        if (term)
            break;
    }
    auth0_destroy(&x.api);
    limiter_destroy(&x.lim);
    store_destroy(&x.store);
}

zactor_t *executor_new(const executor_cfg_t *cfg)
{
    return zactor_new(actor, (void *)cfg);
}
