/* test_auth0: the import body, the 429 arithmetic, and the client against
 * a small canned HTTP server on 127.0.0.1 (one thread, one connection per
 * scripted reply, every request recorded for assertions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth0.h"
#include "util.h"

#define SECRET     "s3cr&t=+ %x"
#define SECRET_ESC "s3cr%26t%3D%2B%20%25x"
#define MAX_SCRIPT 16
#define DATE_1700M "Tue, 14 Nov 2023 22:13:20 GMT" /* 1700000000 */
#define TOKEN_OK(t)                      \
    reply("200 OK", "",                  \
          "{\"access_token\":\"" t "\"," \
          "\"expires_in\":86400,\"token_type\":\"Bearer\"}")

/* ---- canned server ------------------------------------------------------ */

typedef struct {
    int lfd;
    int port;
    char *script[MAX_SCRIPT]; /* raw replies, sent in order */
    int nscript;
    char *requests[MAX_SCRIPT]; /* what arrived, in order */
    int nreq;
    pthread_t thread;
} server_t;

/* A complete reply that closes the connection. */
static char *reply(const char *status, const char *headers, const char *body)
{
    return xasprintf("HTTP/1.1 %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n%s",
                     status, strlen(body), headers, body);
}

static int wait_readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) == 1;
}

static const char *strcasestr_local(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    }
    return NULL;
}

static size_t content_length(const char *head)
{
    const char *p = strcasestr_local(head, "\r\ncontent-length:");
    return p ? (size_t)strtoul(p + 17, NULL, 10) : 0;
}

/* Reads one request: headers, then Content-Length bytes of body. */
static char *read_request(int fd)
{
    buf_t b;
    buf_init(&b);
    char chunk[65536];
    size_t need = (size_t)-1;
    while (b.len < need && b.len < 4 * 1024 * 1024 && wait_readable(fd, 5000)) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        buf_append(&b, chunk, (size_t)n);
        char *end = strstr(b.data, "\r\n\r\n");
        if (end && need == (size_t)-1)
            need = (size_t)(end - b.data) + 4 + content_length(b.data);
    }
    if (!b.data)
        buf_append(&b, "", 0);
    return b.data;
}

