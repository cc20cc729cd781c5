/* run: the coordinator of one migration run. Owns the ROUTER socket, the
 * planner, the table of live workers and of batches in flight, and the
 * run's singleton lease in Redis (a0m:{R}:coord, a0m:{R}:epoch).
 *
 * One poll loop: plan ahead of demand, lease batches to workers with
 * credit, answer worker messages, send heartbeats, declare silent workers
 * dead and take their batches back. Batch payloads live only here and in
 * the worker that holds them, never in Redis; a restarted coordinator
 * rebuilds them from the inputs, which must be unchanged (checksums in
 * a0m:{R}:meta). */
#include "run.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "auth0.h"
#include "log.h"
#include "planner.h"
#include "proto.h"
#include "store.h"
#include "util.h"

#define M "run"

typedef struct {
    char *id;
    zframe_t *routing;
    int64_t credit;
    int64_t last_seen_ms;
    char *host;
    int64_t pid;
} worker_t;

typedef struct {
    planned_t *plan;
    int64_t token;
    char state[32];
    char job_id[64];
    worker_t *worker;      /* holder, or NULL when queued */
    int64_t assigned_ms;   /* when the holder got it */
    int64_t not_before_ms; /* earliest next dispatch */
} flight_t;

typedef struct {
    const run_cfg_t *cfg;
    char run_id[80];
    store_t *store;
    auth0_t *target;
    limiter_t *limiter; /* gates the target client like any worker's */
    zsock_t *router;
    planner_t *planner;
    zhashx_t *workers;  /* worker id -> worker_t */
    zhashx_t *flights;  /* batch number (string) -> flight_t */
    zlistx_t *queue;    /* flight_t waiting for a worker */
    zhashx_t *conn_ids; /* connection name -> its json_t, {} if none */
    int planned_all;
    int64_t epoch;
    char lock_value[40];
    int64_t next_heartbeat_ms;
    int64_t next_lock_ms;
    int64_t next_progress_ms;
    int64_t next_sweep_ms;
    buf_t local_buf; /* pending local outcome pairs, NUL-separated */
    zlistx_t *local_pairs;
    pid_t *children;
    int nchildren;
    int fatal;
} run_t;

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void worker_free(void **p)
{
    worker_t *w = *p;
    if (!w)
        return;
    free(w->id);
    free(w->host);
    zframe_destroy(&w->routing);
    free(w);
    *p = NULL;
}

static void flight_free(void **p)
{
    flight_t *f = *p;
    if (!f)
        return;
    planned_destroy(&f->plan);
    free(f);
    *p = NULL;
}

/* Waits until Redis answers again. Returns -1 when asked to stop. */
static int wait_redis(run_t *r)
{
    int64_t backoff = 250;
    int warned = 0;
    while (store_ping(r->store) != 0) {
        if (stop_requested)
            return -1;
        if (!warned++)
            log_warn(M, "%s; waiting for Redis", store_error(r->store));
        util_sleep_ms(backoff);
        backoff = backoff < 4000 ? backoff * 2 : 4000;
    }
    if (warned)
        log_info(M, "Redis is back");
    return 0;
}

static char *batch_name(int64_t n)
{
    return xasprintf("%lld", (long long)n);
}

/* ---- local outcomes: buffered and written in chunks ---- */

static void flush_local(run_t *r)
{
    size_t n = zlistx_size(r->local_pairs);
    if (n == 0)
        return;
    const char **pairs = xcalloc(n, sizeof(char *));
    size_t i = 0;
    for (char *s = zlistx_first(r->local_pairs); s;
         s = zlistx_next(r->local_pairs))
        pairs[i++] = s;
    while (!r->cfg->dry_run &&
           store_set_local_outcomes(r->store, r->run_id, pairs, n) != 0) {
        log_warn(M, "writing outcomes: %s", store_error(r->store));
        if (wait_redis(r) != 0) {
            r->fatal = EXIT_CANNOT;
            break;
        }
    }
    free(pairs);
    zlistx_purge(r->local_pairs);
}

static void on_local(void *arg, const char *uid, const char *value)
{
    run_t *r = arg;
    if (r->cfg->dry_run)
        printf("%s\t%s\n", uid, value);
    zlistx_add_end(r->local_pairs, xstrdup(uid));
    zlistx_add_end(r->local_pairs, xstrdup(value));
    if (zlistx_size(r->local_pairs) >= 1000)
        flush_local(r);
}

/* The target's connection object named name, or an empty object when it
 * has none (or the lookup failed, which is fatal). */
static json_t *fetch_connection(run_t *r, const char *name)
{
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    auth0_err_t e = auth0_get_connections(r->target, name, &resp);
    json_t *arr = NULL, *found = NULL;
    if (e == AUTH0_OK && resp.status == 200)
        arr = json_loadb(resp.body, resp.body_len, 0, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, name) == 0 && !found)
            found = json_incref(c);
    }
    if (e != AUTH0_OK || resp.status != 200) {
        log_error(M, "resolving connection %s: %s", name, resp.errstr);
        r->fatal = EXIT_CANNOT;
    }
    json_decref(arr);
    auth0_resp_clear(&resp);
    return found ? found : json_object();
}

static void conn_free(void **p)
{
    json_decref(*p);
    *p = NULL;
}

/* Connections are looked up once by name; a dry run without a target
 * assumes a database connection with Auth0's default settings. */
static void on_warn(void *arg, const char *uid, const char *text)
{
    run_t *r = arg;
    if (r->cfg->dry_run)
        printf("%s\twarning|%s\n", uid, text);
    else
        log_warn(M, "%s: %s", uid, text);
}

static const char *on_resolve(void *arg, const char *name, xf_rules_t *rules,
                              int *not_database)
{
    run_t *r = arg;
    json_t *conn = zhashx_lookup(r->conn_ids, name);
    if (!conn) {
        conn = r->target ? fetch_connection(r, name)
                         : json_pack("{s:s,s:s}", "id", "con_dryrun0000000000",
                                     "strategy", "auth0");
        zhashx_insert(r->conn_ids, name, conn);
    }
    return planner_connection_facts(conn, rules, not_database);
}

/* ---- setup ---- */

/* FNV-1a of the connection map entries, so a long map fits the settings. */
static uint64_t map_digest(const run_cfg_t *cfg)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < cfg->connection_map_n; i++) {
        const char *p = cfg->connection_map[i];
        size_t n = strlen(p) + 1; /* the NUL separates entries */
        for (size_t k = 0; k < n; k++) {
            h ^= (unsigned char)p[k];
            h *= 1099511628211ULL;
        }
    }
    return h;
}

