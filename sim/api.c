/* api: owns routing and the checks every Management API request passes in
 * order: the token bucket (its headers go on every /api/v2 response), the
 * bearer token, the route, the granted scope, the body size, then any fault
 * a test armed for the route. It records each answer in the counters under
 * its route template, never the raw URL, which may carry user ids and
 * e-mail addresses. */
#include "api.h"

#include "counters.h"
#include "faults.h"
#include "limits.h"
#include "log.h"
#include "reply.h"
#include "tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef void (*api_fn)(api_call_t *c);

typedef struct {
    const char *method;
    const char *route; /* template; {id} matches one segment */
    api_fn fn;
    const char *scopes; /* any of these, comma-separated */
    limit_group_t group;
} route_t;

#define USERS_R      LIMIT_USERS_READ
#define USERS_W      LIMIT_USERS_WRITE
#define USERS_D      LIMIT_USERS_DELETE
#define READ_USERS   "read:users,read:current_user,read:user_idp_tokens"
#define UPDATE_USERS "update:users,update:current_user_identities"

/* The scope lists are those of Auth0's OpenAPI security blocks, in its
 * order, so that a 403 names them as Auth0 does. */
static const route_t mgmt_routes[] = {
    { "GET", "/api/v2/connections", api_connections_list, "read:connections",
      LIMIT_OTHER },
    { "GET", "/api/v2/connections/{id}", api_connection_get, "read:connections",
      LIMIT_OTHER },
    { "GET", "/api/v2/users", api_users_list, "read:users,read:user_idp_tokens",
      USERS_R },
    { "GET", "/api/v2/users/{id}", api_user_get, READ_USERS, USERS_R },
    { "PATCH", "/api/v2/users/{id}", api_user_patch,
      "update:users,update:users_app_metadata,update:current_user_metadata",
      USERS_W },
    { "DELETE", "/api/v2/users/{id}", api_user_delete, "delete:users",
      USERS_D },
    { "POST", "/api/v2/users/{id}/identities", api_identity_link, UPDATE_USERS,
      USERS_W },
    { "DELETE", "/api/v2/users/{id}/identities/{id}/{id}", api_identity_unlink,
      UPDATE_USERS, USERS_D },
    { "GET", "/api/v2/users/{id}/enrollments", api_user_enrollments,
      "read:users", USERS_R },
    { "GET", "/api/v2/users/{id}/authentication-methods", api_user_authn,
      "read:authentication_methods", USERS_R },
    { "GET", "/api/v2/users-by-email", api_users_by_email, "read:users",
      USERS_R },
    { "POST", "/api/v2/jobs/users-imports", api_import_create, "create:users",
      LIMIT_OTHER },
    { "POST", "/api/v2/jobs/users-exports", api_export_create, "read:users",
      LIMIT_OTHER },
    { "GET", "/api/v2/jobs/{id}", api_job_get, "create:users,read:users",
      LIMIT_OTHER },
    { "GET", "/api/v2/jobs/{id}/errors", api_job_errors,
      "create:users,read:users", LIMIT_OTHER },
    { NULL, NULL, NULL, NULL, LIMIT_OTHER },
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *api_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* Matches path against a template, capturing {id} segments. */
static int match(const char *tmpl, const char *path,
                 char *params[API_MAX_PARAMS])
{
    int np = 0;
    while (*tmpl && *path) {
        if (strncmp(tmpl, "{id}", 4) == 0) {
            size_t n = strcspn(path, "/");
            if (n == 0 || np == API_MAX_PARAMS ||
                !(params[np] = api_decode(path, n)))
                return 0;
            np++;
            tmpl += 4;
            path += n;
            continue;
        }
        if (*tmpl != *path)
            return 0;
        tmpl++;
        path++;
    }
    return *tmpl == '\0' && *path == '\0';
}

static void free_params(char *params[API_MAX_PARAMS])
{
    for (int i = 0; i < API_MAX_PARAMS; i++) {
        free(params[i]);
        params[i] = NULL;
    }
}

/* Finds the route and captures its parameters. A known path with
 * another method is unknown too: Auth0 answers 404 for both. */
static const route_t *find_route(const char *method, const char *path,
                                 char *params[API_MAX_PARAMS])
{
    for (const route_t *r = mgmt_routes; r->method; r++) {
        if (strcmp(r->method, method) == 0 && match(r->route, path, params))
            return r;
        free_params(params);
    }
    return NULL;
}

size_t api_body_limit(void *arg, const char *method, const char *path)
{
    (void)arg;
    if (strcmp(method, "POST") == 0 &&
        strcmp(path, "/api/v2/jobs/users-imports") == 0)
        return API_IMPORT_MAX_BYTES;
    return API_BODY_MAX_BYTES;
}

static int has_scope(const char *granted, const char *wanted)
{
    char want[160];
    snprintf(want, sizeof want, "%s", wanted);
    char *save = NULL;
    for (char *w = strtok_r(want, ",", &save); w;
         w = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(w);
        for (const char *g = strstr(granted, w); g; g = strstr(g + 1, w))
            if ((g == granted || g[-1] == ' ') && (g[n] == ' ' || !g[n]))
                return 1;
    }
    return 0;
}

static void set_rate_headers(http_resp_t *resp, const ratelimit_info_t *rl)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)rl->limit);
    http_resp_header(resp, "x-ratelimit-limit", v);
    snprintf(v, sizeof v, "%lld", (long long)rl->remaining);
    http_resp_header(resp, "x-ratelimit-remaining", v);
    snprintf(v, sizeof v, "%lld", (long long)rl->reset);
    http_resp_header(resp, "x-ratelimit-reset", v);
}

