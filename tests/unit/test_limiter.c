/* test_limiter: plan presets and overrides, the meta round trip, and the
 * gate and pause hooks against a real redis-server on a free loopback
 * port: spacing of requests, the farm pause, the token bucket, the
 * recorded x-ratelimit-* and the early brake, and failing closed (with
 * Redis gone no request leaves, not even the token request). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "limiter.h"
#include "util.h"

/* ---- redis-server ---- */

typedef struct {
    pid_t pid;
    char url[64];
} redis_t;

static redis_t main_redis;

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static int redis_start(redis_t *r)
{
    int port;
    close(listener(&port));
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    r->pid = fork();
    if (r->pid == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", ports, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", port);
    for (int i = 0; i < 100; i++) {
        char *err = NULL;
        store_t *s = store_new(r->url, &err);
        if (s) {
            int ok = store_load_functions(s) == 0;
            store_destroy(&s);
            return ok ? 0 : -1;
        }
        free(err);
        util_sleep_ms(50);
    }
    return -1;
}

static void redis_stop(redis_t *r)
{
    kill(r->pid, SIGTERM);
    waitpid(r->pid, NULL, 0);
}

static int setup(void **state)
{
    (void)state;
    return redis_start(&main_redis);
}

static int teardown(void **state)
{
    (void)state;
    redis_stop(&main_redis);
    return 0;
}

static store_t *open_store(const redis_t *r)
{
    char *err = NULL;
    store_t *s = store_new(r->url, &err);
    assert_non_null(s);
    return s;
}

static char *hget(store_t *s, const char *key, const char *field)
{
    return store_hget(s, key, field);
}

/* ---- configuration ---- */

static void test_plans(void **state)
{
    (void)state;
    limiter_cfg_t c;
    assert_int_equal(limiter_cfg_plan(&c, "enterprise", 0.5), 0);
    assert_string_equal(c.global.name, "global");
    assert_true(fabs(c.global.rate - 8) < 1e-9);
    assert_int_equal(c.global.burst, 10);
    assert_string_equal(c.group[AUTH0_GROUP_TOKEN].name, "token");
    assert_string_equal(c.group[AUTH0_GROUP_JOBS_READ].name, "");

    assert_int_equal(limiter_cfg_plan(&c, "free", 0.5), 0);
    assert_true(fabs(c.global.rate - 1) < 1e-9);
    assert_int_equal(c.global.burst, 1);

    /* Essentials: no global bucket; jobs share "all other endpoints". */
    assert_int_equal(limiter_cfg_plan(&c, "essentials", 1), 0);
    assert_string_equal(c.global.name, "");
    assert_string_equal(c.group[AUTH0_GROUP_JOBS_WRITE].name, "other");
    assert_string_equal(c.group[AUTH0_GROUP_JOBS_READ].name, "other");
    assert_true(fabs(c.group[AUTH0_GROUP_JOBS_READ].rate - 2.5) < 1e-9);
    assert_int_equal(c.group[AUTH0_GROUP_JOBS_READ].burst, 10);
    assert_true(fabs(c.group[AUTH0_GROUP_USERS_READ].rate - 500.0 / 60) < 1e-9);
    assert_int_equal(c.group[AUTH0_GROUP_USERS_WRITE].burst, 10);
    char line[512];
    limiter_cfg_describe(&c, line, sizeof line);
    assert_string_equal(line, "plan essentials, token 25/s burst 10, "
                              "jobs_write (bucket other) 2.5/s burst 10, "
                              "jobs_read (bucket other) 2.5/s burst 10, "
                              "users_read 8.33/s burst 10, users_write "
                              "3.33/s burst 10");

    assert_int_equal(limiter_cfg_plan(&c, "unlimited", 0.5), 0);
    assert_string_equal(c.global.name, "");
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++)
        assert_string_equal(c.group[g].name, "");

    assert_int_equal(limiter_cfg_plan(&c, "gold", 0.5), -1);
    assert_int_equal(limiter_cfg_plan(&c, "free", 0), -1);
    assert_int_equal(limiter_cfg_plan(&c, "free", 1.5), -1);
}