/* Derives the checksums and the settings that shape the plan; a resumed
 * run must match them exactly. */
static int plan_identity(const run_cfg_t *cfg, char *input_sum,
                         char *hashes_sum, char *settings, size_t n)
{
    if (util_file_checksum(cfg->input, input_sum) != 0) {
        log_error(M, "cannot read input %s: %s", cfg->input, strerror(errno));
        return -1;
    }
    strcpy(hashes_sum, "none");
    if (cfg->hashes && util_file_checksum(cfg->hashes, hashes_sum) != 0) {
        log_error(M, "cannot read hashes file %s: %s", cfg->hashes,
                  strerror(errno));
        return -1;
    }
    snprintf(settings, n,
             "batch_users=%zu;max_request_bytes=%zu;"
             "target_connection=%s;connection_map=%016llx;"
             "rewrite_metadata_keys=%d",
             cfg->batch_users, cfg->max_request_bytes,
             cfg->target_connection ? cfg->target_connection : "(by name)",
             (unsigned long long)map_digest(cfg), cfg->rewrite_metadata_keys);
    return 0;
}

/* Writes the run's meta on first start; on resume, refuses changed inputs
 * or plan settings. */
static int check_meta(run_t *r, const char *input_sum, const char *hashes_sum,
                      const char *settings)
{
    char *key = store_key(r->run_id, "meta");
    char *old = store_hget(r->store, key, "input_sum");
    int rc = 0;
    if (old) {
        char *oh = store_hget(r->store, key, "hashes_sum");
        char *os = store_hget(r->store, key, "settings");
        if (strcmp(old, input_sum) != 0 || !oh || strcmp(oh, hashes_sum) ||
            !os || strcmp(os, settings) != 0) {
            log_error(M,
                      "run %s was started with other inputs or settings "
                      "(input %s, now %s; settings '%s', now '%s'); use "
                      "another --run-id",
                      r->run_id, old, input_sum, os ? os : "?", settings);
            rc = -1;
        } else {
            log_info(M, "resuming run %s", r->run_id);
        }
        free(oh);
        free(os);
    }
    const run_cfg_t *c = r->cfg;
    redisReply *rep =
        rc ? NULL
           : store_commandf(r->store,
                            "HSET %s input_sum %s hashes_sum %s settings %s "
                            "tenant %s "
                            "job_slots %lld max_attempts %lld "
                            "reconcile_wait_ms %lld "
                            "poll_max_ms %lld lease_ms %lld",
                            key, input_sum, hashes_sum, settings,
                            c->target_domain, (long long)c->job_slots,
                            (long long)c->max_attempts,
                            (long long)c->reconcile_wait_ms,
                            (long long)c->poll_max_ms, (long long)c->lease_ms);
    if (rep && limiter_cfg_write(r->store, r->run_id, &c->limits) != 0) {
        freeReplyObject(rep);
        rep = NULL;
    }
    if (!old && rep) {
        freeReplyObject(rep);
        rep = store_commandf(r->store, "HSETNX %s created %lld", key,
                             (long long)util_wall_ms());
    }
    if (!rc && !rep) {
        log_error(M, "%s", store_error(r->store));
        rc = -1;
    }
    if (rep)
        freeReplyObject(rep);
    free(old);
    free(key);
    return rc;
}

#define LOCK_TTL_MS 15000

/* Takes the run's singleton lease and a new epoch. A coordinator that
 * died leaves its lease behind for at most LOCK_TTL_MS, so wait that long
 * before concluding that another one is alive. */
static int take_lock(run_t *r)
{
    char *key = store_key(r->run_id, "coord");
    zuuid_t *u = zuuid_new();
    snprintf(r->lock_value, sizeof r->lock_value, "%s", zuuid_str(u));
    zuuid_destroy(&u);
    int64_t deadline = util_mono_ms() + r->cfg->lock_wait_ms;
    int ok = 0, said = 0;
    while (!ok && !stop_requested && util_mono_ms() < deadline) {
        redisReply *rep = store_commandf(r->store, "SET %s %s NX PX %d", key,
                                         r->lock_value, LOCK_TTL_MS);
        ok = rep && rep->type == REDIS_REPLY_STATUS;
        if (rep)
            freeReplyObject(rep);
        if (!ok && !said++)
            log_warn(M,
                     "run %s has a coordinator lease; waiting up to %d s "
                     "for it to expire",
                     r->run_id, LOCK_TTL_MS / 1000);
        if (!ok)
            util_sleep_ms(500);
    }
    free(key);
    if (!ok) {
        log_error(M,
                  "another coordinator is running run %s (lease "
                  "a0m:{%s}:coord)",
                  r->run_id, r->run_id);
        r->lock_value[0] = '\0';
        return -1;
    }
    key = store_key(r->run_id, "epoch");
    redisReply *rep = store_commandf(r->store, "INCR %s", key);
    r->epoch = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 1;
    if (rep)
        freeReplyObject(rep);
    free(key);
    return 0;
}

/* Renews the singleton lease only while it is still ours (or lapsed and
 * taken by nobody, as after a long Redis outage). Redis being away is not
 * losing the lease. */
static void renew_lock(run_t *r)
{
    static const char *lua =
        "local v = redis.call('GET', KEYS[1]) "
        "if v == ARGV[1] then "
        "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
        "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
        "return 1 end return 0";
    char *key = store_key(r->run_id, "coord");
    redisReply *rep = store_commandf(r->store, "EVAL %s 1 %s %s %d", lua, key,
                                     r->lock_value, LOCK_TTL_MS);
    free(key);
    if (!rep) {
        log_warn(M, "cannot renew the coordinator lease: %s",
                 store_error(r->store));
        return;
    }
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
        log_error(M, "lost the coordinator lease of run %s; stopping",
                  r->run_id);
        r->fatal = EXIT_CANNOT;
    }
    freeReplyObject(rep);
}

static void drop_lock(run_t *r)
{
    static const char *lua = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                             "return redis.call('DEL', KEYS[1]) end return 0";
    char *key = store_key(r->run_id, "coord");
    redisReply *rep =
        store_commandf(r->store, "EVAL %s 1 %s %s", lua, key, r->lock_value);
    if (rep)
        freeReplyObject(rep);
    free(key);
}

