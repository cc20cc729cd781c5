/* Tests of the Redis function library through store.c, against a real
 * redis-server started on a free loopback port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "util.h"

static pid_t redis_pid;
static char redis_url[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int start_redis(void **state)
{
    (void)state;
    int port = free_port();
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    redis_pid = fork();
    if (redis_pid == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", ports, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", port);
    for (int i = 0; i < 100; i++) {
        char *err = NULL;
        store_t *s = store_new(redis_url, &err);
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

static int stop_redis(void **state)
{
    (void)state;
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
    return 0;
}

static store_t *open_store(void)
{
    char *err = NULL;
    store_t *s = store_new(redis_url, &err);
    assert_non_null(s);
    return s;
}

static long long stat_of(store_t *s, const char *run, const char *name)
{
    char *key = store_key(run, "stats");
    char *v = store_hget(s, key, name);
    long long n = v ? atoll(v) : 0;
    free(v);
    free(key);
    return n;
}

static void plan_two(store_t *s, const char *run, int64_t batch)
{
    char a[] = "auth0|a", b[] = "auth0|b c:d@e";
    char *ids[] = { a, b };
    char state[32], job[64];
    int64_t attempt = -1;
    assert_int_equal(
        store_plan_batch(s, run, batch, ids, 2, state, &attempt, job), 0);
    assert_string_equal(state, "PENDING");
    assert_int_equal(attempt, 0);
}

static void test_batch_lifecycle(void **state)
{
    (void)state;
    store_t *s = open_store();
    plan_two(s, "r1", 1);
    assert_int_equal(stat_of(s, "r1", "pending"), 2);
    assert_int_equal(stat_of(s, "r1", "total"), 2);

    store_claim_t c;
    assert_int_equal(store_claim(s, "r1", 1, "w1", 60000, 1, 5, &c), 0);
    assert_true(c.token > 0);
    assert_string_equal(c.state, "LEASED");
    assert_int_equal(c.attempt, 1);

    /* A second claim while leased is refused. */
    store_claim_t c2;
    assert_int_equal(store_claim(s, "r1", 1, "w2", 60000, 1, 5, &c2), 0);
    assert_int_equal(c2.token, 0);

    /* A stale token cannot move the batch. */
    assert_int_equal(store_transition(s, "r1", 1, c.token + 100, "LEASED",
                                      "SUBMITTING", 60000, NULL, 0),
                     -1);
    assert_non_null(strstr(store_error(s), "stale token"));
    const char *f[] = { "intent_at", "123" };
    assert_int_equal(store_transition(s, "r1", 1, c.token, "LEASED",
                                      "SUBMITTING", 60000, f, 2),
                     0);
    /* Wrong from-state is refused. */
    assert_int_equal(store_transition(s, "r1", 1, c.token, "LEASED",
                                      "SUBMITTED", 60000, NULL, 0),
                     -1);
    const char *g[] = { "job_id", "job_abc" };
    assert_int_equal(store_transition(s, "r1", 1, c.token, "SUBMITTING",
                                      "SUBMITTED", 60000, g, 2),
                     0);

    const char *pairs[] = { "auth0|a", "imported", "auth0|b c:d@e",
                            "failed|PATTERN|email" };
    assert_int_equal(store_complete(s, "r1", 1, c.token, "{}", pairs, 4), 0);
    assert_int_equal(stat_of(s, "r1", "pending"), 0);
    assert_int_equal(stat_of(s, "r1", "imported"), 1);
    assert_int_equal(stat_of(s, "r1", "failed"), 1);
    assert_int_equal(stat_of(s, "r1", "total"), 2);

    /* Completing again (a duplicate DONE) changes nothing. */
    assert_int_equal(store_complete(s, "r1", 1, c.token, "{}", pairs, 4), -1);
    assert_int_equal(stat_of(s, "r1", "imported"), 1);

    /* Re-planning a finished batch reports its state, adds nobody. */
    char a[] = "auth0|a", b[] = "auth0|b c:d@e";
    char *ids[] = { a, b };
    char st[32], job[64];
    int64_t attempt;
    assert_int_equal(store_plan_batch(s, "r1", 1, ids, 2, st, &attempt, job),
                     0);
    assert_string_equal(st, "DONE");
    assert_string_equal(job, "job_abc");
    assert_int_equal(stat_of(s, "r1", "total"), 2);
    store_destroy(&s);
}