static void *serve(void *arg)
{
    server_t *s = arg;
    for (int i = 0; i < s->nscript; i++) {
        if (!wait_readable(s->lfd, 5000))
            break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            break;
        s->requests[s->nreq++] = read_request(fd);
        size_t len = strlen(s->script[i]);
        if (send(fd, s->script[i], len, MSG_NOSIGNAL) < 0)
            perror("send");
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
    return NULL;
}

static void server_start(server_t *s)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

/* Waits for the script to finish and closes the port. */
static void server_stop(server_t *s)
{
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static void server_free(server_t *s)
{
    for (int i = 0; i < s->nscript; i++)
        free(s->script[i]);
    for (int i = 0; i < s->nreq; i++)
        free(s->requests[i]);
    memset(s, 0, sizeof *s);
}

static void script(server_t *s, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s->script[s->nscript++] = va_arg(ap, char *);
    va_end(ap);
}

static auth0_t *client_for(const server_t *s, size_t max_body)
{
    char *base = xasprintf("http://127.0.0.1:%d/", s->port);
    auth0_cfg_t cfg = { .domain = "tenant.example",
                        .base_url = base,
                        .client_id = "cid",
                        .client_secret = SECRET,
                        .timeout_ms = 5000,
                        .max_body_bytes = max_body };
    auth0_t *a = auth0_new(&cfg);
    assert_non_null(a);
    free(base);
    return a;
}

/* ---- gate and pause hooks ----------------------------------------------- */

typedef struct {
    int gates[AUTH0_GROUP_COUNT];
    int refuse;
    int pauses;
    auth0_group_t pause_group;
    int64_t pause_ms;
} hooks_t;

static int gate(void *arg, auth0_group_t group)
{
    hooks_t *h = arg;
    h->gates[group]++;
    return h->refuse ? -1 : 0;
}

static void pause_hook(void *arg, auth0_group_t group, int64_t pause_ms)
{
    hooks_t *h = arg;
    h->pauses++;
    h->pause_group = group;
    h->pause_ms = pause_ms;
}

static void assert_no_secret(const auth0_resp_t *r)
{
    assert_null(strstr(r->errstr, SECRET));
    assert_null(strstr(r->errstr, SECRET_ESC));
    assert_null(strstr(r->errstr, "tok-"));
}

/* ---- import body -------------------------------------------------------- */

static void test_import_overhead(void **state)
{
    (void)state;
    static const char *const conns[] = { "con_ABCDEFGHIJKLMNOP", "", "c" };
    static const char *const exts[] = { "", "run-1:b-7:a-2",
                                        "x{R}|y with spaces" };
    static const char *const users[] = { "[]", "", "[{\"email\":\"a@b.c\"}]" };
    for (size_t c = 0; c < 3; c++) {
        for (size_t e = 0; e < 3; e++) {
            for (size_t u = 0; u < 3; u++) {
                for (int up = 0; up < 2; up++) {
                    buf_t b;
                    buf_init(&b);
                    size_t ul = strlen(users[u]);
                    size_t n = auth0_import_body(&b, conns[c], exts[e], up,
                                                 users[u], ul);
                    assert_int_equal(n, b.len);
                    size_t want =
                        auth0_import_overhead(conns[c], strlen(exts[e])) + ul -
                        (up ? 1 : 0);
                    assert_int_equal(b.len, want);
                    buf_free(&b);
                }
            }
        }
    }
    /* a big payload, and a NULL external id counted as empty */
    size_t big = 511000;
    char *u = xmalloc(big);
    memset(u, 'x', big);
    buf_t b;
    buf_init(&b);
    auth0_import_body(&b, "con_1", NULL, 0, u, big);
    assert_int_equal(b.len, auth0_import_overhead("con_1", 0) + big);
    buf_free(&b);
    free(u);
}

/* Splits the body at its boundary and checks every part. */
static void test_import_body_format(void **state)
{
    (void)state;
    const char *users = "[{\"email\":\"a@b.c\",\"note\":\"--\\r\\n\"}]";
    buf_t b;
    buf_init(&b);
    auth0_import_body(&b, "con_ABCDEFGHIJKLMNOP", "run:7", 1, users,
                      strlen(users));
    assert_memory_equal(b.data, "--a0m", 5);
    char boundary[64];
    snprintf(boundary, sizeof boundary, "%.35s", b.data + 2);
    for (size_t i = 3; i < 35; i++)
        assert_non_null(strchr("0123456789abcdef", boundary[i]));
    assert_null(strstr(users, boundary));

    static const char tmpl[] =
        "--@\r\nContent-Disposition: form-data; name=\"connection_id\""
        "\r\n\r\ncon_ABCDEFGHIJKLMNOP\r\n"
        "--@\r\nContent-Disposition: form-data; name=\"upsert\"\r\n\r\n"
        "true\r\n"
        "--@\r\nContent-Disposition: form-data; name=\"external_id\""
        "\r\n\r\nrun:7\r\n"
        "--@\r\nContent-Disposition: form-data; "
        "name=\"send_completion_email\"\r\n\r\nfalse\r\n"
        "--@\r\nContent-Disposition: form-data; name=\"users\"; "
        "filename=\"users.json\"\r\nContent-Type: application/json\r\n\r\n"
        "#\r\n--@--\r\n";
    buf_t w; /* tmpl with @ the boundary and # the users file */
    buf_init(&w);
    for (const char *p = tmpl; *p; p++) {
        if (*p == '@')
            buf_puts(&w, boundary);
        else if (*p == '#')
            buf_puts(&w, users);
        else
            buf_append(&w, p, 1);
    }
    char *want = w.data;
    assert_string_equal(b.data, want);
    free(want);

    /* two bodies get two boundaries */
    buf_t c;
    buf_init(&c);
    auth0_import_body(&c, "con_1", "", 0, "[]", 2);
    assert_memory_not_equal(b.data + 2, c.data + 2, 35);
    buf_free(&b);
    buf_free(&c);
}

/* ---- 429 arithmetic ----------------------------------------------------- */

static auth0_resp_t resp_with(int64_t reset, int64_t date, int64_t retry)
{
    auth0_resp_t r;
    memset(&r, 0, sizeof r);
    r.status = 429;
    r.rl_limit = r.rl_remaining = -1;
    r.rl_reset = reset;
    r.date = date;
    r.retry_after = retry;
    return r;
}

static void test_pause_ms(void **state)
{
    (void)state;
    auth0_resp_t r = resp_with(1700000005, 1700000000, -1);
    assert_int_equal(auth0_pause_ms(&r, 1700000003, 100, 60000), 5000);
    r = resp_with(1700000005, -1, -1); /* no Date: from now */
    assert_int_equal(auth0_pause_ms(&r, 1700000003, 100, 60000), 2000);
    r = resp_with(1700000005, 1700000000, 30); /* reset wins */
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 5000);
    r = resp_with(-1, 1700000000, 7);
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 7000);
    r = resp_with(-1, -1, -1);
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 100);
    r = resp_with(1700000000, 1700000000, -1); /* reset now: the floor */
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 100);
    r = resp_with(1699999990, 1700000000, -1); /* reset past */
    assert_int_equal(auth0_pause_ms(&r, 0, 250, 60000), 250);
    r = resp_with(1700003600, 1700000000, -1); /* an hour: the ceiling */
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 60000);
    r = resp_with(INT64_MAX, 0, -1); /* no overflow */
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 60000);
    r = resp_with(-1, -1, INT64_MAX);
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 60000);
    r = resp_with(-1, -1, 0);
    assert_int_equal(auth0_pause_ms(&r, 0, 100, 60000), 100);
}