static int spawn_workers(run_t *r, const char *endpoint)
{
    const run_cfg_t *c = r->cfg;
    r->children = xcalloc((size_t)c->local_workers + 1, sizeof(pid_t));
    for (int i = 0; i < c->local_workers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            log_error(M, "fork: %s", strerror(errno));
            return -1;
        }
        if (pid == 0) {
            execl(c->worker_bin, c->worker_bin, "--coordinator", endpoint,
                  "--redis", c->redis_url, (char *)NULL);
            fprintf(stderr, "a0migrate: cannot run %s: %s\n", c->worker_bin,
                    strerror(errno));
            _exit(127);
        }
        r->children[r->nchildren++] = pid;
    }
    log_info(M, "started %d local workers", c->local_workers);
    return 0;
}

static void stop_workers(run_t *r)
{
    for (int i = 0; i < r->nchildren; i++)
        kill(r->children[i], SIGTERM);
    int64_t deadline = util_mono_ms() + 10000;
    for (int i = 0; i < r->nchildren; i++) {
        while (waitpid(r->children[i], NULL, WNOHANG) == 0) {
            if (util_mono_ms() > deadline) {
                kill(r->children[i], SIGKILL);
                waitpid(r->children[i], NULL, 0);
                break;
            }
            util_sleep_ms(20);
        }
    }
    free(r->children);
    r->children = NULL;
    r->nchildren = 0;
}

/* ---- planning ahead ---- */

static int64_t total_credit(run_t *r)
{
    int64_t n = 0;
    for (worker_t *w = zhashx_first(r->workers); w; w = zhashx_next(r->workers))
        n += w->credit;
    return n;
}

/* Users of a batch that can never be imported end as failed. */
static void poison_users(run_t *r, const planned_t *pl, const char *why)
{
    const batch_t *b = pl->batch;
    const char **pairs = xcalloc(b->nusers * 2, sizeof(char *));
    char *value = xasprintf("failed|POISON|%s", why);
    for (size_t i = 0; i < b->nusers; i++) {
        pairs[2 * i] = b->source_ids[i];
        pairs[2 * i + 1] = value;
    }
    char *users = xasprintf("users:%lld", (long long)pl->number);
    char *ukey = store_key(r->run_id, users);
    char *skey = store_key(r->run_id, "stats");
    const char **argv = xcalloc(b->nusers * 2 + 5, sizeof(char *));
    size_t *lens = xcalloc(b->nusers * 2 + 5, sizeof(size_t));
    int argc = 0;
    argv[argc++] = "FCALL";
    argv[argc++] = "a0m_set_outcomes";
    argv[argc++] = "2";
    argv[argc++] = ukey;
    argv[argc++] = skey;
    for (size_t i = 0; i < b->nusers * 2; i++)
        argv[argc++] = pairs[i];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = store_command(r->store, argc, argv, lens);
    if (rep)
        freeReplyObject(rep);
    log_error(M,
              "batch %lld is POISON (%s): its %zu users are failed; "
              "see a0m:{%s}:batch:%lld",
              (long long)pl->number, why, b->nusers, r->run_id,
              (long long)pl->number);
    free(argv);
    free(lens);
    free(users);
    free(ukey);
    free(skey);
    free(value);
    free(pairs);
}

static void admit(run_t *r, planned_t *pl);

/* Users imported without a password hash are flagged in a0m:{R}:flags
 * (they will have to reset it). Idempotent. */