static void test_release_paths(void **state)
{
    (void)state;
    store_t *s = open_store();
    plan_two(s, "r2", 7);
    store_claim_t c;
    char st[32];

    /* LEASED goes back to PENDING, and out of attempts to POISON. */
    assert_int_equal(store_claim(s, "r2", 7, "w1", 60000, 1, 2, &c), 0);
    assert_int_equal(store_release(s, "r2", 7, 2, "dead", c.token, st), 0);
    assert_string_equal(st, "PENDING");
    assert_int_equal(store_claim(s, "r2", 7, "w1", 60000, 1, 2, &c), 0);
    assert_int_equal(c.attempt, 2);
    assert_int_equal(store_release(s, "r2", 7, 2, "dead", c.token, st), 0);
    assert_string_equal(st, "POISON");

    /* SUBMITTING (POST outcome unknown) becomes RECONCILE, and a new
     * claim adopts it without counting an attempt. */
    plan_two(s, "r2", 8);
    assert_int_equal(store_claim(s, "r2", 8, "w1", 60000, 1, 5, &c), 0);
    assert_int_equal(store_transition(s, "r2", 8, c.token, "LEASED",
                                      "SUBMITTING", 60000, NULL, 0),
                     0);
    assert_int_equal(store_release(s, "r2", 8, 5, "dead", c.token, st), 0);
    assert_string_equal(st, "RECONCILE");
    store_claim_t d;
    assert_int_equal(store_claim(s, "r2", 8, "w2", 60000, 1, 5, &d), 0);
    assert_true(d.token > c.token);
    assert_string_equal(d.state, "RECONCILE");
    assert_int_equal(d.attempt, 1);

    /* A lease that never reached its holder is refunded, not counted. */
    plan_two(s, "r2", 10);
    assert_int_equal(store_claim(s, "r2", 10, "w1", 60000, 1, 1, &c), 0);
    assert_int_equal(c.attempt, 1);
    assert_int_equal(store_refund(s, "r2", 10, "undelivered", c.token, st), 0);
    assert_string_equal(st, "PENDING");
    assert_int_equal(store_claim(s, "r2", 10, "w2", 60000, 1, 1, &d), 0);
    assert_true(d.token > 0);
    assert_int_equal(d.attempt, 1);

    /* An expired lease is taken over by the next claim. */
    plan_two(s, "r2", 9);
    assert_int_equal(store_claim(s, "r2", 9, "w1", 1000, 1, 5, &c), 0);
    util_sleep_ms(1100);
    assert_int_equal(store_claim(s, "r2", 9, "w2", 60000, 1, 5, &d), 0);
    assert_true(d.token > c.token);
    assert_string_equal(d.state, "LEASED");
    assert_int_equal(d.attempt, 2);
    store_destroy(&s);
}

static void test_local_outcomes_count_once(void **state)
{
    (void)state;
    store_t *s = open_store();
    const char *pairs[] = { "line:3", "invalid|bad json|", "auth0|x",
                            "deferred|social|" };
    assert_int_equal(store_set_local_outcomes(s, "r3", pairs, 4), 0);
    assert_int_equal(store_set_local_outcomes(s, "r3", pairs, 4), 0);
    assert_int_equal(stat_of(s, "r3", "invalid"), 1);
    assert_int_equal(stat_of(s, "r3", "deferred"), 1);
    assert_int_equal(stat_of(s, "r3", "total"), 2);
    store_destroy(&s);
}

static void test_gcra_burst_then_rate(void **state)
{
    (void)state;
    store_t *s = open_store();
    int64_t wait = -1;
    /* Burst of 5 passes at once; the next must wait about 1/rate. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            store_rate_acquire(s, "t1", "mgmt", 10, 5, 2000, &wait), 0);
        assert_int_equal(wait, 0);
    }
    assert_int_equal(store_rate_acquire(s, "t1", "mgmt", 10, 5, 2000, &wait),
                     0);
    assert_true(wait > 50 && wait <= 101);
    /* Beyond the horizon: denied, nothing booked. */
    for (int i = 0; i < 19; i++)
        store_rate_acquire(s, "t1", "mgmt", 10, 5, 2000, &wait);
    assert_int_equal(store_rate_acquire(s, "t1", "mgmt", 10, 5, 2000, &wait),
                     1);
    assert_true(wait > 2000);

    /* A penalty pushes everyone past the pause. */
    assert_int_equal(store_rate_penalize(s, "t2", "mgmt", 10, 5, 3000), 0);
    assert_int_equal(store_rate_acquire(s, "t2", "mgmt", 10, 5, 5000, &wait),
                     0);
    assert_true(wait >= 2900 && wait <= 3100);
    store_destroy(&s);
}

