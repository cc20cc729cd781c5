/* auth0: the Management API client for one tenant.
 *
 * Each auth0_t owns one curl easy handle (curl_easy_reset between requests
 * keeps its connections alive), a copy of the client secret and the cached
 * access token; both are wiped on destroy, as is every buffer that held
 * them or an import payload. Nothing here logs: errors come back in
 * auth0_resp_t.errstr as "METHOD PATH: what", without the query string.
 *
 * Retries: GETs are retried on 5xx, transport and connect errors (capped
 * exponential backoff, full jitter) and after rate-limit 429s (the pause
 * the response asks for). Other methods are sent once, plus one resend
 * after a 401, which means the request did nothing. POSTs and PATCHes go
 * on a fresh connection: curl silently resends a request whose reused
 * connection closed before any answer, and an import that may already have
 * created a job must never go out twice behind the caller's back. */
#include "auth0.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BODY_MAX_DEFAULT ((size_t)16 * 1024 * 1024)
#define TOKEN_BODY_MAX   ((size_t)64 * 1024)
#define TOKEN_MAX        (16 * 1024) /* bytes of an access token */
#define TOKEN_LEEWAY_S   60
#define GET_ATTEMPTS     6
#define RL_ATTEMPTS      8
#define BACKOFF_BASE_MS  200
#define BACKOFF_CAP_MS   10000
#define PAUSE_MIN_MS     100
#define PAUSE_MAX_MS     60000
#define CONNECT_MAX_MS   10000L
#define MSG_MAX          200 /* bytes of server text kept in errstr */
#define JOB_CAP_TEXT     "active import users jobs"
#define BOUNDARY_LEN     35 /* "a0m" + 32 hex digits */
#define MAX_REDIRS       5L

struct auth0_t {
    CURL *curl;
    char *base; /* scheme://host[:port], no trailing slash */
    char *client_id;
    char *secret;
    char *audience;
    long timeout_ms;
    size_t max_body;
    char *token;
    int64_t token_until_ms; /* monotonic: refresh from then on */
    int token_transient;    /* the last token failure may pass by itself */
    auth0_gate_fn gate;
    auth0_pause_fn pause;
    void *arg;
    uint64_t rng;
    char curl_err[CURL_ERROR_SIZE];
};

/* One request as exchange() sends it. */
typedef struct {
    const char *method;
    const char *path; /* as errstr shows it: "/api/v2/jobs/x" */
    const char *url;
    const char *ctype;
    const char *accept;
    const char *body;
    size_t len;
    int auth; /* send the bearer token */
    size_t max;
} req_t;

/* What one transfer collects. */
typedef struct {
    buf_t body;
    size_t count;
    size_t max;
    int too_large;
    FILE *file; /* downloads write here instead of body */
    auth0_resp_t *resp;
    int64_t retry_at; /* Retry-After given as a date, -1 if not */
} xfer_t;

/* ---- small helpers ------------------------------------------------------ */

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static void wipe_free(char *s)
{
    if (s) {
        wipe(s, strlen(s));
        free(s);
    }
}

/* splitmix64: jitter and multipart boundaries, nothing secret. */
static uint64_t mix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char *mem_find(const char *hay, size_t n, const char *needle,
                            size_t m)
{
    if (!hay || m == 0 || m > n)
        return NULL;
    for (size_t i = 0; i + m <= n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    }
    return NULL;
}

static struct curl_slist *slist_add(struct curl_slist *list, const char *s)
{
    struct curl_slist *next = curl_slist_append(list, s);
    if (!next) {
        fprintf(stderr, "a0migrate: out of memory in curl_slist_append\n");
        abort();
    }
    return next;
}

/* The header list may hold the bearer token. */
static void slist_wipe_free(struct curl_slist *list)
{
    for (struct curl_slist *p = list; p; p = p->next)
        wipe(p->data, strlen(p->data));
    curl_slist_free_all(list);
}

static char *escape(auth0_t *self, const char *s)
{
    char *e = curl_easy_escape(self->curl, s, (int)strlen(s));
    if (!e) {
        fprintf(stderr, "a0migrate: out of memory in curl_easy_escape\n");
        abort();
    }
    char *copy = xstrdup(e);
    wipe(e, strlen(e));
    curl_free(e);
    return copy;
}