static void record_flags(run_t *r, const planned_t *pl)
{
    const batch_t *b = pl->batch;
    if (!b->flags)
        return;
    char *key = store_key(r->run_id, "flags");
    const char **argv = xcalloc(2 * b->nusers + 2, sizeof(char *));
    size_t *lens = xcalloc(2 * b->nusers + 2, sizeof(size_t));
    int argc = 0;
    argv[argc++] = "HSET";
    argv[argc++] = key;
    for (size_t i = 0; i < b->nusers; i++) {
        if (b->flags[i] & PACK_FLAG_NO_PASSWORD) {
            argv[argc++] = b->source_ids[i];
            argv[argc++] = "no_password";
        }
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep =
        argc > 2 ? store_command(r->store, argc, argv, lens) : NULL;
    if (rep)
        freeReplyObject(rep);
    free(argv);
    free(lens);
    free(key);
}

/* A batch that was split earlier is replaced by its children. */
static void admit_children(run_t *r, planned_t *pl, const char *children)
{
    long long c1 = 0, c2 = 0;
    planned_t *a = NULL, *b = NULL;
    if (sscanf(children, "%lld,%lld", &c1, &c2) != 2 ||
        planned_split(pl, c1, c2, &a, &b) != 0) {
        log_error(M,
                  "batch %lld is split but its children '%s' can't be "
                  "rebuilt",
                  (long long)pl->number, children);
        r->fatal = EXIT_CANNOT;
    } else {
        admit(r, a);
        admit(r, b);
    }
    planned_destroy(&pl);
}

/* Registers one sealed batch; queues it unless it is already finished. */
/* The dry run's line for each user placed in a batch. */
static void print_placed(const planned_t *pl)
{
    const batch_t *b = pl->batch;
    for (size_t i = 0; i < b->nusers; i++)
        printf("%s\timport|%s%s\n", b->source_ids[i], pl->connection,
               b->flags && (b->flags[i] & PACK_FLAG_NO_PASSWORD)
                   ? "|no_password"
                   : "");
}

static void admit(run_t *r, planned_t *pl)
{
    if (r->cfg->dry_run) {
        print_placed(pl);
        planned_destroy(&pl);
        return;
    }
    char state[32] = "", job_id[64] = "";
    int64_t attempt = 0;
    while (store_plan_batch(r->store, r->run_id, pl->number,
                            pl->batch->source_ids, pl->batch->nusers, state,
                            &attempt, job_id) != 0) {
        log_warn(M, "registering batch %lld: %s", (long long)pl->number,
                 store_error(r->store));
        if (wait_redis(r) != 0) {
            r->fatal = EXIT_CANNOT;
            planned_destroy(&pl);
            return;
        }
    }
    if (strcmp(state, "DONE") == 0 || strcmp(state, "POISON") == 0) {
        planned_destroy(&pl);
        return;
    }
    if (strcmp(state, "SPLIT") == 0) {
        admit_children(r, pl, job_id);
        return;
    }
    record_flags(r, pl);
    flight_t *f = xcalloc(1, sizeof *f);
    f->plan = pl;
    snprintf(f->state, sizeof f->state, "%s", state);
    snprintf(f->job_id, sizeof f->job_id, "%s", job_id);
    char *name = batch_name(pl->number);
    zhashx_insert(r->flights, name, f);
    free(name);
    zlistx_add_end(r->queue, f);
}

static void plan_ahead(run_t *r)
{
    int64_t want = 2 * total_credit(r) + 4;
    while (!r->planned_all && !r->fatal &&
           (int64_t)zlistx_size(r->queue) < want) {
        planned_t *pl = planner_next(r->planner);
        if (!pl) {
            r->planned_all = 1;
            flush_local(r);
            if (planner_error(r->planner)[0]) {
                /* An unreadable input is the operator's to fix. */
                log_error(M, "%s", planner_error(r->planner));
                r->fatal = EXIT_USAGE;
            } else if (planner_counts(r->planner)->records == 0) {
                log_warn(M, "the input %s holds no records", r->cfg->input);
            }
            break;
        }
        admit(r, pl);
    }
}

/* ---- dispatch ---- */

static int send_to(run_t *r, worker_t *w, const proto_msg_t *m)
{
    zmsg_t *msg = proto_encode(m);
    zframe_t *id = zframe_dup(w->routing);
    zmsg_prepend(msg, &id);
    int rc = zmsg_send(&msg, r->router);
    if (rc != 0) {
        zmsg_destroy(&msg);
        log_warn(M, "worker %s unreachable: %s", w->id, zmq_strerror(errno));
    }
    return rc;
}

static worker_t *pick_worker(run_t *r)
{
    worker_t *best = NULL;
    for (worker_t *w = zhashx_first(r->workers); w;
         w = zhashx_next(r->workers)) {
        if (w->credit > 0 && (!best || w->credit > best->credit))
            best = w;
    }
    return best;
}

static void give_back(run_t *r, flight_t *f, int64_t max_attempts,
                      const char *why, int64_t delay_ms, int refund);

static void assign(run_t *r, flight_t *f, worker_t *w, const store_claim_t *c)
{
    const planned_t *pl = f->plan;
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.cmd = PROTO_ASSIGN;
    m.run_id = r->run_id;
    m.batch = pl->number;
    m.token = c->token;
    m.epoch = r->epoch;
    m.lease_ms = r->cfg->lease_ms;
    m.attempt = c->attempt;
    m.connection_id = pl->connection_id;
    m.job_id = c->job_id[0] ? (char *)c->job_id : NULL;
    m.user_ids = pl->batch->source_ids;
    m.nusers = pl->batch->nusers;
    m.payload = pl->batch->users_json;
    m.payload_len = pl->batch->users_len;
    f->token = c->token;
    snprintf(f->state, sizeof f->state, "%s", c->state);
    f->worker = w;
    f->assigned_ms = util_mono_ms();
    w->credit--;
    if (send_to(r, w, &m) != 0) {
        /* Never delivered: not an attempt of the batch. */
        w->credit = 0;
        give_back(r, f, 0, "worker unreachable", 500, 1);
        return;
    }
    log_debug(M, "batch %lld -> worker %s (token %lld, %s)",
              (long long)pl->number, w->id, (long long)c->token, c->state);
}

static void forget(run_t *r, flight_t *f)
{
    char *name = batch_name(f->plan->number);
    void *handle = zlistx_find(r->queue, f);
    if (handle)
        zlistx_detach(r->queue, handle);
    zhashx_delete(r->flights, name);
    free(name);
}

static void dispatch_one(run_t *r, flight_t *f, worker_t *w, int64_t now)
{
    store_claim_t c;
    if (store_claim(r->store, r->run_id, f->plan->number, w->id,
                    r->cfg->lease_ms, r->epoch, r->cfg->max_attempts,
                    &c) != 0) {
        log_error(M, "claim: %s", store_error(r->store));
        f->not_before_ms = now + 1000;
    } else if (c.token == 0 && strcmp(c.reason, "poison") == 0) {
        poison_users(r, f->plan, "out of attempts");
        forget(r, f);
    } else if (c.token == 0 && strncmp(c.reason, "batch is DONE", 13) == 0) {
        forget(r, f);
    } else if (c.token == 0) {
        /* Still leased by a worker of an earlier coordinator: look again
         * once that lease may have run out. */
        f->not_before_ms = now + 1000;
    } else {
        zlistx_detach(r->queue, zlistx_find(r->queue, f));
        assign(r, f, w, &c);
    }
}

/* Leases queued batches to workers with credit, in plan order. */
static void dispatch(run_t *r)
{
    size_t n = zlistx_size(r->queue);
    if (n == 0)
        return;
    flight_t **items = xcalloc(n, sizeof *items);
    size_t i = 0;
    for (flight_t *f = zlistx_first(r->queue); f; f = zlistx_next(r->queue))
        items[i++] = f;
    int64_t now = util_mono_ms();
    for (i = 0; i < n && !r->fatal; i++) {
        worker_t *w = pick_worker(r);
        if (!w)
            break;
        if (items[i]->not_before_ms <= now)
            dispatch_one(r, items[i], w, now);
    }
    free(items);
}

/* ---- worker messages ---- */

static flight_t *flight_of(run_t *r, int64_t batch)
{
    char *name = batch_name(batch);
    flight_t *f = zhashx_lookup(r->flights, name);
    free(name);
    return f;
}

/* Takes a batch back from its holder and queues it again, or ends it. */
static void give_back(run_t *r, flight_t *f, int64_t max_attempts,
                      const char *why, int64_t delay_ms, int refund)
{
    char state[32] = "";
    int rc = refund ? store_refund(r->store, r->run_id, f->plan->number, why,
                                   f->token, state)
                    : store_release(r->store, r->run_id, f->plan->number,
                                    max_attempts, why, f->token, state);
    if (rc != 0) {
        log_warn(M, "releasing batch %lld: %s", (long long)f->plan->number,
                 store_error(r->store));
        /* The lease runs out by itself; claim takes it over then. */
        snprintf(state, sizeof state, "%s", "PENDING");
        delay_ms = r->cfg->lease_ms;
    }
    f->worker = NULL;
    f->token = 0;
    if (strcmp(state, "POISON") == 0) {
        poison_users(r, f->plan, why);
        forget(r, f);
        return;
    }
    if (strcmp(state, "DONE") == 0) {
        forget(r, f);
        return;
    }
    snprintf(f->state, sizeof f->state, "%s", state);
    f->not_before_ms = util_mono_ms() + delay_ms;
    zlistx_add_end(r->queue, f);
}

static void take_back(run_t *r, flight_t *f, int64_t max_attempts,
                      const char *why, int64_t delay_ms)
{
    give_back(r, f, max_attempts, why, delay_ms, 0);
}

/* A worker left: its batches go back. One that said goodbye handed them
 * back cleanly (refund); one that went silent may have died of a batch,
 * so that counts as an attempt. */
static void worker_gone(run_t *r, worker_t *w, const char *why, int refund)
{
    log_warn(M, "worker %s (%s pid %lld) %s; taking its batches back", w->id,
             w->host ? w->host : "?", (long long)w->pid, why);
    /* Collect first: take_back may delete from the table. */
    zlistx_t *back = zlistx_new();
    for (flight_t *f = zhashx_first(r->flights); f;
         f = zhashx_next(r->flights)) {
        if (f->worker == w)
            zlistx_add_end(back, f);
    }
    for (flight_t *f = zlistx_first(back); f; f = zlistx_next(back))
        give_back(r, f, r->cfg->max_attempts, why, 0, refund);
    zlistx_destroy(&back);
    zhashx_delete(r->workers, w->id);
}

static int holds(const proto_msg_t *m, int64_t batch)
{
    for (size_t i = 0; i < m->nheld; i++) {
        if (m->held[i] == batch)
            return 1;
    }
    return 0;
}

/* A worker announcing itself again no longer holds what it does not list
 * (its DONE or FAIL may have been lost): look at Redis and go on from
 * there. */
static void recheck_unheld(run_t *r, worker_t *w, const proto_msg_t *m)
{
    int64_t now = util_mono_ms();
    zlistx_t *back = zlistx_new();
    for (flight_t *f = zhashx_first(r->flights); f;
         f = zhashx_next(r->flights)) {
        /* An ASSIGN may still be on its way: leave recent ones be. */
        if (f->worker == w && !holds(m, f->plan->number) &&
            now - f->assigned_ms > 2 * r->cfg->heartbeat_ms)
            zlistx_add_end(back, f);
    }
    for (flight_t *f = zlistx_first(back); f; f = zlistx_next(back))
        give_back(r, f, 0, "not held by its worker", 0, 1);
    zlistx_destroy(&back);
}

static void on_ready(run_t *r, zframe_t *routing, proto_msg_t *m)
{
    worker_t *w = zhashx_lookup(r->workers, m->worker_id);
    if (!w) {
        w = xcalloc(1, sizeof *w);
        w->id = xstrdup(m->worker_id);
        zhashx_insert(r->workers, w->id, w);
        log_info(M, "worker %s joined from %s pid %lld (credit %lld)", w->id,
                 m->host ? m->host : "?", (long long)m->pid,
                 (long long)m->credit);
    }
    zframe_destroy(&w->routing);
    w->routing = zframe_dup(routing);
    free(w->host);
    w->host = m->host ? xstrdup(m->host) : NULL;
    w->pid = m->pid;
    w->credit = m->credit;
    w->last_seen_ms = util_mono_ms();
    for (size_t i = 0; i < m->nheld; i++) {
        flight_t *f = flight_of(r, m->held[i]);
        if (f && !f->worker) {
            f->worker = w;
            f->assigned_ms = util_mono_ms();
        }
    }
    recheck_unheld(r, w, m);
}

static void on_done(run_t *r, worker_t *w, proto_msg_t *m)
{
    flight_t *f = flight_of(r, m->batch);
    w->credit++;
    if (!f)
        return;
    if (f->token && f->token != m->token) {
        log_warn(M, "stale DONE for batch %lld from %s ignored",
                 (long long)m->batch, w->id);
        return;
    }
    log_info(M, "batch %lld done by %s: %lld inserted, %lld failed of %lld",
             (long long)m->batch, w->id, (long long)m->inserted,
             (long long)m->failed, (long long)m->total);
    forget(r, f);
}

/* Auth0 refused the request as too large: two halves replace it. */
static void split_flight(run_t *r, flight_t *f, const char *why)
{
    const planned_t *pl = f->plan;
    int64_t first = 0;
    planned_t *a = NULL, *b = NULL;
    if (pl->batch->nusers < 2) {
        take_back(r, f, 0, why, 0); /* one user too large: POISON */
        return;
    }
    if (store_next_batch_numbers(r->store, r->run_id, &first) != 0 ||
        planned_split(pl, first, first + 1, &a, &b) != 0 ||
        store_split(r->store, r->run_id, pl->number, first, first + 1,
                    planned_split_point(pl), pl->batch->source_ids,
                    pl->batch->nusers) != 0) {
        log_warn(M, "splitting batch %lld: %s", (long long)pl->number,
                 store_error(r->store));
        planned_destroy(&a);
        planned_destroy(&b);
        take_back(r, f, r->cfg->max_attempts, why, 1000);
        return;
    }
    log_info(M,
             "batch %lld was too large for Auth0; split into %lld (%zu "
             "users) and %lld (%zu users)",
             (long long)pl->number, (long long)first, a->batch->nusers,
             (long long)(first + 1), b->batch->nusers);
    forget(r, f);
    admit(r, a);
    admit(r, b);
}

static void on_fail(run_t *r, worker_t *w, proto_msg_t *m)
{
    flight_t *f = flight_of(r, m->batch);
    w->credit++;
    if (!f || (f->token && f->token != m->token))
        return;
    const char *why = m->reason ? m->reason : "failed";
    log_warn(M, "batch %lld failed on %s: %s", (long long)m->batch, w->id, why);
    switch (m->fail) {
    case PROTO_FAIL_POISON:
        take_back(r, f, 0, why, 0);
        break;
    case PROTO_FAIL_SPLIT:
        split_flight(r, f, why);
        break;
    case PROTO_FAIL_DRAINING:
        /* Handed back untouched: not an attempt of the batch. */
        give_back(r, f, 0, why, 0, 1);
        break;
    case PROTO_FAIL_RETRYABLE:
    default: {
        int64_t delay = 1000LL << (m->attempt < 5 ? m->attempt : 5);
        take_back(r, f, r->cfg->max_attempts, why, delay);
        break;
    }
    }
}

static void ask_reconnect(run_t *r, zframe_t *routing)
{
    proto_msg_t rc;
    memset(&rc, 0, sizeof rc);
    rc.cmd = PROTO_RECONNECT;
    zmsg_t *out = proto_encode(&rc);
    zframe_t *id = zframe_dup(routing);
    zmsg_prepend(out, &id);
    if (zmsg_send(&out, r->router) != 0)
        zmsg_destroy(&out);
}

static void dispatch_message(run_t *r, zframe_t *routing, proto_msg_t *m)
{
    if (m->cmd == PROTO_READY) {
        on_ready(r, routing, m);
        return;
    }
    worker_t *w = m->worker_id ? zhashx_lookup(r->workers, m->worker_id) : NULL;
    if (!w) {
        /* A worker we don't know (we restarted): it must introduce itself
         * again. */
        ask_reconnect(r, routing);
        return;
    }
    w->last_seen_ms = util_mono_ms();
    /* A worker that reconnected speaks from a new socket: answer there. */
    if (!zframe_eq(w->routing, routing)) {
        zframe_destroy(&w->routing);
        w->routing = zframe_dup(routing);
    }
    if (m->cmd == PROTO_DONE)
        on_done(r, w, m);
    else if (m->cmd == PROTO_FAIL)
        on_fail(r, w, m);
    else if (m->cmd == PROTO_BYE)
        worker_gone(r, w, "said goodbye", 1);
}

static void handle_router(run_t *r)
{
    zmsg_t *msg = zmsg_recv(r->router);
    if (!msg)
        return;
    zframe_t *routing = zmsg_pop(msg);
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    char err[256] = "empty message";
    if (routing && proto_decode(msg, &m, err, sizeof err) == 0)
        dispatch_message(r, routing, &m);
    else
        log_warn(M, "dropped a bad message: %s", err);
    proto_msg_clear(&m);
    zframe_destroy(&routing);
    zmsg_destroy(&msg);
}

/* ---- timers ---- */

static void heartbeat(run_t *r)
{
    int64_t now = util_mono_ms();
    int64_t limit = r->cfg->heartbeat_ms * r->cfg->liveness;
    zlistx_t *dead = zlistx_new();
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.cmd = PROTO_HEARTBEAT;
    m.epoch = r->epoch;
    m.run_id = r->run_id;
    for (worker_t *w = zhashx_first(r->workers); w;
         w = zhashx_next(r->workers)) {
        if (now - w->last_seen_ms > limit)
            zlistx_add_end(dead, w);
        else
            send_to(r, w, &m);
    }
    for (worker_t *w = zlistx_first(dead); w; w = zlistx_next(dead))
        worker_gone(r, w, "went silent", 0);
    zlistx_destroy(&dead);
}

static void progress(run_t *r)
{
    const planner_counts_t *c = planner_counts(r->planner);
    log_info(M,
             "progress: %zu records read, %zu batches planned, %zu in "
             "flight, %zu queued, %zu workers",
             c->records, c->batches, zhashx_size(r->flights),
             zlistx_size(r->queue), zhashx_size(r->workers));
}

/* Batches held longer than a lease are looked up in Redis: a worker's
 * DONE can be lost on the way, and a stuck worker's lease runs out. */
static void sweep(run_t *r)
{
    int64_t now = util_mono_ms();
    zlistx_t *done = zlistx_new();
    zlistx_t *back = zlistx_new();
    for (flight_t *f = zhashx_first(r->flights); f;
         f = zhashx_next(r->flights)) {
        if (!f->worker || now - f->assigned_ms < r->cfg->lease_ms)
            continue;
        char name[64];
        snprintf(name, sizeof name, "batch:%lld", (long long)f->plan->number);
        char *key = store_key(r->run_id, name);
        redisReply *rep = store_commandf(r->store, "HMGET %s state token", key);
        free(key);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            !rep->element[0]->str) {
            if (rep)
                freeReplyObject(rep);
            continue;
        }
        const char *st = rep->element[0]->str;
        if (!strcmp(st, "DONE") || !strcmp(st, "POISON") ||
            !strcmp(st, "SPLIT"))
            zlistx_add_end(done, f);
        else if (atoll(rep->element[1]->str ? rep->element[1]->str : "0") !=
                 f->token)
            zlistx_add_end(back, f);
        else
            f->assigned_ms = now; /* still its holder's; look again later */
        freeReplyObject(rep);
    }
    for (flight_t *f = zlistx_first(done); f; f = zlistx_next(done)) {
        if (f->worker)
            f->worker->credit++;
        forget(r, f);
    }
    for (flight_t *f = zlistx_first(back); f; f = zlistx_next(back))
        take_back(r, f, r->cfg->max_attempts, "lease lost", 0);
    zlistx_destroy(&done);
    zlistx_destroy(&back);
}

