/* a0migrate-worker: connects a DEALER socket to the coordinator, keeps
 * heartbeats going both ways, and hands each ASSIGN to an idle executor
 * thread. Owns the socket, the executors and the local queue of batches
 * received while every executor was busy. SIGTERM drains: no new batches,
 * queued ones are handed back, running ones finish or are handed back,
 * then BYE. */
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor.h"
#include "log.h"
#include "proto.h"
#include "util.h"

#define M         "worker"
#define MAX_SLOTS 32

typedef struct {
    zactor_t *actor;
    int64_t batch; /* 0 when idle */
    int64_t token;
} slot_t;

typedef struct {
    const char *endpoint;
    char worker_id[64];
    char host[256];
    int64_t heartbeat_ms;
    int64_t liveness;
    int64_t drain_ms;
    zsock_t *dealer;
    slot_t slots[MAX_SLOTS];
    int nslots;
    zlistx_t *backlog; /* zmsg_t ASSIGNs waiting for a slot */
    int64_t last_heard_ms;
    int generation; /* bumped at every new dealer socket */
    int64_t next_beat_ms;
    executor_cfg_t ecfg;
} worker_t;

static volatile int stopping = 0;
static volatile int refused = 0; /* the target refuses our credentials */

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int64_t free_slots(worker_t *w)
{
    int64_t n = 0;
    for (int i = 0; i < w->nslots; i++)
        n += w->slots[i].batch == 0;
    return n - (int64_t)zlistx_size(w->backlog);
}

static void send_msg(worker_t *w, proto_msg_t *m)
{
    char *saved = m->worker_id;
    m->worker_id = w->worker_id;
    zmsg_t *msg = proto_encode(m);
    m->worker_id = saved;
    if (zmsg_send(&msg, w->dealer) != 0)
        zmsg_destroy(&msg);
}

static void send_ready(worker_t *w)
{
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.cmd = PROTO_READY;
    m.host = w->host;
    m.pid = getpid();
    m.version = (char *)A0_VERSION;
    m.credit = stopping ? 0 : free_slots(w);
    int64_t held[MAX_SLOTS];
    for (int i = 0; i < w->nslots; i++) {
        if (w->slots[i].batch)
            held[m.nheld++] = w->slots[i].batch;
    }
    m.held = held;
    send_msg(w, &m);
}

static void connect_dealer(worker_t *w)
{
    zsock_destroy(&w->dealer);
    w->dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(w->dealer, 1000);
    /* Messages wait in the socket until the coordinator is connected;
     * should that queue fill up, drop rather than block: everything that
     * matters is in Redis, and READY tells a coordinator what this worker
     * holds. */
    zsock_set_sndtimeo(w->dealer, 200);
    zsock_set_reconnect_ivl_max(w->dealer, 5000);
    zsock_set_maxmsgsize(w->dealer, PROTO_MAX_BODY + 65536);
    zsock_connect(w->dealer, "%s", w->endpoint);
    w->generation++;
    w->last_heard_ms = util_mono_ms();
    send_ready(w);
}

/* Gives an ASSIGN to an idle executor, or keeps it for later. */
static void start_or_queue(worker_t *w, zmsg_t *msg, int64_t batch,
                           int64_t token)
{
    for (int i = 0; i < w->nslots; i++) {
        if (w->slots[i].batch == 0) {
            w->slots[i].batch = batch;
            w->slots[i].token = token;
            zmsg_send(&msg, w->slots[i].actor);
            return;
        }
    }
    zlistx_add_end(w->backlog, msg);
}

/* Hands a batch back without touching it. */
static void hand_back(worker_t *w, const proto_msg_t *a)
{
    proto_msg_t f;
    memset(&f, 0, sizeof f);
    f.cmd = PROTO_FAIL;
    f.run_id = a->run_id;
    f.batch = a->batch;
    f.token = a->token;
    f.attempt = a->attempt;
    f.fail = PROTO_FAIL_DRAINING;
    f.reason = (char *)"worker draining";
    send_msg(w, &f);
}

static void handle_dealer(worker_t *w)
{
    zmsg_t *msg = zmsg_recv(w->dealer);
    if (!msg)
        return;
    w->last_heard_ms = util_mono_ms();
    zmsg_t *copy = zmsg_dup(msg);
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    char err[256];
    if (proto_decode(msg, &m, err, sizeof err) != 0) {
        log_warn(M, "dropped a bad message from the coordinator: %s", err);
    } else if (m.cmd == PROTO_ASSIGN && stopping) {
        hand_back(w, &m);
    } else if (m.cmd == PROTO_ASSIGN) {
        start_or_queue(w, copy, m.batch, m.token);
        copy = NULL;
    } else if (m.cmd == PROTO_RECONNECT) {
        send_ready(w);
    } else if (m.cmd == PROTO_DRAIN) {
        stopping = 1;
    }
    proto_msg_clear(&m);
    zmsg_destroy(&copy);
    zmsg_destroy(&msg);
}