static void test_overrides(void **state)
{
    (void)state;
    limiter_cfg_t c;
    char err[256];
    limiter_cfg_plan(&c, "enterprise", 0.5);
    assert_int_equal(limiter_cfg_parse(&c, "jobs_read=2.5/4", err, 256), 0);
    assert_string_equal(c.group[AUTH0_GROUP_JOBS_READ].name, "jobs_read");
    assert_true(fabs(c.group[AUTH0_GROUP_JOBS_READ].rate - 2.5) < 1e-9);
    assert_int_equal(c.group[AUTH0_GROUP_JOBS_READ].burst, 4);
    /* Without a burst: the bucket's own, or the rate rounded up. */
    assert_int_equal(limiter_cfg_parse(&c, "global=12", err, 256), 0);
    assert_int_equal(c.global.burst, 10);
    assert_int_equal(limiter_cfg_parse(&c, "users_write=2.2", err, 256), 0);
    assert_int_equal(c.group[AUTH0_GROUP_USERS_WRITE].burst, 3);
    /* Rate 0 removes a bucket. */
    assert_int_equal(limiter_cfg_parse(&c, "global=0", err, 256), 0);
    assert_string_equal(c.global.name, "");

    const char *bad[] = { "bogus=1",      "global",    "global=", "global=/3",
                          "global=1/",    "global=x",  "=1",      "global=-1",
                          "global=1/2/3", "global=1/0" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(limiter_cfg_parse(&c, bad[i], err, 256), -1);
        assert_non_null(strstr(err, "NAME=RATE"));
    }
    char line[512];
    limiter_cfg_plan(&c, "free", 0.5);
    c.brake_pct = 20;
    limiter_cfg_describe(&c, line, sizeof line);
    assert_string_equal(line, "plan free, global 1/s burst 1, token 15/s "
                              "burst 10, brake under 20%");
}

static void test_meta_round_trip(void **state)
{
    (void)state;
    store_t *s = open_store(&main_redis);
    limiter_cfg_t c, back;
    limiter_cfg_plan(&c, "essentials", 0.5);
    c.brake_pct = 15;
    assert_int_equal(limiter_cfg_write(s, "m1", &c), 0);
    assert_int_equal(limiter_cfg_read(s, "m1", &back), 0);
    assert_string_equal(back.plan, "essentials");
    assert_string_equal(back.global.name, "");
    assert_int_equal(back.brake_pct, 15);
    for (int g = 0; g < AUTH0_GROUP_COUNT; g++) {
        assert_string_equal(back.group[g].name, c.group[g].name);
        assert_true(fabs(back.group[g].rate - c.group[g].rate) < 1e-6);
        assert_int_equal(back.group[g].burst, c.group[g].burst);
    }
    /* A run written before per-group buckets: one global bucket. */
    redisReply *r =
        store_commandf(s, "HSET a0m:{m2}:meta tenant t rate 7.5 burst 4");
    freeReplyObject(r);
    assert_int_equal(limiter_cfg_read(s, "m2", &back), 0);
    assert_string_equal(back.global.name, "global");
    assert_true(fabs(back.global.rate - 7.5) < 1e-9);
    assert_int_equal(back.global.burst, 4);
    assert_string_equal(back.group[AUTH0_GROUP_JOBS_READ].name, "");
    store_destroy(&s);
}

/* ---- the gate ---- */

static limiter_t *limiter_for(store_t *s, const char *tenant, limiter_cfg_t *c,
                              const volatile int *stop)
{
    limiter_t *l = limiter_new(s, stop);
    limiter_configure(l, tenant, c);
    return l;
}

static void test_gate_spacing(void **state)
{
    (void)state;
    store_t *s = open_store(&main_redis);
    limiter_cfg_t c;
    limiter_cfg_plan(&c, "unlimited", 1);
    limiter_cfg_set(&c, "global", 20, 3);
    limiter_cfg_set(&c, "token", 100, 10);
    limiter_t *l = limiter_for(s, "g1", &c, NULL);
    /* Burst 3 less the one kept for jitter: two at once, then 50 ms. */
    int64_t start = util_mono_ms();
    for (int i = 0; i < 6; i++)
        assert_int_equal(limiter_gate(l, AUTH0_GROUP_JOBS_READ), 0);
    int64_t took = util_mono_ms() - start;
    assert_true(took >= 195 && took < 400);
    /* The token request draws from the token bucket only. */
    assert_int_equal(limiter_gate(l, AUTH0_GROUP_TOKEN), 0);
    char *granted = hget(s, "a0m:{g1}:rl:stats", "granted");
    assert_string_equal(granted, "7");
    free(granted);
    redisReply *r = store_commandf(s, "EXISTS a0m:{g1}:rl:token");
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    limiter_destroy(&l);
    store_destroy(&s);
}