static void test_job_cap_429(void **state)
{
    (void)state;
    auth0_resp_t r = resp_with(-1, -1, -1);
    r.body = (char *)"{\"statusCode\":429,\"error\":\"Too Many Requests\","
                     "\"message\":\"There are 2 active import users jobs, "
                     "please wait until some of them are finished and try "
                     "again\"}";
    r.body_len = strlen(r.body);
    assert_true(auth0_is_job_cap_429(&r));
    r.status = 400;
    assert_false(auth0_is_job_cap_429(&r));
    r.status = 429;
    r.body = (char *)"{\"statusCode\":429,\"error\":\"Too Many Requests\","
                     "\"message\":\"Global limit has been reached\","
                     "\"errorCode\":\"too_many_requests\"}";
    r.body_len = strlen(r.body);
    assert_false(auth0_is_job_cap_429(&r));
    r.body = (char *)"";
    r.body_len = 0;
    assert_false(auth0_is_job_cap_429(&r));
    r.body = NULL;
    assert_false(auth0_is_job_cap_429(&r));
    r.body = (char *)"There are 3 active import users jobs";
    r.body_len = strlen(r.body);
    assert_true(auth0_is_job_cap_429(&r));
}

static void test_http_date(void **state)
{
    (void)state;
    assert_int_equal(auth0_http_date(DATE_1700M), 1700000000);
    assert_int_equal(auth0_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
                     784111777);
    assert_int_equal(auth0_http_date("Thu, 29 Feb 2024 23:59:59 GMT"),
                     1709251199);
    assert_int_equal(auth0_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    assert_int_equal(auth0_http_date("Fri, 31 Dec 2100 12:00:00 GMT"),
                     4133937600LL);
    assert_int_equal(auth0_http_date("Sun, 06 Nov 1994 08:49:37"), -1);
    assert_int_equal(auth0_http_date("Sun, 06 Nox 1994 08:49:37 GMT"), -1);
    assert_int_equal(auth0_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), -1);
    assert_int_equal(auth0_http_date("1700000000"), -1);
    assert_int_equal(auth0_http_date(""), -1);
}

/* ---- against the canned server ------------------------------------------ */