const char *auth0_group_name(auth0_group_t g)
{
    static const char *const names[] = {
        [AUTH0_GROUP_TOKEN] = "token",
        [AUTH0_GROUP_JOBS_WRITE] = "jobs_write",
        [AUTH0_GROUP_JOBS_READ] = "jobs_read",
        [AUTH0_GROUP_USERS_READ] = "users_read",
        [AUTH0_GROUP_USERS_WRITE] = "users_write",
    };
    if ((unsigned)g >= AUTH0_GROUP_COUNT)
        return "unknown";
    return names[g];
}

/* ---- responses ---------------------------------------------------------- */

static void resp_reset(auth0_resp_t *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->status = 0;
    r->rl_limit = r->rl_remaining = r->rl_reset = -1;
    r->retry_after = r->date = -1;
    r->errstr[0] = '\0';
}

void auth0_resp_clear(auth0_resp_t *resp)
{
    if (resp)
        resp_reset(resp);
}

/* errstr = "METHOD PATH: <fmt>", PATH cut at its query string (which may
 * hold an e-mail address or a signature). */
static void set_err(auth0_resp_t *r, const char *method, const char *path,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_err(auth0_resp_t *r, const char *method, const char *path,
                    const char *fmt, ...)
{
    int plen = (int)strcspn(path, "?");
    int n =
        snprintf(r->errstr, sizeof r->errstr, "%s %.*s: ", method, plen, path);
    if (n < 0 || (size_t)n >= sizeof r->errstr)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errstr + n, sizeof r->errstr - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Copies server text for errstr: control bytes become '?', length capped. */
static void copy_text(char *out, size_t outlen, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < outlen && n < MSG_MAX; s++)
        out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    out[n] = '\0';
}

/* The Management API says {"message", "errorCode"}; /oauth/token says
 * {"error", "error_description"}. */
static void server_message(const auth0_resp_t *r, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!r->body || r->body_len == 0 || r->body_len > 64 * 1024)
        return;
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    const char *msg = json_string_value(json_object_get(j, "message"));
    const char *code = json_string_value(json_object_get(j, "error"));
    const char *desc =
        json_string_value(json_object_get(j, "error_description"));
    char a[MSG_MAX + 1], b[MSG_MAX + 1];
    if (msg) {
        copy_text(a, sizeof a, msg);
        snprintf(out, outlen, " %s", a);
    } else if (code) {
        copy_text(a, sizeof a, code);
        copy_text(b, sizeof b, desc);
        snprintf(out, outlen, desc ? " %s (%s)" : " %s", a, b);
    }
    json_decref(j);
}

/* ---- headers ------------------------------------------------------------ */

static int64_t days_from_epoch(int64_t y, int mon, int day)
{
    static const int before[12] = { 0,   31,  59,  90,  120, 151,
                                    181, 212, 243, 273, 304, 334 };
    int64_t p = y - 1; /* leap years before y, minus those before 1970 */
    int64_t leaps =
        (p / 4 - p / 100 + p / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400);
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return (y - 1970) * 365 + leaps + before[mon] + (mon > 1 && leap) + day - 1;
}

int64_t auth0_http_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char wday[4], mon[4];
    int day, year, hh, mm, ss, end = 0;
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wday,
               &day, mon, &year, &hh, &mm, &ss, &end) != 7 ||
        end == 0)
        return -1;
    const char *m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
    if (!m || (m - months) % 3 || day < 1 || day > 31 || year < 1970 ||
        hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0)
        return -1;
    int64_t days = days_from_epoch(year, (int)((m - months) / 3), day);
    return days * 86400 + hh * 3600 + mm * 60 + ss;
}

/* A non-negative decimal header value, or -1. */
static int64_t parse_count(const char *s)
{
    if (*s < '0' || *s > '9')
        return -1;
    int64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return *s ? -1 : v;
}