/* The buckets; returns 0 when the request was refused with a 429. */
static int rate_gate(api_call_t *c, limit_group_t group)
{
    sim_t *sim = c->sim;
    if (!sim->limits)
        return 1;
    ratelimit_info_t rl;
    int limited = 0;
    sim_lock(sim);
    limit_verdict_t v =
        limits_take(sim->limits, group, c->now_ms, &rl, &limited);
    if (v != LIMIT_PASS)
        counters_rate_limited(sim->counters);
    sim_unlock(sim);
    if (limited)
        set_rate_headers(c->resp, &rl);
    if (v == LIMIT_PASS)
        return 1;
    if (group == LIMIT_TOKEN)
        reply_oauth_error(c->resp, 429, "too_many_requests",
                          "Global limit has been reached");
    else if (v == LIMIT_GLOBAL)
        reply_error(c->resp, 429, "Global limit has been reached",
                    "too_many_requests");
    else
        reply_error(c->resp, 429,
                    "Too many requests. Check the X-RateLimit-Limit, "
                    "X-RateLimit-Remaining and X-RateLimit-Reset headers.",
                    "too_many_requests");
    return 0;
}

static const char *bearer(const http_req_t *req)
{
    const char *h = http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

/* Returns 0 when the request was refused with a 401; on success the
 * token's scope is copied into c->scope. */
static int auth_gate(api_call_t *c)
{
    const char *tok = bearer(c->req);
    token_state_t st = TOKEN_UNKNOWN;
    if (tok) {
        const char *scope = NULL;
        sim_lock(c->sim);
        st = tokens_check(c->sim->tokens, tok, c->now_ms, &scope);
        if (st == TOKEN_VALID)
            c->scope = xstrdup(scope);
        sim_unlock(c->sim);
    }
    if (st == TOKEN_VALID)
        return 1;
    reply_error(c->resp, 401,
                st == TOKEN_EXPIRED
                    ? "Expired token received for JSON Web Token validation"
                    : "Invalid token.",
                NULL);
    return 0;
}

static void fake_rate_limit(api_call_t *c)
{
    /* Replaces the bucket's own headers, if any. */
    for (int i = 0; i < c->resp->nheaders; i++) {
        free(c->resp->headers[i][0]);
        free(c->resp->headers[i][1]);
    }
    c->resp->nheaders = 0;
    ratelimit_info_t rl = { 50, 0, c->now_ms / 1000 + 1 };
    int64_t burst = c->sim->limits ? limits_burst(c->sim->limits, c->group) : 0;
    if (burst > 0)
        rl.limit = burst;
    set_rate_headers(c->resp, &rl);
    reply_error(c->resp, 429, "Global limit has been reached",
                "too_many_requests");
    counters_rate_limited(c->sim->counters);
}

/* Applies the fault armed for this route, if any; returns 1 when the
 * request is answered (or dropped) without its handler. */
static int apply_fault(api_call_t *c, const char *route)
{
    sim_lock(c->sim);
    fault_t d = faults_take(c->sim->faults, c->req->method, route, 1);
    sim_unlock(c->sim);
    if (d.kind == FAULT_DELAY)
        util_sleep_ms(d.delay_ms);
    sim_lock(c->sim);
    fault_t f = faults_take(c->sim->faults, c->req->method, route, 0);
    if (f.kind == FAULT_RATE_LIMIT)
        fake_rate_limit(c);
    sim_unlock(c->sim);
    switch (f.kind) {
    case FAULT_STATUS:
        reply_error(c->resp, f.status, reply_reason(f.status), NULL);
        return 1;
    case FAULT_RATE_LIMIT:
        return 1;
    case FAULT_DROP:
        c->resp->drop = 1;
        c->resp->status = 0;
        return 1;
    case FAULT_DROP_AFTER:
        c->resp->drop = 1;
        return 0;
    case FAULT_JOB_FAIL:
    case FAULT_JOB_STUCK:
        c->job_fault = f.kind;
        return 0;
    default:
        return 0;
    }
}

static void handle_mgmt(api_call_t *c)
{
    http_req_t *req = c->req;
    const route_t *r = find_route(req->method, req->path, c->params);
    c->resp->route = r ? r->route : "/api/v2/(unknown)";
    c->group = r ? r->group : LIMIT_OTHER;
    if (!rate_gate(c, c->group) || !auth_gate(c))
        return;
    if (!r) {
        reply_error(c->resp, 404, "Not Found", NULL);
        return;
    }
    if (!has_scope(c->scope, r->scopes)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Insufficient scope, expected any of: %s",
                 r->scopes);
        reply_error(c->resp, 403, msg, "insufficient_scope");
        return;
    }
    if (req->too_large) {
        reply_too_large(c->resp, req->body_limit);
        return;
    }
    if (!apply_fault(c, r->route))
        r->fn(c);
}