static void test_semaphore(void **state)
{
    (void)state;
    store_t *s = open_store();
    int64_t wait = 0;
    assert_int_equal(store_sem_acquire(s, "t3", "r:1", 2, 60000, &wait), 1);
    assert_int_equal(store_sem_acquire(s, "t3", "r:2", 2, 60000, &wait), 1);
    assert_int_equal(store_sem_acquire(s, "t3", "r:3", 2, 60000, &wait), 0);
    assert_true(wait > 59000);
    /* The holder itself re-acquires (renews). */
    assert_int_equal(store_sem_acquire(s, "t3", "r:1", 2, 60000, &wait), 1);
    assert_int_equal(store_sem_release(s, "t3", "r:1"), 0);
    assert_int_equal(store_sem_wait(s, "t3", 100), 1);
    assert_int_equal(store_sem_acquire(s, "t3", "r:3", 2, 60000, &wait), 1);
    assert_int_equal(store_sem_renew(s, "t3", "r:1", 60000), -1);
    assert_int_equal(store_sem_renew(s, "t3", "r:3", 60000), 0);
    /* An expired holder frees its slot. */
    assert_int_equal(store_sem_acquire(s, "t4", "a", 1, 200, &wait), 1);
    util_sleep_ms(250);
    assert_int_equal(store_sem_acquire(s, "t4", "b", 1, 200, &wait), 1);
    store_destroy(&s);
}

/* The level of a bucket key ("base level"), 0 when absent. */
static long long rl_level(store_t *s, const char *tenant, const char *name)
{
    char *key = xasprintf("a0m:{%s}:rl:%s", tenant, name);
    redisReply *r = store_commandf(s, "GET %s", key);
    free(key);
    long long base = 0, level = 0;
    if (r && r->type == REDIS_REPLY_STRING)
        sscanf(r->str, "%lld %lld", &base, &level);
    if (r)
        freeReplyObject(r);
    return level;
}

static void test_rl_exact_rate(void **state)
{
    (void)state;
    store_t *s = open_store();
    /* 16/s is 62.5 ms apart: the k-th booking of a burst-1 bucket is
     * ceil(62.5 k) ms away, less the time the calls themselves took. */
    store_bucket_t b = { "global", 16, 1 };
    int64_t start = util_mono_ms(), wait = -1;
    for (int k = 0; k < 16; k++) {
        assert_int_equal(store_rl_acquire(s, "x1", &b, 1, 5000, NULL, &wait),
                         0);
        int64_t want = (125 * k + 1) / 2;
        int64_t spent = util_mono_ms() - start;
        assert_true(wait <= want && wait >= want - spent - 2);
    }
    /* Whole micro-requests: 16 bookings of one request each, plus the
     * drain since the first. */
    long long level = rl_level(s, "x1", "global");
    assert_true(level <= 16000000 && level > 15000000);
    store_destroy(&s);
}

static void test_rl_two_buckets(void **state)
{
    (void)state;
    store_t *s = open_store();
    store_bucket_t b[] = { { "jobs", 100, 10 }, { "global", 5, 2 } };
    int64_t wait = -1;
    /* The slower bucket decides; both are charged. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_rl_acquire(s, "x2", b, 2, 5000, NULL, &wait), 0);
        assert_int_equal(wait, 0);
    }
    assert_int_equal(store_rl_acquire(s, "x2", b, 2, 5000, NULL, &wait), 0);
    assert_true(wait > 150 && wait <= 200);
    assert_true(rl_level(s, "x2", "jobs") >= 3000000 - 20000);
    /* Beyond the horizon: denied, and nothing is booked. */
    int64_t before = rl_level(s, "x2", "global");
    assert_int_equal(store_rl_acquire(s, "x2", b, 2, 100, NULL, &wait), 1);
    assert_true(wait > 300 && wait <= 400);
    assert_true(rl_level(s, "x2", "global") <= before);
    store_destroy(&s);
}

static void test_rl_penalty_restarts_empty(void **state)
{
    (void)state;
    store_t *s = open_store();
    store_bucket_t b = { "global", 10, 5 };
    int64_t wait = -1;
    assert_int_equal(store_rl_penalize(s, "x3", &b, 1, 1000, "429"), 1000);
    int64_t paused = store_rl_paused_ms(s, "x3");
    assert_true(paused > 950 && paused <= 1000);
    /* Nobody before the pause ends, then one request per 100 ms: no
     * burst after a pause. */
    assert_int_equal(store_rl_acquire(s, "x3", &b, 1, 5000, NULL, &wait), 0);
    assert_true(wait > 950 && wait <= 1000);
    assert_int_equal(store_rl_acquire(s, "x3", &b, 1, 5000, NULL, &wait), 0);
    assert_true(wait > 1050 && wait <= 1100);
    /* A 429 without a usable pause backs off: 250, 500, 1000 ms. */
    store_bucket_t c = { "global", 10, 5 };
    assert_int_equal(store_rl_penalize(s, "x4", &c, 1, 100, "429"), 250);
    assert_int_equal(store_rl_penalize(s, "x4", &c, 1, 0, "429"), 500);
    assert_int_equal(store_rl_penalize(s, "x4", &c, 1, 100, "429"), 1000);
    assert_int_equal(store_rl_penalize(s, "x4", &c, 1, 999999, "429"), 120000);
    char *pen = store_hget(s, "a0m:{x4}:rl:stats", "penalties");
    assert_string_equal(pen, "4");
    free(pen);
    redisReply *r = store_commandf(s, "LLEN a0m:{x4}:rl:pauses");
    assert_int_equal(r->integer, 4);
    freeReplyObject(r);
    assert_int_equal(store_rl_paused_ms(s, "x5"), 0);
    store_destroy(&s);
}