static void header_value(xfer_t *x, const char *name, const char *value)
{
    auth0_resp_t *r = x->resp;
    if (strcasecmp(name, "x-ratelimit-limit") == 0)
        r->rl_limit = parse_count(value);
    else if (strcasecmp(name, "x-ratelimit-remaining") == 0)
        r->rl_remaining = parse_count(value);
    else if (strcasecmp(name, "x-ratelimit-reset") == 0)
        r->rl_reset = parse_count(value);
    else if (strcasecmp(name, "date") == 0)
        r->date = auth0_http_date(value);
    else if (strcasecmp(name, "retry-after") == 0) {
        r->retry_after = parse_count(value);
        if (r->retry_after < 0)
            x->retry_at = auth0_http_date(value);
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * nmemb;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue or a redirect) */
        resp_reset(x->resp);
        x->retry_at = -1;
        return len;
    }
    char line[256];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, data, n);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
                     line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    line[n] = '\0';
    char *colon = strchr(line, ':');
    if (!colon)
        return len;
    *colon = '\0';
    char *value = colon + 1;
    value += strspn(value, " \t");
    header_value(x, line, value);
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * nmemb;
    if (len > x->max - x->count) {
        x->too_large = 1;
        return 0;
    }
    if (x->file) {
        if (fwrite(data, 1, len, x->file) != len)
            return 0;
    } else {
        buf_append(&x->body, data, len);
    }
    x->count += len;
    return len;
}

/* ---- one exchange ------------------------------------------------------- */

static void setup_handle(auth0_t *self, xfer_t *x, const char *url)
{
    CURL *c = self->curl;
    curl_easy_reset(c);
    self->curl_err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->curl_err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     self->timeout_ms < CONNECT_MAX_MS ? self->timeout_ms
                                                       : CONNECT_MAX_MS);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "a0migrate/" A0_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
}

static void setup_method(CURL *c, const req_t *rq)
{
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(rq->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body || strcmp(rq->method, "DELETE") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    }
    if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PATCH") == 0)
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
}

static struct curl_slist *build_headers(const auth0_t *self, const req_t *rq)
{
    struct curl_slist *h = slist_add(NULL, "Expect:");
    if (rq->accept) {
        char *s = xasprintf("Accept: %s", rq->accept);
        h = slist_add(h, s);
        free(s);
    }
    if (rq->ctype) {
        char *s = xasprintf("Content-Type: %s", rq->ctype);
        h = slist_add(h, s);
        free(s);
    }
    if (rq->auth && self->token) {
        char *s = xasprintf("Authorization: Bearer %s", self->token);
        h = slist_add(h, s);
        wipe_free(s);
    }
    return h;
}

/* CONNECT only where curl cannot have sent a byte of the request. */
static auth0_err_t classify(CURLcode rc, const xfer_t *x)
{
    switch (rc) {
    case CURLE_OK:
        return AUTH0_OK;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return AUTH0_ERR_CONNECT;
    case CURLE_WRITE_ERROR:
        return x->too_large ? AUTH0_ERR_TOO_LARGE : AUTH0_ERR_TRANSPORT;
    default:
        return AUTH0_ERR_TRANSPORT;
    }
}

static void finish_ok(auth0_t *self, const req_t *rq, xfer_t *x,
                      auth0_resp_t *r)
{
    long status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    if (!x->body.data)
        buf_append(&x->body, "", 0);
    r->body = x->body.data;
    r->body_len = x->body.len;
    buf_init(&x->body);
    if (r->retry_after < 0 && x->retry_at >= 0) {
        int64_t from = r->date >= 0 ? r->date : util_wall_ms() / 1000;
        r->retry_after = x->retry_at > from ? x->retry_at - from : 0;
    }
    char msg[MSG_MAX + 8];
    server_message(r, msg, sizeof msg);
    set_err(r, rq->method, rq->path, "%ld%s", status, msg);
}

static auth0_err_t finish(auth0_t *self, const req_t *rq, CURLcode rc,
                          xfer_t *x, auth0_resp_t *r)
{
    auth0_err_t err = classify(rc, x);
    if (err == AUTH0_OK) {
        finish_ok(self, rq, x, r);
        return err;
    }
    buf_free(&x->body);
    if (err == AUTH0_ERR_TOO_LARGE) {
        curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &r->status);
        set_err(r, rq->method, rq->path, "%ld: response over %zu bytes",
                r->status, x->max);
        return err;
    }
    r->status = 0;
    set_err(r, rq->method, rq->path, "%s (%s)",
            self->curl_err[0] ? self->curl_err : curl_easy_strerror(rc),
            err == AUTH0_ERR_CONNECT ? "not sent" : "outcome unknown");
    return err;
}