/* An executor finished a batch: pass its DONE/FAIL on, start the next. */
static void handle_slot(worker_t *w, slot_t *s)
{
    zmsg_t *msg = zmsg_recv(s->actor);
    if (!msg)
        return;
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    char err[256];
    if (proto_decode(msg, &m, err, sizeof err) == 0)
        send_msg(w, &m);
    proto_msg_clear(&m);
    zmsg_destroy(&msg);
    s->batch = 0;
    zmsg_t *next = zlistx_detach(w->backlog, NULL);
    if (next) {
        proto_msg_t a;
        memset(&a, 0, sizeof a);
        zmsg_t *peek = zmsg_dup(next);
        if (proto_decode(peek, &a, err, sizeof err) == 0)
            start_or_queue(w, next, a.batch, a.token);
        else
            zmsg_destroy(&next);
        proto_msg_clear(&a);
        zmsg_destroy(&peek);
    }
}

static void heartbeat(worker_t *w)
{
    int64_t now = util_mono_ms();
    if (now < w->next_beat_ms)
        return;
    w->next_beat_ms = now + w->heartbeat_ms;
    if (now - w->last_heard_ms > w->heartbeat_ms * w->liveness) {
        log_warn(M, "coordinator silent for %lld ms; reconnecting",
                 (long long)(now - w->last_heard_ms));
        connect_dealer(w);
        return;
    }
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.cmd = PROTO_HEARTBEAT;
    m.credit = stopping ? 0 : free_slots(w);
    send_msg(w, &m);
}

static int busy(worker_t *w)
{
    for (int i = 0; i < w->nslots; i++) {
        if (w->slots[i].batch)
            return 1;
    }
    return 0;
}

/* Hands back everything queued (used when draining). */
static void drain_backlog(worker_t *w)
{
    zmsg_t *msg;
    while ((msg = zlistx_detach(w->backlog, NULL))) {
        proto_msg_t a;
        memset(&a, 0, sizeof a);
        char err[256];
        if (proto_decode(msg, &a, err, sizeof err) == 0)
            hand_back(w, &a);
        proto_msg_clear(&a);
        zmsg_destroy(&msg);
    }
}

static zpoller_t *make_poller(worker_t *w)
{
    zpoller_t *p = zpoller_new(w->dealer, NULL);
    for (int i = 0; i < w->nslots; i++)
        zpoller_add(p, w->slots[i].actor);
    return p;
}

static void loop(worker_t *w)
{
    int polled = w->generation;
    zpoller_t *poller = make_poller(w);
    int64_t drain_deadline = 0;
    for (;;) {
        if (refused && !stopping) {
            log_error(M, "the target refuses this worker's client id, "
                         "secret or scopes; handing batches back and "
                         "stopping");
            stopping = 1;
        }
        if (stopping && !drain_deadline) {
            log_info(M, "draining");
            drain_deadline = util_mono_ms() + w->drain_ms;
            drain_backlog(w);
        }
        if (stopping && (!busy(w) || util_mono_ms() > drain_deadline))
            break;
        void *which = zpoller_wait(poller, 100);
        if (which == w->dealer) {
            handle_dealer(w);
        } else if (which) {
            for (int i = 0; i < w->nslots; i++) {
                if (which == w->slots[i].actor)
                    handle_slot(w, &w->slots[i]);
            }
        }
        heartbeat(w);
        /* A new socket may reuse the old one's address: compare
         * generations, not pointers. */
        if (w->generation != polled) {
            zpoller_destroy(&poller);
            poller = make_poller(w);
            polled = w->generation;
        }
    }
    zpoller_destroy(&poller);
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: a0migrate-worker --coordinator tcp://HOST:PORT [options]\n"
        "  --redis URL          redis://HOST:PORT[/DB] (A0_REDIS_URL)\n"
        "  --concurrency N      batches at once (default 2)\n"
        "  --heartbeat-ms N     heartbeat interval (default 1000)\n"
        "  --liveness N         missed heartbeats before reconnecting (5)\n"
        "  --drain-ms N         longest wait for running batches on SIGTERM\n"
        "                       (default 30000)\n"
        "target tenant from A0_TARGET_DOMAIN, A0_TARGET_CLIENT_ID,\n"
        "A0_TARGET_CLIENT_SECRET(_FILE) and A0_TARGET_BASE_URL.\n");
}