static void tick(run_t *r)
{
    int64_t now = util_mono_ms();
    if (now >= r->next_heartbeat_ms) {
        heartbeat(r);
        r->next_heartbeat_ms = now + r->cfg->heartbeat_ms;
    }
    if (now >= r->next_lock_ms) {
        renew_lock(r);
        r->next_lock_ms = now + 5000;
    }
    if (now >= r->next_sweep_ms) {
        sweep(r);
        r->next_sweep_ms = now + 5000;
    }
    if (now >= r->next_progress_ms) {
        progress(r);
        r->next_progress_ms = now + 5000;
    }
}

static void loop(run_t *r)
{
    zpoller_t *poller = zpoller_new(r->router, NULL);
    while (!r->fatal && !stop_requested) {
        plan_ahead(r);
        dispatch(r);
        if (r->planned_all && zhashx_size(r->flights) == 0)
            break;
        void *which = zpoller_wait(poller, 100);
        if (which == r->router) {
            /* Drain what is ready before planning again. */
            for (int i = 0; i < 10000 && (zsock_events(r->router) & ZMQ_POLLIN);
                 i++)
                handle_router(r);
        }
        tick(r);
    }
    zpoller_destroy(&poller);
}

/* ---- summary ---- */

static const char *outcome_names[] = {
    "imported", "updated",   "present",  "conflict", "failed",
    "invalid",  "duplicate", "deferred", "pending",  NULL,
};