static auth0_err_t exchange(auth0_t *self, const req_t *rq, auth0_resp_t *r)
{
    xfer_t x = { .max = rq->max, .resp = r, .retry_at = -1 };
    buf_init(&x.body);
    resp_reset(r);
    setup_handle(self, &x, rq->url);
    setup_method(self->curl, rq);
    struct curl_slist *h = build_headers(self, rq);
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, self->timeout_ms);
    CURLcode rc = curl_easy_perform(self->curl);
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, NULL);
    slist_wipe_free(h);
    return finish(self, rq, rc, &x, r);
}

/* ---- token -------------------------------------------------------------- */

static void token_drop(auth0_t *self)
{
    wipe_free(self->token);
    self->token = NULL;
}

static void token_form(auth0_t *self, buf_t *form)
{
    char *id = escape(self, self->client_id);
    char *secret = escape(self, self->secret);
    char *aud = escape(self, self->audience);
    buf_printf(form,
               "grant_type=client_credentials&client_id=%s"
               "&client_secret=%s&audience=%s",
               id, secret, aud);
    free(id);
    wipe_free(secret);
    free(aud);
}

/* A token goes into a header line: printable ASCII without spaces only. */
static int token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return 0;
    }
    return 1;
}

/* Keeps the token until TOKEN_LEEWAY_S before it expires (half its life
 * when that is shorter). */