static void route(api_call_t *c)
{
    const char *path = c->req->path;
    if (strncmp(path, "/api/v2/", 8) == 0) {
        handle_mgmt(c);
        return;
    }
    if (strcmp(path, "/oauth/token") == 0 &&
        strcmp(c->req->method, "POST") == 0) {
        c->resp->route = "/oauth/token";
        c->group = LIMIT_TOKEN;
        if (!rate_gate(c, LIMIT_TOKEN))
            return;
        if (c->req->too_large)
            reply_too_large(c->resp, c->req->body_limit);
        else if (!apply_fault(c, "/oauth/token"))
            api_oauth_token(c);
        return;
    }
    if (strncmp(path, "/__exports/", 11) == 0 &&
        strcmp(c->req->method, "GET") == 0) {
        c->resp->route = "/__exports/{file}";
        api_export_download(c);
        return;
    }
    c->resp->route = "(unknown)";
    reply_error(c->resp, 404, "Not Found", NULL);
}

void api_handle(void *arg, http_req_t *req, http_resp_t *resp)
{
    sim_t *sim = arg;
    api_call_t c;
    memset(&c, 0, sizeof c);
    c.sim = sim;
    c.req = req;
    c.resp = resp;
    c.now_ms = util_wall_ms();
    if (req->uri_too_long) {
        resp->route = "(unknown)";
        reply_error(resp, 414, "URI Too Long", NULL);
    } else if (strncmp(req->path, "/__sim/", 7) == 0) {
        api_inspect(&c);
        return;
    } else {
        route(&c);
    }
    free_params(c.params);
    free(c.scope);

    int api = strncmp(req->path, "/api/v2/", 8) == 0;
    sim_lock(sim);
    counters_record(sim->counters, req->method, resp->route, resp->status,
                    c.now_ms, api);
    sim_unlock(sim);
    log_debug("api", "%s %s %d %lld ms", req->method, resp->route, resp->status,
              (long long)(util_wall_ms() - c.now_ms));
}

/* 1 when host (maybe with ":port") is domain. */
static int host_is(const char *host, const char *domain)
{
    size_t n = strcspn(host, ":");
    return strlen(domain) == n && strncasecmp(host, domain, n) == 0;
}

void api_dispatch(void *arg, http_req_t *req, http_resp_t *resp)
{
    api_tenants_t *t = arg;
    sim_t *sim = t->sims[0];
    const char *want = NULL;
    if (strncmp(req->path, "/__exports/", 11) == 0)
        want = http_arg(req, "tenant");
    if (!want)
        want = http_header(req, "Host");
    for (int i = 1; want && i < t->n; i++)
        if (host_is(want, t->sims[i]->cfg.domain))
            sim = t->sims[i];
    api_handle(sim, req, resp);
}