static void test_headers_and_token(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 2, TOKEN_OK("tok-1"),
           reply("200 OK",
                 "X-RateLimit-Limit: 50\r\nx-ratelimit-remaining: 49\r\n"
                 "X-RateLimit-Reset: 1700000005\r\nDate: " DATE_1700M "\r\n"
                 "Retry-After: 3\r\n",
                 "{\"id\":\"job_1\",\"status\":\"pending\"}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    hooks_t h = { 0 };
    auth0_set_gate(a, gate, pause_hook, &h);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_job(a, "job_1", &r), AUTH0_OK);
    server_stop(&s);

    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"id\":\"job_1\",\"status\":\"pending\"}");
    assert_int_equal(r.body_len, strlen(r.body));
    assert_int_equal(r.rl_limit, 50);
    assert_int_equal(r.rl_remaining, 49);
    assert_int_equal(r.rl_reset, 1700000005);
    assert_int_equal(r.date, 1700000000);
    assert_int_equal(r.retry_after, 3);
    assert_string_equal(r.errstr, "GET /api/v2/jobs/job_1: 200");
    assert_int_equal(h.gates[AUTH0_GROUP_TOKEN], 1);
    assert_int_equal(h.gates[AUTH0_GROUP_JOBS_READ], 1);
    assert_int_equal(h.pauses, 0);

    assert_int_equal(s.nreq, 2);
    const char *tok = s.requests[0];
    assert_non_null(strstr(tok, "POST /oauth/token HTTP/1.1\r\n"));
    assert_non_null(strstr(tok, "Content-Type: application/"
                                "x-www-form-urlencoded\r\n"));
    assert_non_null(strstr(tok, "\r\n\r\ngrant_type=client_credentials"
                                "&client_id=cid&client_secret=" SECRET_ESC
                                "&audience=https%3A%2F%2Ftenant.example"
                                "%2Fapi%2Fv2%2F"));
    const char *api = s.requests[1];
    assert_non_null(strstr(api, "GET /api/v2/jobs/job_1 HTTP/1.1\r\n"));
    assert_non_null(strstr(api, "Authorization: Bearer tok-1\r\n"));
    assert_non_null(strstr(api, "User-Agent: a0migrate/" A0_VERSION "\r\n"));
    assert_non_null(strstr(api, "Accept: application/json\r\n"));
    auth0_resp_clear(&r);
    assert_null(r.body);
    auth0_destroy(&a);
    assert_null(a);
    server_free(&s);
}