static int token_take(auth0_t *self, const auth0_resp_t *tr)
{
    json_t *j = json_loadb(tr->body, tr->body_len, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    json_t *exp = json_object_get(j, "expires_in");
    int rc = -1;
    if (tok && token_ok(tok) && (!exp || json_is_integer(exp))) {
        int64_t life = exp ? (int64_t)json_integer_value(exp) : 3600;
        if (life > 0) {
            int64_t keep =
                life > 2 * TOKEN_LEEWAY_S ? life - TOKEN_LEEWAY_S : life / 2;
            token_drop(self);
            self->token = xstrdup(tok);
            self->token_until_ms = util_mono_ms() + keep * 1000;
            rc = 0;
        }
    }
    if (tok)
        wipe((char *)tok, strlen(tok));
    json_decref(j);
    return rc;
}

/* Copies what the caller may see of a token response: never its body. */
static void token_report(const auth0_resp_t *tr, auth0_resp_t *resp)
{
    resp_reset(resp);
    resp->status = tr->status;
    resp->rl_limit = tr->rl_limit;
    resp->rl_remaining = tr->rl_remaining;
    resp->rl_reset = tr->rl_reset;
    resp->retry_after = tr->retry_after;
    resp->date = tr->date;
    memcpy(resp->errstr, tr->errstr, sizeof resp->errstr);
}

static auth0_err_t token_post(auth0_t *self, auth0_resp_t *tr)
{
    buf_t form;
    buf_init(&form);
    token_form(self, &form);
    char *url = xasprintf("%s/oauth/token", self->base);
    req_t rq = { .method = "POST",
                 .path = "/oauth/token",
                 .url = url,
                 .ctype = "application/x-www-form-urlencoded",
                 .accept = "application/json",
                 .body = form.data,
                 .len = form.len,
                 .max = TOKEN_BODY_MAX };
    auth0_err_t err = exchange(self, &rq, tr);
    wipe(form.data, form.len);
    buf_free(&form);
    free(url);
    return err;
}

static auth0_err_t token_fetch(auth0_t *self, auth0_resp_t *resp)
{
    self->token_transient = 0;
    if (!self->client_id || !self->secret) {
        resp_reset(resp);
        set_err(resp, "POST", "/oauth/token", "no client credentials");
        return AUTH0_ERR_TOKEN;
    }
    if (self->gate && self->gate(self->arg, AUTH0_GROUP_TOKEN) < 0) {
        resp_reset(resp);
        set_err(resp, "POST", "/oauth/token", "refused by the rate gate");
        return AUTH0_ERR_GATE;
    }
    auth0_resp_t tr = { 0 };
    auth0_err_t err = token_post(self, &tr);
    self->token_transient =
        err != AUTH0_OK || tr.status == 429 || tr.status >= 500;
    if (err == AUTH0_OK && tr.status == 200) {
        if (token_take(self, &tr) < 0) {
            set_err(&tr, "POST", "/oauth/token", "200 without a usable token");
            err = AUTH0_ERR_TOKEN;
        }
    } else {
        if (err == AUTH0_OK && tr.status == 429 && self->pause)
            self->pause(self->arg, AUTH0_GROUP_TOKEN,
                        auth0_pause_ms(&tr, util_wall_ms() / 1000, PAUSE_MIN_MS,
                                       PAUSE_MAX_MS));
        err = AUTH0_ERR_TOKEN;
    }
    token_report(&tr, resp);
    if (tr.body)
        wipe(tr.body, tr.body_len);
    resp_reset(&tr);
    return err;
}

static auth0_err_t token_ensure(auth0_t *self, auth0_resp_t *resp)
{
    if (self->token && util_mono_ms() < self->token_until_ms)
        return AUTH0_OK;
    token_drop(self);
    return token_fetch(self, resp);
}

/* ---- requests ----------------------------------------------------------- */

/* Token, gate, one exchange. */
static auth0_err_t send_once(auth0_t *self, const req_t *rq,
                             auth0_group_t group, auth0_resp_t *resp)
{
    auth0_err_t err = token_ensure(self, resp);
    if (err != AUTH0_OK)
        return err;
    if (self->gate && self->gate(self->arg, group) < 0) {
        resp_reset(resp);
        set_err(resp, rq->method, rq->path, "refused by the rate gate");
        return AUTH0_ERR_GATE;
    }
    return exchange(self, rq, resp);
}

typedef struct {
    int failures; /* transient failures so far */
    int limited;  /* rate-limit 429s so far */
} tries_t;

static int64_t backoff_ms(auth0_t *self, int failures)
{
    int64_t cap = BACKOFF_BASE_MS;
    for (int i = 1; i < failures && cap < BACKOFF_CAP_MS; i++)
        cap *= 2;
    if (cap > BACKOFF_CAP_MS)
        cap = BACKOFF_CAP_MS;
    return (int64_t)(mix64(&self->rng) % (uint64_t)(cap + 1));
}

static int transient(const auth0_t *self, auth0_err_t err,
                     const auth0_resp_t *resp)
{
    switch (err) {
    case AUTH0_ERR_CONNECT:
    case AUTH0_ERR_TRANSPORT:
        return 1;
    case AUTH0_OK:
        return resp->status >= 500;
    case AUTH0_ERR_TOKEN: /* unreachable or overloaded, not refused */
        return self->token_transient;
    default:
        return 0;
    }
}

/* How long to wait before trying rq again, or -1 to return to the caller.
 * Every rate-limit 429 reaches the pause hook, whatever the method. */
static int64_t retry_wait(auth0_t *self, int is_get, auth0_err_t err,
                          const auth0_resp_t *resp, auth0_group_t group,
                          tries_t *t)
{
    if (err == AUTH0_OK && resp->status == 429 && !auth0_is_job_cap_429(resp)) {
        int64_t pause = auth0_pause_ms(resp, util_wall_ms() / 1000,
                                       PAUSE_MIN_MS, PAUSE_MAX_MS);
        if (self->pause)
            self->pause(self->arg, group, pause);
        if (!is_get || ++t->limited >= RL_ATTEMPTS)
            return -1;
        return pause;
    }
    if (!is_get || !transient(self, err, resp) || ++t->failures >= GET_ATTEMPTS)
        return -1;
    return backoff_ms(self, t->failures);
}

auth0_err_t auth0_request(auth0_t *self, const char *method, const char *path,
                          const char *content_type, const char *body,
                          size_t body_len, auth0_group_t group,
                          auth0_resp_t *resp)
{
    char *full = xasprintf("/api/v2%s", path);
    char *url = xasprintf("%s%s", self->base, full);
    req_t rq = { .method = method,
                 .path = full,
                 .url = url,
                 .ctype = content_type,
                 .accept = "application/json",
                 .body = body,
                 .len = body_len,
                 .auth = 1,
                 .max = self->max_body };
    int is_get = strcmp(method, "GET") == 0, refreshed = 0;
    tries_t tries = { 0, 0 };
    auth0_err_t err;
    for (;;) {
        err = send_once(self, &rq, group, resp);
        if (err == AUTH0_OK && resp->status == 401 && !refreshed) {
            refreshed = 1; /* a 401 did nothing: safe to resend */
            token_drop(self);
            continue;
        }
        int64_t wait = retry_wait(self, is_get, err, resp, group, &tries);
        if (wait < 0)
            break;
        util_sleep_ms(wait);
    }
    free(full);
    free(url);
    return err;
}

/* ---- rate-limit answers ------------------------------------------------- */

static int64_t secs_to_ms(int64_t s)
{
    if (s > INT64_MAX / 1000)
        return INT64_MAX;
    if (s < INT64_MIN / 1000)
        return INT64_MIN;
    return s * 1000;
}

int64_t auth0_pause_ms(const auth0_resp_t *resp, int64_t now_s, int64_t min_ms,
                       int64_t max_ms)
{
    int64_t ms = min_ms;
    if (resp->rl_reset >= 0) {
        int64_t from = resp->date >= 0 ? resp->date : now_s;
        ms = secs_to_ms(resp->rl_reset - from);
    } else if (resp->retry_after >= 0) {
        ms = secs_to_ms(resp->retry_after);
    }
    if (ms < min_ms)
        ms = min_ms;
    if (ms > max_ms)
        ms = max_ms;
    return ms;
}

int auth0_is_job_cap_429(const auth0_resp_t *resp)
{
    return resp->status == 429 &&
           mem_find(resp->body, resp->body_len, JOB_CAP_TEXT,
                    strlen(JOB_CAP_TEXT)) != NULL;
}

/* ---- the import body ---------------------------------------------------- */

/* Writes to out, or only counts bytes when out is NULL. */
typedef struct {
    buf_t *out;
    size_t n;
} sink_t;

static void put(sink_t *s, const char *p, size_t len)
{
    if (s->out)
        buf_append(s->out, p, len);
    s->n += len;
}

static void put_str(sink_t *s, const char *p)
{
    put(s, p, strlen(p));
}

static void put_head(sink_t *s, const char *boundary, const char *name,
                     const char *extra)
{
    put_str(s, "--");
    put(s, boundary, BOUNDARY_LEN);
    put_str(s, "\r\nContent-Disposition: form-data; name=\"");
    put_str(s, name);
    put_str(s, "\"");
    put_str(s, extra);
    put_str(s, "\r\n\r\n");
}

static void put_part(sink_t *s, const char *boundary, const char *name,
                     const char *value, size_t len)
{
    put_head(s, boundary, name, "");
    put(s, value, len);
    put_str(s, "\r\n");
}

/* Parts in the order Auth0's own clients send them. */
static void put_body(sink_t *s, const char *boundary, const char *conn,
                     const char *ext, size_t ext_len, int upsert,
                     const char *users, size_t users_len)
{
    put_part(s, boundary, "connection_id", conn, strlen(conn));
    put_part(s, boundary, "upsert", upsert ? "true" : "false", upsert ? 4 : 5);
    put_part(s, boundary, "external_id", ext, ext_len);
    put_part(s, boundary, "send_completion_email", "false", 5);
    put_head(s, boundary, "users",
             "; filename=\"users.json\"\r\nContent-Type: application/json");
    put(s, users, users_len);
    put_str(s, "\r\n--");
    put(s, boundary, BOUNDARY_LEN);
    put_str(s, "--\r\n");
}

size_t auth0_import_overhead(const char *connection_id, size_t external_id_len)
{
    sink_t s = { NULL, 0 };
    put_body(&s, NULL, connection_id ? connection_id : "", NULL,
             external_id_len, 0, NULL, 0);
    return s.n;
}

static void make_boundary(char out[BOUNDARY_LEN + 1])
{
    static atomic_uint_fast64_t counter;
    uint64_t state =
        (uint64_t)util_wall_ms() ^ (uint64_t)util_mono_ms() ^
        ((uint64_t)getpid() << 32) ^
        (uint64_t)atomic_fetch_add(&counter, 1) * 0x2545f4914f6cdd1dULL;
    uint64_t a = mix64(&state), b = mix64(&state);
    snprintf(out, BOUNDARY_LEN + 1, "a0m%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
}

static int boundary_clashes(const char *b, const char *conn, const char *ext,
                            const char *users, size_t users_len)
{
    return mem_find(users, users_len, b, BOUNDARY_LEN) || strstr(conn, b) ||
           strstr(ext, b);
}

size_t auth0_import_body(buf_t *out, const char *connection_id,
                         const char *external_id, int upsert, const char *users,
                         size_t users_len)
{
    const char *conn = connection_id ? connection_id : "";
    const char *ext = external_id ? external_id : "";
    char boundary[BOUNDARY_LEN + 1];
    do {
        make_boundary(boundary);
    } while (boundary_clashes(boundary, conn, ext, users, users_len));
    sink_t s = { out, 0 };
    put_body(&s, boundary, conn, ext, strlen(ext), upsert, users, users_len);
    return s.n;
}

auth0_err_t auth0_import(auth0_t *self, const char *connection_id,
                         const char *external_id, int upsert,
                         const char *users_json, size_t users_len,
                         auth0_resp_t *resp)
{
    buf_t body;
    buf_init(&body);
    auth0_import_body(&body, connection_id, external_id, upsert, users_json,
                      users_len);
    char ctype[96];
    snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%.*s",
             BOUNDARY_LEN, body.data + 2);
    auth0_err_t err =
        auth0_request(self, "POST", "/jobs/users-imports", ctype, body.data,
                      body.len, AUTH0_GROUP_JOBS_WRITE, resp);
    wipe(body.data, body.len); /* may hold password hashes */
    buf_free(&body);
    return err;
}

/* ---- reads -------------------------------------------------------------- */

/* GET of fmt with one escaped argument. */
static auth0_err_t get_escaped(auth0_t *self, const char *fmt, const char *arg,
                               auth0_group_t group, auth0_resp_t *resp)
{
    char *e = escape(self, arg);
    char *path = xasprintf(fmt, e);
    auth0_err_t err =
        auth0_request(self, "GET", path, NULL, NULL, 0, group, resp);
    free(path);
    free(e);
    return err;
}

auth0_err_t auth0_get_job(auth0_t *self, const char *job_id, auth0_resp_t *resp)
{
    return get_escaped(self, "/jobs/%s", job_id, AUTH0_GROUP_JOBS_READ, resp);
}

auth0_err_t auth0_get_job_errors(auth0_t *self, const char *job_id,
                                 auth0_resp_t *resp)
{
    return get_escaped(self, "/jobs/%s/errors", job_id, AUTH0_GROUP_JOBS_READ,
                       resp);
}

auth0_err_t auth0_get_user(auth0_t *self, const char *user_id,
                           auth0_resp_t *resp)
{
    return get_escaped(self, "/users/%s", user_id, AUTH0_GROUP_USERS_READ,
                       resp);
}

auth0_err_t auth0_get_connections(auth0_t *self, const char *name,
                                  auth0_resp_t *resp)
{
    if (!name)
        return auth0_request(self, "GET", "/connections", NULL, NULL, 0,
                             AUTH0_GROUP_USERS_READ, resp);
    return get_escaped(self, "/connections?name=%s", name,
                       AUTH0_GROUP_USERS_READ, resp);
}

/* ---- export ------------------------------------------------------------- */

/* Everything an import can take, plus what classification needs. */
static const char *const default_fields[] = {
    "user_id",      "email",          "email_verified", "username",
    "phone_number", "phone_verified", "given_name",     "family_name",
    "name",         "nickname",       "picture",        "blocked",
    "app_metadata", "user_metadata",  "identities",     "created_at",
    "updated_at",   "multifactor",
};

/* A fields array from JSON text: names as strings become {"name": s}. */
static json_t *export_fields(const char *fields_json)
{
    json_t *in = NULL;
    if (fields_json)
        in = json_loads(fields_json, 0, NULL);
    else {
        in = json_array();
        for (size_t i = 0; i < sizeof default_fields / sizeof *default_fields;
             i++)
            json_array_append_new(in, json_string(default_fields[i]));
    }
    if (!json_is_array(in)) {
        json_decref(in);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
    {
        json_array_append_new(out, json_is_string(v)
                                       ? json_pack("{s:O}", "name", v)
                                       : json_incref(v));
    }
    json_decref(in);
    return out;
}

auth0_err_t auth0_export_start(auth0_t *self, const char *connection_id,
                               const char *fields_json, auth0_resp_t *resp)
{
    json_t *fields = export_fields(fields_json);
    if (!fields) {
        resp_reset(resp);
        set_err(resp, "POST", "/api/v2/jobs/users-exports",
                "fields is not a JSON array (not sent)");
        return AUTH0_ERR_CONNECT;
    }
    json_t *o = json_pack("{s:s, s:o}", "format", "json", "fields", fields);
    if (connection_id)
        json_object_set_new(o, "connection_id", json_string(connection_id));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    auth0_err_t err =
        auth0_request(self, "POST", "/jobs/users-exports", "application/json",
                      body, strlen(body), AUTH0_GROUP_JOBS_WRITE, resp);
    free(body);
    return err;
}

/* ---- download ----------------------------------------------------------- */

static int download_to(auth0_t *self, const char *url, FILE *f,
                       size_t max_bytes, auth0_resp_t *r)
{
    xfer_t x = { .max = max_bytes, .file = f, .resp = r, .retry_at = -1 };
    buf_init(&x.body);
    resp_reset(r);
    setup_handle(self, &x, url);
    curl_easy_setopt(self->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(self->curl, CURLOPT_MAXREDIRS, MAX_REDIRS);
    /* no total timeout: exports can be large; stalls still end */
    curl_easy_setopt(self->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(self->curl, CURLOPT_LOW_SPEED_TIME, 60L);
    CURLcode rc = curl_easy_perform(self->curl);
    req_t rq = { .method = "GET", .path = url, .url = url, .max = max_bytes };
    auth0_err_t err = finish(self, &rq, rc, &x, r);
    if (err == AUTH0_OK && r->status != 200)
        set_err(r, "GET", url, "%ld", r->status);
    return err == AUTH0_OK && r->status == 200 ? 0 : -1;
}

int auth0_download(auth0_t *self, const char *url, const char *path,
                   size_t max_bytes, char *errstr, size_t errlen)
{
    auth0_resp_t r = { 0 };
    FILE *f = fopen(path, "wb");
    int rc = -1;
    if (!f)
        set_err(&r, "GET", url, "cannot write %s", path);
    else
        rc = download_to(self, url, f, max_bytes, &r);
    if (f && fclose(f) != 0 && rc == 0) {
        set_err(&r, "GET", url, "cannot write %s", path);
        rc = -1;
    }
    if (f && rc < 0)
        unlink(path);
    if (rc < 0 && errstr && errlen)
        snprintf(errstr, errlen, "%s", r.errstr);
    resp_reset(&r);
    return rc;
}

/* ---- lifetime ----------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *base_from(const auth0_cfg_t *cfg)
{
    if (!cfg->base_url)
        return xasprintf("https://%s", cfg->domain);
    char *b = xstrdup(cfg->base_url);
    size_t n = strlen(b);
    while (n > 0 && b[n - 1] == '/')
        b[--n] = '\0';
    return b;
}

auth0_t *auth0_new(const auth0_cfg_t *cfg)
{
    if (!cfg || (!cfg->base_url && !cfg->domain))
        return NULL;
    pthread_once(&curl_once, curl_init_once);
    CURL *curl = curl_easy_init();
    if (!curl)
        return NULL;
    auth0_t *self = xcalloc(1, sizeof *self);
    self->curl = curl;
    self->base = base_from(cfg);
    self->client_id = cfg->client_id ? xstrdup(cfg->client_id) : NULL;
    self->secret = cfg->client_secret ? xstrdup(cfg->client_secret) : NULL;
    if (cfg->audience)
        self->audience = xstrdup(cfg->audience);
    else if (cfg->domain)
        self->audience = xasprintf("https://%s/api/v2/", cfg->domain);
    else
        self->audience = xasprintf("%s/api/v2/", self->base);
    self->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    self->max_body =
        cfg->max_body_bytes ? cfg->max_body_bytes : BODY_MAX_DEFAULT;
    self->rng = (uint64_t)util_wall_ms() ^ ((uint64_t)getpid() << 32) ^
                (uint64_t)(uintptr_t)self;
    return self;
}

void auth0_set_gate(auth0_t *self, auth0_gate_fn gate, auth0_pause_fn pause,
                    void *arg)
{
    self->gate = gate;
    self->pause = pause;
    self->arg = arg;
}

void auth0_destroy(auth0_t **p)
{
    if (!p || !*p)
        return;
    auth0_t *self = *p;
    curl_easy_cleanup(self->curl);
    token_drop(self);
    wipe_free(self->secret);
    free(self->client_id);
    free(self->audience);
    free(self->base);
    free(self);
    *p = NULL;
}
