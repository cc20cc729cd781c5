/* api_identities: account linking. Linking appends the secondary account's
 * identity, with its root attributes as profileData, to the primary's
 * identities and removes the secondary from the user list; its metadata is
 * discarded, as Auth0 discards it. Its secrets move into the primary's
 * secrets under "linked" so that unlinking can restore a standalone user
 * that still logs in. */
#include "api.h"

#include "reply.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_PATTERN "^con_[A-Za-z0-9]{16}$"

static const char *const providers[] = {
    "ad",
    "adfs",
    "amazon",
    "apple",
    "dropbox",
    "bitbucket",
    "auth0-oidc",
    "auth0",
    "baidu",
    "bitly",
    "box",
    "custom",
    "daccount",
    "dwolla",
    "email",
    "evernote-sandbox",
    "evernote",
    "exact",
    "facebook",
    "fitbit",
    "github",
    "google-apps",
    "google-oauth2",
    "instagram",
    "ip",
    "line",
    "linkedin",
    "oauth1",
    "oauth2",
    "office365",
    "oidc",
    "okta",
    "paypal",
    "paypal-sandbox",
    "pingfederate",
    "planningcenter",
    "salesforce-community",
    "salesforce-sandbox",
    "salesforce",
    "samlp",
    "sharepoint",
    "shopify",
    "shop",
    "sms",
    "soundcloud",
    "thirtysevensignals",
    "twitter",
    "untappd",
    "vkontakte",
    "waad",
    "weibo",
    "windowslive",
    "wordpress",
    "yahoo",
    "yandex",
    NULL,
};

static const char *const profile_keys[] = {
    "email",      "email_verified", "name",         "username",
    "given_name", "family_name",    "phone_number", "phone_verified",
    "nickname",   "picture",        NULL,
};

static int known_provider(const char *p)
{
    for (const char *const *q = providers; *q; q++)
        if (strcmp(*q, p) == 0)
            return 1;
    return 0;
}

static void payload_error(api_call_t *c, const char *detail, const char *prop)
{
    char msg[300];
    if (prop)
        snprintf(msg, sizeof msg,
                 "Payload validation error: '%s' on property %s.", detail,
                 prop);
    else
        snprintf(msg, sizeof msg, "Payload validation error: '%s'.", detail);
    reply_bad_body(c->resp, msg);
}

typedef struct {
    const char *provider;
    const char *conn_id;
    char uid[300]; /* without the provider prefix */
} link_req_t;

static int check_keys(api_call_t *c, json_t *body)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "provider") && strcmp(key, "connection_id") &&
            strcmp(key, "user_id") && strcmp(key, "link_with")) {
            char detail[160];
            snprintf(detail, sizeof detail,
                     "Additional properties not allowed: %.100s", key);
            payload_error(c, detail, NULL);
            return -1;
        }
    }
    if (json_object_size(body) == 0) {
        payload_error(c, "Too few properties defined (0), minimum 1", NULL);
        return -1;
    }
    return 0;
}

static int read_user_id(api_call_t *c, json_t *v, link_req_t *lr)
{
    const char *s = json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(lr->uid, sizeof lr->uid, "%lld",
                 (long long)json_integer_value(v));
        return 0;
    }
    if (!s || !*s || strlen(s) >= sizeof lr->uid) {
        payload_error(c, "Data does not match any schemas from 'oneOf'",
                      "user_id");
        return -1;
    }
    /* Accept the full id too: "auth0|abc" with provider auth0. */
    size_t n = strlen(lr->provider);
    if (strncmp(s, lr->provider, n) == 0 && s[n] == '|')
        s += n + 1;
    snprintf(lr->uid, sizeof lr->uid, "%s", s);
    return 0;
}