static void test_token_refresh_on_401(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 5, TOKEN_OK("tok-1"),
           reply("401 Unauthorized", "",
                 "{\"statusCode\":401,\"error\":\"Unauthorized\","
                 "\"message\":\"Expired token received for JSON Web Token "
                 "validation\"}"),
           TOKEN_OK("tok-2"), reply("200 OK", "", "[]"),
           reply("200 OK", "", "{}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    /* a POST: the 401 resend is its only retry */
    assert_int_equal(auth0_request(a, "POST", "/users/x/identities",
                                   "application/json", "{}", 2,
                                   AUTH0_GROUP_USERS_WRITE, &r),
                     AUTH0_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "[]");
    /* the new token is cached: no token request before this one */
    assert_int_equal(auth0_get_connections(a, NULL, &r), AUTH0_OK);
    assert_string_equal(r.body, "{}");
    server_stop(&s);
    assert_int_equal(s.nreq, 5);
    assert_non_null(strstr(s.requests[1], "Bearer tok-1\r\n"));
    assert_non_null(strstr(s.requests[2], "POST /oauth/token "));
    assert_non_null(strstr(s.requests[3], "Bearer tok-2\r\n"));
    assert_non_null(strstr(s.requests[3], "\r\n\r\n{}"));
    assert_non_null(strstr(s.requests[4], "GET /api/v2/connections "));
    assert_non_null(strstr(s.requests[4], "Bearer tok-2\r\n"));
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_token_refused(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 1,
           reply("401 Unauthorized", "",
                 "{\"error\":\"access_denied\","
                 "\"error_description\":\"Unauthorized\"}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_user(a, "auth0|1", &r), AUTH0_ERR_TOKEN);
    server_stop(&s);
    assert_int_equal(s.nreq, 1); /* a refusal is not retried */
    assert_int_equal(r.status, 401);
    assert_string_equal(r.errstr,
                        "POST /oauth/token: 401 access_denied (Unauthorized)");
    assert_null(r.body);
    assert_no_secret(&r);
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_get_retries_5xx(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 4, TOKEN_OK("tok-1"),
           reply("503 Service Unavailable", "", "{\"message\":\"busy\"}"),
           reply("502 Bad Gateway", "", ""), reply("204 No Content", "", ""));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_job_errors(a, "job_1", &r), AUTH0_OK);
    server_stop(&s);
    assert_int_equal(r.status, 204);
    assert_non_null(r.body);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(s.nreq, 4);
    assert_non_null(strstr(s.requests[3], "GET /api/v2/jobs/job_1/errors "));
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_post_not_retried_on_5xx(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 2, TOKEN_OK("tok-1"),
           reply("500 Internal Server Error", "",
                 "{\"statusCode\":500,\"error\":\"Internal Server Error\","
                 "\"message\":\"Internal error.\"}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_import(a, "con_1", "e", 0, "[]", 2, &r), AUTH0_OK);
    server_stop(&s);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.errstr,
                        "POST /api/v2/jobs/users-imports: 500 Internal error.");
    assert_int_equal(s.nreq, 2);
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_rate_limit_429(void **state)
{
    (void)state;
    const char *hdr =
        "X-RateLimit-Limit: 10\r\nX-RateLimit-Remaining: 0\r\n"
        "X-RateLimit-Reset: 1700000000\r\nDate: " DATE_1700M "\r\n";
    const char *rl = "{\"statusCode\":429,\"error\":\"Too Many Requests\","
                     "\"message\":\"Global limit has been reached\"}";
    server_t s = { 0 };
    script(&s, 5, TOKEN_OK("tok-1"), reply("429 Too Many Requests", hdr, rl),
           reply("200 OK", "", "{\"user_id\":\"auth0|1\"}"),
           reply("429 Too Many Requests",
                 "X-RateLimit-Reset: 1700000007\r\nDate: " DATE_1700M "\r\n",
                 rl),
           reply("429 Too Many Requests", "",
                 "{\"statusCode\":429,\"error\":\"Too Many Requests\","
                 "\"message\":\"There are 2 active import users jobs, please "
                 "wait until some of them are finished and try again\"}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    hooks_t h = { 0 };
    auth0_set_gate(a, gate, pause_hook, &h);
    auth0_resp_t r = { 0 };

    /* GET: paused (reset == Date, so the floor), then retried */
    int64_t t0 = util_mono_ms();
    assert_int_equal(auth0_get_user(a, "auth0|1", &r), AUTH0_OK);
    assert_true(util_mono_ms() - t0 >= 100);
    assert_int_equal(r.status, 200);
    assert_int_equal(h.pauses, 1);
    assert_int_equal(h.pause_group, AUTH0_GROUP_USERS_READ);
    assert_int_equal(h.pause_ms, 100);
    assert_int_equal(h.gates[AUTH0_GROUP_USERS_READ], 2);

    /* POST: the rate-limit 429 comes back, after the pause hook */
    assert_int_equal(auth0_import(a, "con_1", "e", 0, "[]", 2, &r), AUTH0_OK);
    assert_int_equal(r.status, 429);
    assert_false(auth0_is_job_cap_429(&r));
    assert_int_equal(h.pauses, 2);
    assert_int_equal(h.pause_group, AUTH0_GROUP_JOBS_WRITE);
    assert_int_equal(h.pause_ms, 7000);

    /* the job cap is no rate limit: no pause */
    assert_int_equal(auth0_import(a, "con_1", "e", 0, "[]", 2, &r), AUTH0_OK);
    assert_int_equal(r.status, 429);
    assert_true(auth0_is_job_cap_429(&r));
    assert_int_equal(h.pauses, 2);
    server_stop(&s);
    assert_int_equal(s.nreq, 5);
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_cut_response(void **state)
{
    (void)state;
    const char *cut = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                      "Connection: close\r\n\r\n{\"id\":";
    server_t s = { 0 };
    script(&s, 4, TOKEN_OK("tok-1"), xstrdup(cut), xstrdup(cut),
           reply("200 OK", "", "{\"id\":\"job_9\"}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    /* the POST went out, the answer did not come back: outcome unknown */
    assert_int_equal(auth0_import(a, "con_1", "e", 0, "[]", 2, &r),
                     AUTH0_ERR_TRANSPORT);
    assert_int_equal(r.status, 0);
    assert_null(r.body);
    assert_non_null(strstr(r.errstr, "POST /api/v2/jobs/users-imports: "));
    assert_non_null(strstr(r.errstr, "outcome unknown"));
    assert_no_secret(&r);
    /* a GET is retried */
    assert_int_equal(auth0_get_job(a, "job_9", &r), AUTH0_OK);
    assert_string_equal(r.body, "{\"id\":\"job_9\"}");
    server_stop(&s);
    assert_int_equal(s.nreq, 4);
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_connect_refused(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 2, TOKEN_OK("tok-1"), reply("200 OK", "", "[]"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_connections(a,
                                           "Username-Password-"
                                           "Authentication",
                                           &r),
                     AUTH0_OK);
    server_stop(&s); /* the port is closed now */
    assert_non_null(strstr(s.requests[1], "GET /api/v2/connections?name="
                                          "Username-Password-Authentication "));

    assert_int_equal(auth0_import(a, "con_1", "e", 0, "[]", 2, &r),
                     AUTH0_ERR_CONNECT);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.errstr, "POST /api/v2/jobs/users-imports: "));
    assert_non_null(strstr(r.errstr, "not sent"));
    auth0_destroy(&a);

    /* no token either: a token error, with no HTTP status */
    a = client_for(&s, 0);
    assert_int_equal(auth0_import(a, "con_1", "e", 0, "[]", 2, &r),
                     AUTH0_ERR_TOKEN);
    assert_int_equal(r.status, 0);
    assert_memory_equal(r.errstr, "POST /oauth/token: ", 19);
    assert_no_secret(&r);
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_too_large(void **state)
{
    (void)state;
    char *big = xmalloc(5001);
    memset(big, 'a', 5000);
    big[5000] = '\0';
    server_t s = { 0 };
    script(&s, 2, TOKEN_OK("tok-1"), reply("200 OK", "", big));
    free(big);
    server_start(&s);
    auth0_t *a = client_for(&s, 1000);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_user(a, "u", &r), AUTH0_ERR_TOO_LARGE);
    server_stop(&s);
    assert_int_equal(r.status, 200);
    assert_null(r.body);
    assert_string_equal(r.errstr,
                        "GET /api/v2/users/u: 200: response over 1000 bytes");
    assert_int_equal(s.nreq, 2); /* not retried */
    auth0_destroy(&a);
    server_free(&s);
}

static void test_escaping_and_export(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 5, TOKEN_OK("tok-1"), reply("200 OK", "", "{}"),
           reply("200 OK", "", "[]"), reply("200 OK", "", "{\"id\":\"j\"}"),
           reply("200 OK", "", "{\"id\":\"k\"}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_user(a, "auth0|x@y z", &r), AUTH0_OK);
    assert_int_equal(auth0_get_connections(a, "a b&c", &r), AUTH0_OK);
    assert_int_equal(auth0_export_start(a, "con_ABCDEFGHIJKLMNOP",
                                        "[\"email\",{\"name\":\"user_id\","
                                        "\"export_as\":\"id\"}]",
                                        &r),
                     AUTH0_OK);
    assert_int_equal(auth0_export_start(a, NULL, NULL, &r), AUTH0_OK);
    assert_int_equal(auth0_export_start(a, NULL, "{\"not\":\"array\"}", &r),
                     AUTH0_ERR_CONNECT);
    assert_string_equal(r.errstr, "POST /api/v2/jobs/users-exports: fields "
                                  "is not a JSON array (not sent)");
    server_stop(&s);
    assert_int_equal(s.nreq, 5);
    assert_non_null(
        strstr(s.requests[1], "GET /api/v2/users/auth0%7Cx%40y%20z HTTP/1.1"));
    assert_non_null(
        strstr(s.requests[2], "GET /api/v2/connections?name=a%20b%26c HTTP"));
    assert_non_null(strstr(s.requests[3], "POST /api/v2/jobs/users-exports "));
    assert_non_null(strstr(s.requests[3],
                           "\r\n\r\n{\"format\":\"json\",\"fields\":["
                           "{\"name\":\"email\"},{\"name\":\"user_id\","
                           "\"export_as\":\"id\"}],\"connection_id\":"
                           "\"con_ABCDEFGHIJKLMNOP\"}"));
    assert_non_null(strstr(s.requests[4], "{\"name\":\"identities\"}"));
    assert_null(strstr(s.requests[4], "connection_id"));
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

/* The body the server received is the one auth0_import_body builds. */
static void test_import_on_the_wire(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 2, TOKEN_OK("tok-1"),
           reply("202 Accepted", "",
                 "{\"id\":\"job_1\",\"type\":"
                 "\"users_import\"}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    auth0_resp_t r = { 0 };
    const char *users = "[{\"email\":\"a@b.c\"}]";
    assert_int_equal(
        auth0_import(a, "con_1", "run:1", 0, users, strlen(users), &r),
        AUTH0_OK);
    server_stop(&s);
    assert_int_equal(r.status, 202);
    const char *req = s.requests[1];
    assert_non_null(strstr(req, "POST /api/v2/jobs/users-imports HTTP/1.1"));
    const char *ct = strstr(req, "Content-Type: multipart/form-data; "
                                 "boundary=a0m");
    assert_non_null(ct);
    char boundary[36];
    memcpy(boundary,
           ct + strlen("Content-Type: multipart/form-data; "
                       "boundary="),
           35);
    boundary[35] = '\0';
    const char *body = strstr(req, "\r\n\r\n") + 4;
    size_t want = auth0_import_overhead("con_1", 5) + strlen(users);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", want);
    assert_non_null(strstr(req, cl));
    assert_int_equal(strlen(body), want);
    assert_memory_equal(body, "--", 2);
    assert_memory_equal(body + 2, boundary, 35);
    assert_null(strstr(req, "Expect:"));
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_gate_refuses(void **state)
{
    (void)state;
    server_t s = { 0 };
    script(&s, 2, TOKEN_OK("tok-1"), reply("200 OK", "", "{}"));
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    hooks_t h = { .refuse = 1 };
    auth0_set_gate(a, gate, pause_hook, &h);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_job(a, "j", &r), AUTH0_ERR_GATE);
    assert_string_equal(r.errstr, "POST /oauth/token: refused by the rate "
                                  "gate");
    assert_int_equal(h.gates[AUTH0_GROUP_TOKEN], 1);
    assert_int_equal(h.gates[AUTH0_GROUP_JOBS_READ], 0);
    h.refuse = 0;
    assert_int_equal(auth0_get_job(a, "j", &r), AUTH0_OK);
    assert_int_equal(h.gates[AUTH0_GROUP_TOKEN], 2);
    assert_int_equal(h.gates[AUTH0_GROUP_JOBS_READ], 1);
    h.refuse = 1; /* with a token cached, the API call itself is refused */
    assert_int_equal(auth0_get_job(a, "j", &r), AUTH0_ERR_GATE);
    assert_string_equal(r.errstr, "GET /api/v2/jobs/j: refused by the rate "
                                  "gate");
    assert_int_equal(h.gates[AUTH0_GROUP_JOBS_READ], 2);
    server_stop(&s);
    assert_int_equal(s.nreq, 2);
    auth0_resp_clear(&r);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_download(void **state)
{
    (void)state;
    char *big = xmalloc(3001);
    memset(big, 'z', 3000);
    big[3000] = '\0';
    server_t s = { 0 };
    script(&s, 6, reply("200 OK", "", "line1\nline2\n"),
           reply("200 OK", "", big),
           reply("403 Forbidden", "", "<Error>AccessDenied</Error>"),
           reply("302 Found", "Location: ftp://127.0.0.1/x\r\n", ""),
           reply("302 Found", "Location: /elsewhere\r\n", ""),
           reply("200 OK", "", "moved"));
    free(big);
    server_start(&s);
    auth0_t *a = client_for(&s, 0);
    char path[] = "/tmp/a0m-test-dl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char *url = xasprintf("http://127.0.0.1:%d/job_1/t.json.gz?Signature=SIG"
                          "&Key-Pair-Id=K",
                          s.port);
    char err[512] = "";
    assert_int_equal(auth0_download(a, url, path, 1000, err, sizeof err), 0);
    size_t len = 0;
    char *got = util_read_file(path, 1000, &len);
    assert_non_null(got);
    assert_string_equal(got, "line1\nline2\n");
    free(got);

    assert_int_equal(auth0_download(a, url, path, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "response over 1000 bytes"));
    assert_int_equal(access(path, F_OK), -1); /* partial file removed */

    assert_int_equal(auth0_download(a, url, path, 1000, err, sizeof err), -1);
    char *want =
        xasprintf("GET http://127.0.0.1:%d/job_1/t.json.gz: 403", s.port);
    assert_string_equal(err, want);
    free(want);
    assert_null(strstr(err, "SIG"));

    /* a redirect to another scheme is not followed; one to http is */
    assert_int_equal(auth0_download(a, url, path, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"ftp\" not supported"));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(auth0_download(a, url, path, 1000, err, sizeof err), 0);
    got = util_read_file(path, 1000, &len);
    assert_string_equal(got, "moved");
    free(got);
    unlink(path);
    server_stop(&s);
    assert_int_equal(s.nreq, 6);
    assert_non_null(strstr(s.requests[5], "GET /elsewhere HTTP/1.1"));
    for (int i = 0; i < s.nreq; i++)
        assert_null(strstr(s.requests[i], "Authorization"));
    free(url);
    auth0_destroy(&a);
    server_free(&s);
}

static void test_new_and_names(void **state)
{
    (void)state;
    auth0_cfg_t cfg = { 0 };
    assert_null(auth0_new(&cfg));
    assert_null(auth0_new(NULL));
    cfg.domain = "x.example";
    auth0_t *a = auth0_new(&cfg);
    assert_non_null(a);
    auth0_resp_t r = { 0 };
    assert_int_equal(auth0_get_job(a, "j", &r), AUTH0_ERR_TOKEN);
    assert_string_equal(r.errstr, "POST /oauth/token: no client credentials");
    auth0_destroy(&a);
    auth0_destroy(&a);
    assert_string_equal(auth0_group_name(AUTH0_GROUP_TOKEN), "token");
    assert_string_equal(auth0_group_name(AUTH0_GROUP_JOBS_WRITE), "jobs_write");
    assert_string_equal(auth0_group_name(AUTH0_GROUP_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_overhead),
        cmocka_unit_test(test_import_body_format),
        cmocka_unit_test(test_pause_ms),
        cmocka_unit_test(test_job_cap_429),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_headers_and_token),
        cmocka_unit_test(test_token_refresh_on_401),
        cmocka_unit_test(test_token_refused),
        cmocka_unit_test(test_get_retries_5xx),
        cmocka_unit_test(test_post_not_retried_on_5xx),
        cmocka_unit_test(test_rate_limit_429),
        cmocka_unit_test(test_cut_response),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_escaping_and_export),
        cmocka_unit_test(test_import_on_the_wire),
        cmocka_unit_test(test_gate_refuses),
        cmocka_unit_test(test_download),
        cmocka_unit_test(test_new_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