static int parse(worker_t *w, int argc, char **argv)
{
    static const struct option opts[] = {
        { "coordinator", required_argument, NULL, 'c' },
        { "redis", required_argument, NULL, 'r' },
        { "concurrency", required_argument, NULL, 'n' },
        { "heartbeat-ms", required_argument, NULL, 'b' },
        { "liveness", required_argument, NULL, 'l' },
        { "drain-ms", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            w->endpoint = optarg;
            break;
        case 'r':
            w->ecfg.redis_url = optarg;
            break;
        case 'n':
            w->nslots = atoi(optarg);
            break;
        case 'b':
            w->heartbeat_ms = atoll(optarg);
            break;
        case 'l':
            w->liveness = atoll(optarg);
            break;
        case 'd':
            w->drain_ms = atoll(optarg);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!w->endpoint || w->nslots < 1 || w->nslots > MAX_SLOTS ||
        w->heartbeat_ms < 50 || w->liveness < 2) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static int configure(worker_t *w, char **secret)
{
    const char *redis = getenv("A0_REDIS_URL");
    w->ecfg.redis_url = redis && *redis ? redis : "redis://127.0.0.1:6379";
    w->nslots = 2;
    w->heartbeat_ms = 1000;
    w->liveness = 5;
    w->drain_ms = 30000;
    w->ecfg.target_domain = getenv("A0_TARGET_DOMAIN");
    w->ecfg.target_base_url = getenv("A0_TARGET_BASE_URL");
    w->ecfg.target_client_id = getenv("A0_TARGET_CLIENT_ID");
    *secret = util_getenv_secret("A0_TARGET_CLIENT_SECRET");
    w->ecfg.target_client_secret = *secret;
    w->ecfg.stopping = &stopping;
    w->ecfg.refused = &refused;
    if (!w->ecfg.target_domain || !w->ecfg.target_client_id || !*secret) {
        fprintf(stderr, "a0migrate-worker: set A0_TARGET_DOMAIN, "
                        "A0_TARGET_CLIENT_ID and A0_TARGET_CLIENT_SECRET (or "
                        "A0_TARGET_CLIENT_SECRET_FILE)\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    log_init("worker");
    worker_t w;
    memset(&w, 0, sizeof w);
    char *secret = NULL;
    if (configure(&w, &secret) != 0 || parse(&w, argc, argv) != 0) {
        free(secret);
        return 2;
    }
    zsys_handler_set(NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    zuuid_t *u = zuuid_new();
    snprintf(w.worker_id, sizeof w.worker_id, "%s", zuuid_str_canonical(u));
    zuuid_destroy(&u);
    gethostname(w.host, sizeof w.host - 1);
    srand((unsigned)(getpid() ^ util_mono_ms()));
    w.ecfg.worker_id = w.worker_id;
    /* Refuse what ZeroMQ can't connect to before starting anything. */
    zsock_t *probe = zsock_new(ZMQ_DEALER);
    int bad = zsock_connect(probe, "%s", w.endpoint) != 0;
    zsock_destroy(&probe);
    if (bad) {
        fprintf(stderr,
                "a0migrate-worker: --coordinator %s is not a "
                "ZeroMQ endpoint (want tcp://HOST:PORT)\n",
                w.endpoint);
        free(secret);
        return 2;
    }
    w.backlog = zlistx_new();
    for (int i = 0; i < w.nslots; i++)
        w.slots[i].actor = executor_new(&w.ecfg);
    log_info(M, "worker %s connecting to %s with %d slots", w.worker_id,
             w.endpoint, w.nslots);
    connect_dealer(&w);
    loop(&w);

    proto_msg_t bye;
    memset(&bye, 0, sizeof bye);
    bye.cmd = PROTO_BYE;
    send_msg(&w, &bye);
    int clean = !busy(&w);
    if (clean) {
        for (int i = 0; i < w.nslots; i++)
            zactor_destroy(&w.slots[i].actor);
    }
    zsock_destroy(&w.dealer);
    zlistx_destroy(&w.backlog);
    log_info(M, "worker %s stopped%s", w.worker_id,
             clean ? ""
                   : " (a batch was still running; its lease will be "
                     "taken over)");
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    /* Executors still inside an HTTP call can't be joined in bounded time;
     * their batches are fenced by token, so leaving is safe. */
    int rc = refused ? 4 : 0;
    if (!clean)
        _exit(rc);
    return rc;
}