static int parse_link(api_call_t *c, json_t *body, link_req_t *lr)
{
    if (check_keys(c, body) < 0)
        return -1;
    if (json_object_get(body, "link_with")) {
        reply_bad_body(c->resp, "Unable to link with the secondary account.");
        return -1;
    }
    lr->provider = json_string_value(json_object_get(body, "provider"));
    json_t *cid = json_object_get(body, "connection_id");
    lr->conn_id = json_string_value(cid);
    if (!lr->provider || !known_provider(lr->provider)) {
        payload_error(c, "No enum match for: provider", "provider");
        return -1;
    }
    if (cid && (!lr->conn_id || strlen(lr->conn_id) != 20 ||
                strncmp(lr->conn_id, "con_", 4) != 0)) {
        payload_error(c, "String does not match pattern " ID_PATTERN,
                      "connection_id");
        return -1;
    }
    json_t *uid = json_object_get(body, "user_id");
    if (!uid) {
        reply_bad_body(c->resp, "Linking to an inexistent identity requires a "
                                "connection.");
        return -1;
    }
    return read_user_id(c, uid, lr);
}

static json_t *identities_copy(const store_user_t *u)
{
    json_t *ids = json_object_get(u->profile, "identities");
    return json_is_array(ids) ? json_deep_copy(ids) : json_array();
}

static int has_identity(const json_t *ids, const char *provider,
                        const char *uid)
{
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const json_t *id = json_array_get(ids, i);
        const char *p = json_string_value(json_object_get(id, "provider"));
        json_t *u = json_object_get(id, "user_id");
        char num[32];
        const char *us = json_string_value(u);
        if (json_is_integer(u)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(u));
            us = num;
        }
        if (p && us && strcmp(p, provider) == 0 && strcmp(us, uid) == 0)
            return (int)i;
    }
    return -1;
}

/* The identity the secondary brings: its own first identity with its
 * root attributes as profileData. */
static json_t *secondary_identity(const store_user_t *s)
{
    json_t *ids = json_object_get(s->profile, "identities");
    json_t *id = json_deep_copy(json_array_get(ids, 0));
    if (!json_is_object(id))
        id = json_object();
    json_t *pd = json_object();
    for (const char *const *k = profile_keys; *k; k++) {
        json_t *v = json_object_get(s->profile, *k);
        if (v)
            json_object_set(pd, *k, v);
    }
    json_object_set_new(id, "profileData", pd);
    return id;
}

static void keep_secrets(store_user_t *p, const store_user_t *s)
{
    if (!s->secrets)
        return;
    if (!p->secrets)
        p->secrets = json_object();
    json_t *linked = json_object_get(p->secrets, "linked");
    if (!json_is_object(linked)) {
        linked = json_object();
        json_object_set_new(p->secrets, "linked", linked);
    }
    json_object_set(linked, s->id, s->secrets);
}

/* Answers the reason the pair cannot be linked, or returns 0. */
static int link_refused(api_call_t *c, const store_user_t *p,
                        const store_user_t *s, const link_req_t *lr)
{
    const store_conn_t *conn = NULL;
    if (lr->conn_id) {
        conn = store_conn_by_id(c->sim->store, lr->conn_id);
        if (!conn) {
            reply_bad_body(c->resp,
                           "The provider/connection is not configured.");
            return 1;
        }
    }
    if (!s && has_identity(json_object_get(p->profile, "identities"),
                           lr->provider, lr->uid) >= 0) {
        reply_error(c->resp, 409, "Specified identity already exists.", NULL);
        return 1;
    }
    if (!s || (conn && s->conn != conn)) {
        reply_bad_body(c->resp,
                       "Linking to an inexistent identity is not allowed.");
        return 1;
    }
    if (s == p) {
        reply_bad_body(c->resp, "Main identity and the new one are the same.");
        return 1;
    }
    if (json_array_size(json_object_get(s->profile, "identities")) > 1) {
        reply_bad_body(c->resp, "Unable to link with the secondary account.");
        return 1;
    }
    return 0;
}