static void test_rl_records_last_response(void **state)
{
    (void)state;
    store_t *s = open_store();
    store_bucket_t b = { "global", 10, 5 };
    store_rl_note_t note = { "jobs_read", 50, 3, 1700000000, 200 };
    int64_t wait = -1;
    assert_int_equal(store_rl_acquire(s, "x6", &b, 1, 1000, &note, &wait), 0);
    char *rem = store_hget(s, "a0m:{x6}:rl:last", "remaining");
    char *grp = store_hget(s, "a0m:{x6}:rl:last", "group");
    char *near = store_hget(s, "a0m:{x6}:rl:stats", "near_limit");
    assert_string_equal(rem, "3");
    assert_string_equal(grp, "jobs_read");
    assert_string_equal(near, "1");
    free(rem);
    free(grp);
    free(near);
    store_destroy(&s);
}

static void test_sem_yield_and_renew(void **state)
{
    (void)state;
    store_t *s = open_store();
    int64_t wait = 0;
    assert_int_equal(store_sem_acquire(s, "t5", "r:1", 2, 60000, &wait), 1);
    assert_int_equal(store_sem_acquire(s, "t5", "r:2", 2, 60000, &wait), 1);
    /* A renewal never cuts a lease short. */
    assert_int_equal(store_sem_renew(s, "t5", "r:1", 1000), 0);
    redisReply *r = store_commandf(s, "ZSCORE a0m:{t5}:jobs r:1");
    assert_true(atoll(r->str) - store_time_ms(s) > 59000);
    freeReplyObject(r);
    /* Auth0 is full: r:2's slot goes to a stand-in for 300 ms. */
    assert_int_equal(store_sem_yield(s, "t5", "r:2", 300), 0);
    assert_int_equal(store_sem_acquire(s, "t5", "r:2", 2, 60000, &wait), 0);
    assert_true(wait > 200 && wait <= 300);
    char *h[8];
    int n = store_sem_holders(s, "t5", h, 8);
    assert_int_equal(n, 2);
    assert_true(strncmp(h[0], "auth0:", 6) == 0);
    assert_string_equal(h[1], "r:1");
    for (int i = 0; i < n; i++)
        free(h[i]);
    util_sleep_ms(350);
    assert_int_equal(store_sem_acquire(s, "t5", "r:2", 2, 60000, &wait), 1);
    /* One reaper per tenant at a time. */
    assert_int_equal(store_sem_reap_turn(s, "t5", 5000), 1);
    assert_int_equal(store_sem_reap_turn(s, "t5", 5000), 0);
    store_destroy(&s);
}

static void test_load_replaces_old_versions(void **state)
{
    (void)state;
    store_t *s = open_store();
    redisReply *r = store_commandf(s, "FUNCTION DELETE a0m_v2");
    freeReplyObject(r);
    /* An older library owning one of the names. */
    r = store_commandf(s, "FUNCTION LOAD %s",
                       "#!lua name=a0m_v1\n"
                       "redis.register_function('a0m_claim', "
                       "function() return 1 end)");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    assert_int_equal(store_load_functions(s), 0);
    r = store_commandf(s, "FUNCTION LIST LIBRARYNAME a0m_v1");
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    r = store_commandf(s, "FUNCTION LIST LIBRARYNAME a0m_v2");
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_lifecycle),
        cmocka_unit_test(test_release_paths),
        cmocka_unit_test(test_local_outcomes_count_once),
        cmocka_unit_test(test_gcra_burst_then_rate),
        cmocka_unit_test(test_semaphore),
        cmocka_unit_test(test_rl_exact_rate),
        cmocka_unit_test(test_rl_two_buckets),
        cmocka_unit_test(test_rl_penalty_restarts_empty),
        cmocka_unit_test(test_rl_records_last_response),
        cmocka_unit_test(test_sem_yield_and_renew),
        cmocka_unit_test(test_load_replaces_old_versions),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