/* Reads a0m:{R}:stats into a JSON object of counters. */
static json_t *read_stats(store_t *store, const char *run_id)
{
    char *key = store_key(run_id, "stats");
    redisReply *rep = store_commandf(store, "HGETALL %s", key);
    free(key);
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return NULL;
    }
    json_t *o = json_object();
    for (size_t i = 0; i + 1 < rep->elements; i += 2)
        json_object_set_new(
            o, rep->element[i]->str,
            json_integer(strtoll(rep->element[i + 1]->str, NULL, 10)));
    freeReplyObject(rep);
    key = store_key(run_id, "flags");
    rep = store_commandf(store, "HLEN %s", key);
    free(key);
    if (rep && rep->type == REDIS_REPLY_INTEGER && json_object_size(o))
        json_object_set_new(o, "no_password", json_integer(rep->integer));
    if (rep)
        freeReplyObject(rep);
    return o;
}

static int64_t stat_of(json_t *o, const char *name)
{
    return json_integer_value(json_object_get(o, name));
}

/* Prints the per-outcome table; returns the exit status it implies. */
static int print_summary(json_t *o, const char *run_id, int json)
{
    if (json) {
        json_object_set_new(o, "run_id", json_string(run_id));
        char *s = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else {
        printf("run %s\n", run_id);
        printf("  %-10s %10lld\n", "total", (long long)stat_of(o, "total"));
        for (int i = 0; outcome_names[i]; i++)
            printf("  %-10s %10lld\n", outcome_names[i],
                   (long long)stat_of(o, outcome_names[i]));
        printf("  %-10s %10lld (users sent without a "
               "password hash)\n",
               "no_password", (long long)stat_of(o, "no_password"));
        printf("  %-10s %10lld (%lld done, %lld poison)\n", "batches",
               (long long)stat_of(o, "batches"),
               (long long)stat_of(o, "batches_done"),
               (long long)stat_of(o, "batches_poison"));
    }
    if (stat_of(o, "failed") > 0 || stat_of(o, "conflict") > 0)
        return EXIT_SOME_FAIL;
    return stat_of(o, "pending") > 0 ? EXIT_SOME_FAIL : EXIT_ALL_DONE;
}

int run_status(const char *redis_url, const char *run_id, int json)
{
    char *err = NULL;
    store_t *store = store_new(redis_url, &err);
    if (!store) {
        fprintf(stderr, "a0migrate: %s\n", err);
        free(err);
        return EXIT_CANNOT;
    }
    json_t *o = read_stats(store, run_id);
    int rc = EXIT_CANNOT;
    if (!o)
        fprintf(stderr, "a0migrate: %s\n", store_error(store));
    else if (json_object_size(o) == 0)
        fprintf(stderr, "a0migrate: no run named %s\n", run_id);
    else
        rc = print_summary(o, run_id, json);
    json_decref(o);
    store_destroy(&store);
    return rc;
}

static void print_dry_run(run_t *r)
{
    const planner_counts_t *c = planner_counts(r->planner);
    printf("dry run of %s\n", r->cfg->input);
    printf("  %-24s %10zu\n", "records", c->records);
    printf("  %-24s %10zu\n", "to import", c->import);
    printf("  %-24s %10zu\n", "  with a password hash", c->with_password);
    printf("  %-24s %10zu\n", "  without (no_password)", c->without_password);
    printf("  %-24s %10zu\n", "invalid", c->invalid);
    printf("  %-24s %10zu\n", "duplicate", c->duplicate);
    printf("  %-24s %10zu\n", "deferred", c->deferred);
    printf("  %-24s %10zu\n", "warnings", c->warnings);
    if (r->cfg->rewrite_metadata_keys)
        printf("  %-24s %10zu\n", "metadata keys rewritten", c->rewritten);
    printf("  %-24s %10zu\n", "batches", c->batches);
    if (r->cfg->hashes) {
        printf("  %-24s %10zu\n", "hash rows", planner_hashes_rows(r->planner));
        printf("  %-24s %10zu\n", "  matching no user",
               planner_hashes_unused(r->planner));
    }
}

/* With --expect-hashes, database users that would be imported without a
 * hash can never get one later: refuse to go on. */
static int hashes_missing(const run_cfg_t *cfg, size_t without)
{
    if (!cfg->expect_hashes || without == 0)
        return 0;
    log_error(M,
              "%zu database users have no password hash but --expect-hashes "
              "was given: a hash can only be set on a user's first import, "
              "so nothing is sent (see the hash file, or drop the flag to "
              "import them with no_password)",
              without);
    return -1;
}

/* ---- the run ---- */

static int open_target(run_t *r)
{
    const run_cfg_t *c = r->cfg;
    if (!c->target_domain || !c->target_client_id || !c->target_client_secret) {
        if (c->dry_run)
            return 0;
        log_error(M, "target tenant not configured: set A0_TARGET_DOMAIN, "
                     "A0_TARGET_CLIENT_ID and A0_TARGET_CLIENT_SECRET (or "
                     "A0_TARGET_CLIENT_SECRET_FILE)");
        return -1;
    }
    auth0_cfg_t ac;
    memset(&ac, 0, sizeof ac);
    ac.domain = c->target_domain;
    ac.base_url = c->target_base_url;
    ac.client_id = c->target_client_id;
    ac.client_secret = c->target_client_secret;
    r->target = auth0_new(&ac);
    return r->target ? 0 : -1;
}

static void planner_config(run_t *r, planner_cfg_t *pc)
{
    const run_cfg_t *c = r->cfg;
    memset(pc, 0, sizeof *pc);
    pc->input = c->input;
    pc->hashes = c->hashes;
    pc->target_connection = c->target_connection;
    pc->connection_map = c->connection_map;
    pc->connection_map_n = c->connection_map_n;
    pc->rewrite_metadata_keys = c->rewrite_metadata_keys;
    pc->warn = on_warn;
    /* The users file gets what the request bound leaves after the other
     * parts, for the longest external id we send. */
    size_t overhead = auth0_import_overhead("con_0000000000000000", 120);
    pc->max_bytes = c->max_request_bytes - overhead;
    pc->max_users = c->batch_users;
    pc->resolve = on_resolve;
    pc->local = on_local;
    pc->arg = r;
}

static int open_planner(run_t *r)
{
    planner_cfg_t pc;
    planner_config(r, &pc);
    if (pc.rewrite_metadata_keys)
        log_info(M, "metadata keys: '.' and '$' become '_', reserved "
                    "app_metadata keys get the prefix src_ "
                    "(--rewrite-metadata-keys)");
    char *err = NULL;
    r->planner = planner_new(&pc, &err);
    if (!r->planner) {
        log_error(M, "%s", err ? err : "cannot open the input");
        free(err);
        return -1;
    }
    return 0;
}

/* --expect-hashes on a real run: one pass over the input before anything
 * is written or sent. */
static int survey_hashes(run_t *r)
{
    planner_cfg_t pc;
    planner_config(r, &pc);
    planner_counts_t c;
    size_t rows = 0, unused = 0;
    char *err = NULL;
    if (planner_survey(&pc, &c, &rows, &unused, &err) != 0) {
        log_error(M, "%s", err);
        free(err);
        return -1;
    }
    log_info(M,
             "password hashes: %zu users with one, %zu without, %zu of %zu "
             "hash rows matching no user",
             c.with_password, c.without_password, unused, rows);
    return hashes_missing(r->cfg, c.without_password);
}

static int open_store(run_t *r, const char *input_sum, const char *hashes_sum,
                      const char *settings)
{
    char *err = NULL;
    r->store = store_new(r->cfg->redis_url, &err);
    if (!r->store) {
        log_error(M, "%s", err);
        free(err);
        return -1;
    }
    if (store_load_functions(r->store) != 0) {
        log_error(M,
                  "loading the Redis functions: %s (Redis 7 or later "
                  "is needed)",
                  store_error(r->store));
        return -1;
    }
    if (take_lock(r) != 0)
        return -1;
    /* Changed inputs or settings are the operator's error, not Redis's. */
    if (check_meta(r, input_sum, hashes_sum, settings) != 0)
        return -2;
    char limits[512];
    limiter_cfg_describe(&r->cfg->limits, limits, sizeof limits);
    log_info(M, "rate limits: %s", limits);
    /* Connection look-ups draw from the farm's budget too. */
    r->limiter = limiter_new(r->store, &stop_requested);
    limiter_configure(r->limiter, r->cfg->target_domain, &r->cfg->limits);
    if (r->target)
        limiter_attach(r->limiter, r->target);
    return 0;
}

static int open_router(run_t *r, char *endpoint, size_t n)
{
    r->router = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(r->router, 1);
    zsock_set_maxmsgsize(r->router, PROTO_MAX_BODY + 65536);
    zsock_set_sndhwm(r->router, 1000);
    int port = zsock_bind(r->router, "%s", r->cfg->bind);
    if (port < 0) {
        log_error(M, "cannot bind %s: %s", r->cfg->bind, zmq_strerror(errno));
        return -1;
    }
    snprintf(endpoint, n, "%s", r->cfg->bind);
    char *star = strrchr(endpoint, '*');
    if (star && port > 0)
        snprintf(star, n - (size_t)(star - endpoint), "%d", port);
    log_info(M, "listening for workers on %s", endpoint);
    return 0;
}

static void run_free(run_t *r)
{
    if (r->children)
        stop_workers(r);
    if (r->store && r->lock_value[0])
        drop_lock(r);
    planner_destroy(&r->planner);
    zlistx_destroy(&r->queue);
    zhashx_destroy(&r->flights);
    zhashx_destroy(&r->workers);
    zhashx_destroy(&r->conn_ids);
    zlistx_destroy(&r->local_pairs);
    zsock_destroy(&r->router);
    auth0_destroy(&r->target);
    limiter_destroy(&r->limiter);
    store_destroy(&r->store);
}

static void run_init(run_t *r, const run_cfg_t *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->workers = zhashx_new();
    zhashx_set_destructor(r->workers, worker_free);
    r->flights = zhashx_new();
    zhashx_set_destructor(r->flights, flight_free);
    r->queue = zlistx_new();
    r->conn_ids = zhashx_new();
    zhashx_set_destructor(r->conn_ids, conn_free);
    r->local_pairs = zlistx_new();
    zlistx_set_destructor(r->local_pairs, (zlistx_destructor_fn *)zstr_free);
}

static int finish(run_t *r)
{
    if (r->cfg->dry_run) {
        print_dry_run(r);
        if (hashes_missing(r->cfg,
                           planner_counts(r->planner)->without_password))
            return EXIT_USAGE;
        return EXIT_ALL_DONE;
    }
    if (stop_requested) {
        log_warn(M, "stopped on request; resume with --run-id %s", r->run_id);
    }
    json_t *o = read_stats(r->store, r->run_id);
    if (!o) {
        log_error(M, "%s", store_error(r->store));
        return EXIT_CANNOT;
    }
    int rc = print_summary(o, r->run_id, 0);
    json_decref(o);
    if (stop_requested && rc == EXIT_ALL_DONE)
        rc = EXIT_SOME_FAIL;
    return rc;
}

int run_main(const run_cfg_t *cfg)
{
    char input_sum[17], hashes_sum[17], settings[512], endpoint[256];
    if (plan_identity(cfg, input_sum, hashes_sum, settings, sizeof settings) !=
        0)
        return EXIT_USAGE;
    run_t r;
    run_init(&r, cfg);
    if (cfg->run_id)
        snprintf(r.run_id, sizeof r.run_id, "%s", cfg->run_id);
    else
        snprintf(r.run_id, sizeof r.run_id, "run-%s", input_sum);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    zsys_handler_set(NULL);

    int rc = EXIT_CANNOT;
    int opened = 0;
    if (open_target(&r) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (!cfg->dry_run && cfg->expect_hashes && survey_hashes(&r) != 0) {
        rc = r.fatal ? r.fatal : EXIT_USAGE;
        goto out;
    }
    if (!cfg->dry_run)
        opened = open_store(&r, input_sum, hashes_sum, settings);
    if (opened != 0) {
        rc = opened == -2 ? EXIT_USAGE : EXIT_CANNOT;
        goto out;
    }
    if (open_planner(&r) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (cfg->dry_run) {
        while (!r.planned_all && !r.fatal)
            plan_ahead(&r);
    } else {
        log_info(M, "run %s (epoch %lld)", r.run_id, (long long)r.epoch);
        if (open_router(&r, endpoint, sizeof endpoint) != 0)
            goto out;
        if (cfg->local_workers > 0 && spawn_workers(&r, endpoint) != 0)
            goto out;
        loop(&r);
    }
    rc = r.fatal ? r.fatal : finish(&r);
out:
    run_free(&r);
    return rc;
}