static void link_locked(api_call_t *c, const link_req_t *lr)
{
    store_t *store = c->sim->store;
    store_user_t *p = store_user_by_id(store, c->params[0]);
    if (!p) {
        reply_error(c->resp, 404, "The user does not exist.",
                    "inexistent_user");
        return;
    }
    char *full = xasprintf("%s|%s", lr->provider, lr->uid);
    store_user_t *s = store_user_by_id(store, full);
    if (!link_refused(c, p, s, lr)) {
        json_t *ids = json_object_get(p->profile, "identities");
        json_array_append_new(ids, secondary_identity(s));
        keep_secrets(p, s);
        store_delete(store, s->id);
        reply_json(c->resp, 201, identities_copy(p));
    }
    free(full);
}

void api_identity_link(api_call_t *c)
{
    json_error_t err;
    json_t *body = json_loadb(c->req->body.data ? c->req->body.data : "",
                              c->req->body.len, 0, &err);
    link_req_t lr;
    memset(&lr, 0, sizeof lr);
    if (!json_is_object(body))
        reply_bad_body(c->resp, "Invalid request payload JSON format");
    else if (parse_link(c, body, &lr) == 0) {
        sim_lock(c->sim);
        link_locked(c, &lr);
        sim_unlock(c->sim);
    }
    json_decref(body);
}

/* --- unlink --------------------------------------------------------- */

static json_t *standalone_profile(const json_t *identity, const char *full,
                                  int64_t now_ms)
{
    char now[32];
    reply_iso_ms(now_ms, now);
    json_t *p = json_object();
    json_t *pd = json_object_get(identity, "profileData");
    const char *key;
    json_t *v;
    json_object_foreach(pd, key, v) json_object_set(p, key, v);
    json_t *id = json_deep_copy(identity);
    json_object_del(id, "profileData");
    json_object_set_new(p, "identities", json_pack("[o]", id));
    json_object_set_new(p, "user_id", json_string(full));
    json_object_set_new(p, "created_at", json_string(now));
    json_object_set_new(p, "updated_at", json_string(now));
    return p;
}

static const char *strategy_of(const char *provider)
{
    return strcmp(provider, "auth0") == 0 ? "auth0" : provider;
}

static void restore_user(store_t *store, store_user_t *p, const json_t *id,
                         const char *provider, const char *uid, int64_t now)
{
    char *full = xasprintf("%s|%s", provider, uid);
    const char *cname = json_string_value(json_object_get(id, "connection"));
    const store_conn_t *conn = store_add_connection(
        store, cname ? cname : provider, strategy_of(provider));
    json_t *linked = json_object_get(p->secrets, "linked");
    json_t *secrets = json_object_get(linked, full);
    json_t *kept = secrets ? json_incref(secrets) : NULL;
    json_object_del(linked, full);
    if (conn)
        store_insert(store, standalone_profile(id, full, now), kept, conn, 0);
    else
        json_decref(kept);
    free(full);
}

static void unlink_locked(api_call_t *c)
{
    store_t *store = c->sim->store;
    const char *provider = c->params[1], *uid = c->params[2];
    store_user_t *p = store_user_by_id(store, c->params[0]);
    if (!p) {
        reply_error(c->resp, 404, "The user does not exist.",
                    "inexistent_user");
        return;
    }
    json_t *ids = json_object_get(p->profile, "identities");
    int at = has_identity(ids, provider, uid);
    if (at == 0) {
        reply_bad_body(c->resp, "Main identity cannot be removed.");
        return;
    }
    if (at > 0) {
        json_t *id = json_incref(json_array_get(ids, (size_t)at));
        json_array_remove(ids, (size_t)at);
        restore_user(store, p, id, provider, uid, c->now_ms);
        json_decref(id);
    }
    reply_json(c->resp, 200, identities_copy(p));
}

void api_identity_unlink(api_call_t *c)
{
    sim_lock(c->sim);
    unlink_locked(c);
    sim_unlock(c->sim);
}
