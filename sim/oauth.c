/* oauth: POST /oauth/token, the client-credentials grant of the
 * Authentication API (and the password grants, handed to login). Bodies may be
 * form-urlencoded or JSON. Each configured client gets its own scopes, or
 * the subset its request names; a client without a grant for the
 * Management API is refused as Auth0 refuses it. Errors use the OAuth shape
 * {error, error_description}. Secrets are compared in constant time and
 * never logged. */
#include "api.h"

#include "log.h"
#include "login.h"
#include "reply.h"
#include "tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GRANT_CC       "client_credentials"
#define GRANT_PASSWORD "password"
#define GRANT_REALM    "http://auth0.com/oauth/grant-type/password-realm"

/* Parses a form-urlencoded body into a JSON object of strings. */
static json_t *parse_form(const char *body, size_t len)
{
    json_t *o = json_object();
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq) {
            char *k = xstrndup(p, (size_t)(eq - p));
            char *v = xstrndup(eq + 1, (size_t)(stop - eq - 1));
            for (char *q = k; *q; q++)
                *q = *q == '+' ? ' ' : *q;
            for (char *q = v; *q; q++)
                *q = *q == '+' ? ' ' : *q;
            char *dk = api_decode(k, strlen(k));
            char *dv = api_decode(v, strlen(v));
            if (dk && dv && !json_object_get(o, dk))
                json_object_set_new(o, dk, json_string(dv));
            free(k);
            free(v);
            free(dk);
            free(dv);
        }
        p = stop + 1;
    }
    return o;
}

static json_t *parse_body(const http_req_t *req)
{
    const char *ct = http_header(req, "Content-Type");
    const char *data = req->body.data ? req->body.data : "";
    if (ct && strncasecmp(ct, "application/json", 16) == 0) {
        json_error_t err;
        json_t *j = json_loadb(data, req->body.len, 0, &err);
        if (json_is_object(j))
            return j;
        json_decref(j);
        return NULL;
    }
    return parse_form(data, req->body.len);
}

static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)(lb ? b[i % lb] : 0);
    return diff == 0;
}

static const char *field(json_t *body, const char *name)
{
    return json_string_value(json_object_get(body, name));
}

static void grant(api_call_t *c, const char *scope)
{
    sim_lock(c->sim);
    char *tok =
        tokens_grant(c->sim->tokens, c->now_ms, c->sim->cfg.token_ttl_s, scope);
    sim_unlock(c->sim);
    reply_json(c->resp, 200,
               json_pack("{s:s, s:I, s:s, s:s}", "access_token", tok,
                         "expires_in", (json_int_t)c->sim->cfg.token_ttl_s,
                         "scope", scope, "token_type", "Bearer"));
    free(tok);
    log_debug("oauth", "token granted");
}

/* The client whose id and secret the body carries, or NULL. */
static const sim_client_t *client_of(const sim_cfg_t *cfg, json_t *body)
{
    const char *id = field(body, "client_id");
    const char *secret = field(body, "client_secret");
    for (int i = 0; id && secret && i < cfg->nclients; i++)
        if (strcmp(id, cfg->clients[i].id) == 0)
            return same_secret(secret, cfg->clients[i].secret)
                       ? &cfg->clients[i]
                       : NULL;
    return NULL;
}

static int granted(const char *all, const char *one, size_t n)
{
    const char *g = all + strspn(all, " ");
    while (*g) {
        size_t len = strcspn(g, " ");
        if (len == n && strncmp(g, one, n) == 0)
            return 1;
        g += len;
        g += strspn(g, " ");
    }
    return 0;
}

/* The scopes asked for that the client was not granted, space-separated
 * into missing (empty when all are granted). */
static void ungranted(const char *have, const char *asked, buf_t *missing)
{
    const char *p = asked + strspn(asked, " ");
    while (*p) {
        size_t n = strcspn(p, " ");
        if (!granted(have, p, n)) {
            if (missing->len)
                buf_puts(missing, ",");
            buf_append(missing, p, n);
        }
        p += n;
        p += strspn(p, " ");
    }
}

static void unauthorized_client(api_call_t *c)
{
    char msg[400];
    snprintf(msg, sizeof msg,
             "Client is not authorized to access \"%.200s\". You need to "
             "create a \"client-grant\" associated to this API. See: "
             "https://auth0.com/docs/api/v2#!/Client_Grants/"
             "post_client_grants",
             c->sim->cfg.audience);
    reply_oauth_error(c->resp, 403, "access_denied", msg);
}

/* Grants the client's scopes, or the subset the body asks for. */
static void grant_scopes(api_call_t *c, const sim_client_t *client,
                         json_t *body)
{
    const char *asked = field(body, "scope");
    if (!asked || !*asked) {
        grant(c, client->scope);
        return;
    }
    buf_t missing;
    buf_init(&missing);
    ungranted(client->scope, asked, &missing);
    if (missing.len) {
        char *msg = xasprintf("Client has not been granted scopes: %.*s",
                              (int)(missing.len > 300 ? 300 : missing.len),
                              missing.data);
        reply_oauth_error(c->resp, 403, "access_denied", msg);
        free(msg);
    } else {
        char *norm = xstrdup(asked + strspn(asked, " "));
        grant(c, norm);
        free(norm);
    }
    buf_free(&missing);
}

static void client_credentials(api_call_t *c, const sim_client_t *client,
                               json_t *body)
{
    const char *aud = field(body, "audience");
    char msg[300];
    if (!aud) {
        reply_oauth_error(c->resp, 403, "access_denied",
                          "No audience parameter was provided, and no "
                          "default audience has been configured");
    } else if (strcmp(aud, c->sim->cfg.audience) != 0) {
        snprintf(msg, sizeof msg, "Service not enabled within domain: %.200s",
                 aud);
        reply_oauth_error(c->resp, 403, "access_denied", msg);
    } else if (!client->scope) {
        unauthorized_client(c);
    } else {
        grant_scopes(c, client, body);
    }
}

void api_oauth_token(api_call_t *c)
{
    json_t *body = parse_body(c->req);
    if (!body) {
        reply_oauth_error(c->resp, 400, "invalid_request",
                          "Invalid request body");
        return;
    }
    const char *gt = field(body, "grant_type");
    int cc = gt && strcmp(gt, GRANT_CC) == 0;
    int pw =
        gt && (strcmp(gt, GRANT_PASSWORD) == 0 || strcmp(gt, GRANT_REALM) == 0);
    char msg[300];
    const sim_client_t *client = client_of(&c->sim->cfg, body);
    if (!gt) {
        reply_oauth_error(c->resp, 400, "invalid_request",
                          "Missing required parameter: grant_type");
    } else if (!cc && !pw) {
        snprintf(msg, sizeof msg, "Unsupported grant type: %.200s", gt);
        reply_oauth_error(c->resp, 400, "unsupported_grant_type", msg);
    } else if (!client) {
        reply_oauth_error(c->resp, 401, "access_denied", "Unauthorized");
    } else if (pw) {
        login_password_grant(c, body);
    } else {
        client_credentials(c, client, body);
    }
    json_decref(body);
}
