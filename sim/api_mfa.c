/* api_mfa: the read side of multi-factor authentication, built from the
 * mfa_factors a user was imported with. GET /users/{id}/enrollments lists
 * the confirmed Guardian enrollments (TOTP and SMS factors);
 * GET /users/{id}/authentication-methods lists every factor. Like Auth0,
 * the reads mask phone numbers and e-mail addresses and never return a
 * TOTP secret. Device ids derive from the user id and the factor's place,
 * so they are stable across calls and restarts. */
#include "api.h"

#include "hmap.h"
#include "rand.h"
#include "reply.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "XXXXXXXX0001": all but the last four characters hidden. */
static char *mask_phone(const char *s)
{
    char *m = xstrdup(s);
    size_t n = strlen(m);
    for (size_t i = 0; i + 4 < n; i++)
        m[i] = 'X';
    return m;
}

/* Keeps the first four characters of the local part and of the domain:
 * "chuck878@example.com" reads "chuc****@exam*******". */
static char *mask_email(const char *s)
{
    char *m = xstrdup(s);
    char *at = strchr(m, '@');
    size_t local = at ? (size_t)(at - m) : strlen(m);
    for (size_t i = 4; i < local; i++)
        m[i] = '*';
    if (at)
        for (char *p = at + 5; p < m + strlen(m); p++)
            *p = '*';
    return m;
}

static void device_id(const store_user_t *u, size_t i, const char *kind,
                      char out[48])
{
    uint64_t st = hmap_hash(u->id, strlen(u->id)) + i;
    char tail[17];
    rand_alnum(&st, tail, 16);
    snprintf(out, 48, "%s|dev_%s", kind, tail);
}

static const char *created_of(const store_user_t *u)
{
    const char *t =
        json_string_value(json_object_get(u->profile, "created_at"));
    return t ? t : "1970-01-01T00:00:00.000Z";
}

static json_t *enrollment(const store_user_t *u, size_t i, const json_t *f)
{
    char id[48];
    const char *at = created_of(u);
    if (json_object_get(f, "totp")) {
        device_id(u, i, "totp", id);
        return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "status",
                         "confirmed", "type", "authenticator", "auth_method",
                         "authenticator", "enrolled_at", at);
    }
    const char *phone = json_string_value(
        json_object_get(json_object_get(f, "phone"), "value"));
    if (!phone)
        return NULL;
    device_id(u, i, "sms", id);
    char *masked = mask_phone(phone);
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "status",
                          "confirmed", "type", "sms", "auth_method", "sms",
                          "phone_number", masked, "enrolled_at", at);
    free(masked);
    return e;
}

static store_user_t *user_or_404(api_call_t *c)
{
    store_user_t *u = store_user_by_id(c->sim->store, c->params[0]);
    if (!u)
        reply_error(c->resp, 404, "The user does not exist.",
                    "inexistent_user");
    return u;
}

void api_user_enrollments(api_call_t *c)
{
    sim_lock(c->sim);
    store_user_t *u = user_or_404(c);
    json_t *list = u ? json_array() : NULL;
    json_t *factors = u ? json_object_get(u->secrets, "mfa_factors") : NULL;
    for (size_t i = 0; i < json_array_size(factors); i++) {
        json_t *e = enrollment(u, i, json_array_get(factors, i));
        if (e)
            json_array_append_new(list, e);
    }
    sim_unlock(c->sim);
    if (list)
        reply_json(c->resp, 200, list);
}

static json_t *method(const store_user_t *u, size_t i, const json_t *f)
{
    char id[48];
    const char *at = created_of(u);
    const char *kinds[] = { "totp", "phone", "email" };
    for (int k = 0; k < 3; k++) {
        const json_t *v = json_object_get(f, kinds[k]);
        if (!v)
            continue;
        device_id(u, i, kinds[k], id);
        json_t *m = json_pack("{s:s, s:s, s:b, s:s}", "id", id, "type",
                              kinds[k], "confirmed", 1, "created_at", at);
        const char *val = json_string_value(json_object_get(v, "value"));
        char *masked = NULL;
        if (k == 1 && val) {
            masked = mask_phone(val);
            json_object_set_new(m, "phone_number", json_string(masked));
            json_object_set_new(m, "preferred_authentication_method",
                                json_string("sms"));
        } else if (k == 2 && val) {
            masked = mask_email(val);
            json_object_set_new(m, "email", json_string(masked));
        }
        free(masked);
        return m;
    }
    return NULL;
}

static long arg_long(api_call_t *c, const char *name, long def)
{
    const char *v = http_arg(c->req, name);
    char *end;
    long n = v ? strtol(v, &end, 10) : def;
    return v && (*end || n < 0) ? -1 : n;
}

void api_user_authn(api_call_t *c)
{
    long page = arg_long(c, "page", 0), per_page = arg_long(c, "per_page", 50);
    const char *tot = http_arg(c->req, "include_totals");
    if (page < 0 || per_page < 0 || per_page > 100) {
        reply_error(c->resp, 400,
                    "Query validation error: 'page and per_page must be "
                    "integers, per_page at most 100'.",
                    "invalid_query_string");
        return;
    }
    sim_lock(c->sim);
    store_user_t *u = user_or_404(c);
    json_t *all = json_array();
    json_t *factors = u ? json_object_get(u->secrets, "mfa_factors") : NULL;
    for (size_t i = 0; i < json_array_size(factors); i++) {
        json_t *m = method(u, i, json_array_get(factors, i));
        if (m)
            json_array_append_new(all, m);
    }
    sim_unlock(c->sim);
    if (!u) {
        json_decref(all);
        return;
    }
    size_t total = json_array_size(all);
    json_t *pageful = json_array();
    for (size_t i = (size_t)(page * per_page);
         i < total && i < (size_t)((page + 1) * per_page); i++)
        json_array_append(pageful, json_array_get(all, i));
    json_decref(all);
    if (tot && strcmp(tot, "true") == 0)
        reply_json(c->resp, 200,
                   json_pack("{s:o, s:I, s:i, s:i}", "authenticators", pageful,
                             "total", (json_int_t)total, "start",
                             (int)(page * per_page), "limit", (int)per_page));
    else
        reply_json(c->resp, 200, pageful);
}