static void test_pause_holds_every_group(void **state)
{
    (void)state;
    store_t *s = open_store(&main_redis);
    limiter_cfg_t c;
    limiter_cfg_plan(&c, "essentials", 1);
    limiter_t *l = limiter_for(s, "p1", &c, NULL);
    assert_int_equal(limiter_gate(l, AUTH0_GROUP_JOBS_READ), 0);
    /* A 429 on the jobs endpoints stops the users endpoints too. */
    limiter_pause(l, AUTH0_GROUP_JOBS_READ, 400);
    int64_t start = util_mono_ms();
    assert_int_equal(limiter_gate(l, AUTH0_GROUP_USERS_READ), 0);
    int64_t took = util_mono_ms() - start;
    assert_true(took >= 395 && took < 700);
    char *pen = hget(s, "a0m:{p1}:rl:stats", "penalties");
    assert_string_equal(pen, "1");
    free(pen);
    limiter_destroy(&l);
    store_destroy(&s);
}

static void test_note_and_brake(void **state)
{
    (void)state;
    store_t *s = open_store(&main_redis);
    limiter_cfg_t c;
    limiter_cfg_plan(&c, "enterprise", 0.5);
    c.brake_pct = 50;
    limiter_t *l = limiter_for(s, "n1", &c, NULL);
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    auth0_resp_clear(&resp);
    resp.status = 200;
    resp.rl_limit = 10;
    resp.rl_remaining = 2;
    resp.date = 1700000000;
    resp.rl_reset = 1700000001;
    limiter_note(l, AUTH0_GROUP_JOBS_READ, &resp);
    /* Under half left: the farm waits for the next refill. */
    int64_t paused = store_rl_paused_ms(s, "n1");
    assert_true(paused > 900 && paused <= 1000);
    char *brakes = hget(s, "a0m:{n1}:rl:stats", "brakes");
    assert_string_equal(brakes, "1");
    free(brakes);
    /* The note goes to Redis with the next booking. */
    assert_int_equal(limiter_gate(l, AUTH0_GROUP_JOBS_READ), 0);
    char *rem = hget(s, "a0m:{n1}:rl:last", "remaining");
    char *grp = hget(s, "a0m:{n1}:rl:last", "group");
    assert_string_equal(rem, "2");
    assert_string_equal(grp, "jobs_read");
    free(rem);
    free(grp);
    limiter_destroy(&l);
    store_destroy(&s);
}

/* ---- failing closed ---- */

typedef struct {
    auth0_t *api;
    auth0_err_t err;
    int done;
} call_t;

static void *call_thread(void *arg)
{
    call_t *c = arg;
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    c->err = auth0_get_job(c->api, "job_x", &resp);
    auth0_resp_clear(&resp);
    c->done = 1;
    return NULL;
}

static void test_fails_closed(void **state)
{
    (void)state;
    redis_t r;
    assert_int_equal(redis_start(&r), 0);
    store_t *s = open_store(&r);
    redis_stop(&r);

    /* An Auth0 that counts connections. */
    int port;
    int lfd = listener(&port);
    listen(lfd, 8);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    auth0_cfg_t ac = { .domain = "t.sim.local",
                       .base_url = base,
                       .client_id = "id",
                       .client_secret = "secret" };
    auth0_t *api = auth0_new(&ac);
    volatile int stop = 0;
    limiter_cfg_t c;
    limiter_cfg_plan(&c, "enterprise", 0.5);
    limiter_t *l = limiter_for(s, "f1", &c, &stop);
    limiter_attach(l, api);

    call_t call = { api, AUTH0_OK, 0 };
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &call);
    util_sleep_ms(700);
    assert_int_equal(call.done, 0); /* still holding the token request */
    stop = 1;
    pthread_join(t, NULL);
    assert_int_equal(call.err, AUTH0_ERR_GATE);
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 0), 0); /* nothing ever connected */

    limiter_destroy(&l);
    auth0_destroy(&api);
    store_destroy(&s);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_meta_round_trip),
        cmocka_unit_test(test_gate_spacing),
        cmocka_unit_test(test_pause_holds_every_group),
        cmocka_unit_test(test_note_and_brake),
        cmocka_unit_test(test_fails_closed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
