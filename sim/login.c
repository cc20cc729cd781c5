/* login: checks a user's password against the hash imported for it
 * (hashcheck: bcrypt, salted md5/sha1/sha256/sha512, hmac, pbkdf2); users
 * imported without a hash, or with an algorithm hashcheck cannot check,
 * cannot log in here. The realm names the database connection; without
 * one the first database connection stands in for the tenant's default
 * directory. A successful login updates logins_count, last_login, last_ip
 * and updated_at as Auth0 does. The access token returned is not valid for
 * the Management API. Passwords and hashes are never logged. */
#include "login.h"

#include "hashcheck.h"
#include "log.h"
#include "rand.h"
#include "reply.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

#define WRONG "Wrong email or password."

static const store_conn_t *realm_conn(const store_t *store, const char *realm)
{
    if (realm)
        return store_conn_by_name(store, realm);
    for (int i = 0; i < store_conn_count(store); i++)
        if (store_conn_is_database(store_conn_at(store, i)))
            return store_conn_at(store, i);
    return NULL;
}

static store_user_t *find_user(const store_t *store, const store_conn_t *conn,
                               const char *name)
{
    char *key = store_lower(xstrdup(name));
    store_user_t *u = store_find(store, STORE_KEY_EMAIL, key, conn);
    if (!u)
        u = store_find(store, STORE_KEY_USERNAME, key, conn);
    free(key);
    return u;
}

static void record_login(store_user_t *u, int64_t now_ms)
{
    char now[32];
    reply_iso_ms(now_ms, now);
    json_int_t n =
        json_integer_value(json_object_get(u->profile, "logins_count"));
    json_object_set_new(u->profile, "logins_count", json_integer(n + 1));
    json_object_set_new(u->profile, "last_login", json_string(now));
    json_object_set_new(u->profile, "last_ip", json_string("127.0.0.1"));
    json_object_set_new(u->profile, "updated_at", json_string(now));
}

static void grant(api_call_t *c, const char *scope)
{
    unsigned char raw[24];
    char tok[49];
    rand_secure_bytes(raw, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++) {
        tok[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        tok[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    tok[48] = '\0';
    reply_json(c->resp, 200,
               json_pack("{s:s, s:s, s:I, s:s}", "access_token", tok, "scope",
                         scope ? scope : "openid", "expires_in",
                         (json_int_t)c->sim->cfg.token_ttl_s, "token_type",
                         "Bearer"));
}

/* Copies what the check needs out of the store, so that bcrypt (slow on
 * purpose) runs without the tenant mutex. */
static json_t *lookup(api_call_t *c, const char *realm, const char *name,
                      int *blocked)
{
    sim_lock(c->sim);
    const store_conn_t *conn = realm_conn(c->sim->store, realm);
    store_user_t *u = conn ? find_user(c->sim->store, conn, name) : NULL;
    json_t *copy = u && u->secrets ? json_deep_copy(u->secrets) : NULL;
    *blocked = u && json_is_true(json_object_get(u->profile, "blocked"));
    sim_unlock(c->sim);
    return copy;
}

void login_password_grant(api_call_t *c, json_t *body)
{
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *password = json_string_value(json_object_get(body, "password"));
    const char *realm = json_string_value(json_object_get(body, "realm"));
    if (!name || !password) {
        reply_oauth_error(c->resp, 400, "invalid_request",
                          name ? "Missing required parameter: password"
                               : "Missing required parameter: username");
        return;
    }
    int blocked = 0;
    json_t *secrets = lookup(c, realm, name, &blocked);
    int ok = secrets && hashcheck_verify(secrets, password);
    json_decref(secrets);
    if (!ok) {
        reply_oauth_error(c->resp, 403, "invalid_grant", WRONG);
        return;
    }
    if (blocked) {
        reply_oauth_error(c->resp, 401, "unauthorized", "user is blocked");
        return;
    }

    /* Look the user up again: it may have changed while bcrypt ran. */
    sim_lock(c->sim);
    const store_conn_t *conn = realm_conn(c->sim->store, realm);
    store_user_t *u = conn ? find_user(c->sim->store, conn, name) : NULL;
    if (u)
        record_login(u, c->now_ms);
    sim_unlock(c->sim);
    grant(c, json_string_value(json_object_get(body, "scope")));
    log_debug("login", "password grant accepted");
}
