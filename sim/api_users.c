/* api_users: the connection and user endpoints of the Management API.
 * Stored users are shown without their secrets, which live apart from the
 * profile in the store. */
#include "api.h"

#include "rand.h"
#include "reply.h"
#include "store.h"
#include "validate.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static long conn_arg(api_call_t *c, const char *name, long def)
{
    const char *v = http_arg(c->req, name);
    char *end;
    long n = v ? strtol(v, &end, 10) : def;
    return v && (!*v || *end || n < 0) ? -1 : n;
}

/* Pages of the list: checkpoint (from/take, with a "next" cursor, which
 * is the index of the next connection), offset with totals, or a plain
 * array. */
static json_t *conn_page(api_call_t *c, json_t *all)
{
    const char *from = http_arg(c->req, "from");
    long take = conn_arg(c, "take", 50), page = conn_arg(c, "page", 0);
    long per_page = conn_arg(c, "per_page", 50);
    const char *tot = http_arg(c->req, "include_totals");
    long n = (long)json_array_size(all);
    long start = 0, count = n;
    if (from || http_arg(c->req, "take")) {
        start = from ? conn_arg(c, "from", 0) : 0;
        count = take;
    } else if (http_arg(c->req, "page") || http_arg(c->req, "per_page")) {
        start = page * per_page;
        count = per_page;
    }
    json_t *slice = json_array();
    for (long i = start; i >= 0 && i < n && i < start + count; i++)
        json_array_append(slice, json_array_get(all, (size_t)i));
    if (from || http_arg(c->req, "take")) {
        json_t *env = json_pack("{s:o}", "connections", slice);
        if (start + count < n) {
            char next[32];
            snprintf(next, sizeof next, "%ld", start + count);
            json_object_set_new(env, "next", json_string(next));
        }
        return env;
    }
    if (tot && strcmp(tot, "true") == 0)
        return json_pack("{s:o, s:i, s:i, s:i}", "connections", slice, "start",
                         (int)start, "limit", (int)count, "total", (int)n);
    return slice;
}

void api_connections_list(api_call_t *c)
{
    const char *name = http_arg(c->req, "name");
    const char *strategy = http_arg(c->req, "strategy");
    if (conn_arg(c, "take", 0) < 0 || conn_arg(c, "from", 0) < 0 ||
        conn_arg(c, "page", 0) < 0 || conn_arg(c, "per_page", 0) < 0 ||
        conn_arg(c, "take", 0) > 100 || conn_arg(c, "per_page", 0) > 100) {
        reply_error(c->resp, 400,
                    "Query validation error: 'from', 'take', 'page' and "
                    "'per_page' must be integers (take and per_page at most "
                    "100).",
                    "invalid_query_string");
        return;
    }
    json_t *list = json_array();
    sim_lock(c->sim);
    for (int i = 0; i < store_conn_count(c->sim->store); i++) {
        const store_conn_t *conn = store_conn_at(c->sim->store, i);
        if (name && strcmp(name, conn->name) != 0)
            continue;
        if (strategy && strcmp(strategy, conn->strategy) != 0)
            continue;
        json_array_append_new(list, store_conn_json(conn, 0));
    }
    sim_unlock(c->sim);
    json_t *out = conn_page(c, list);
    json_decref(list);
    reply_json(c->resp, 200, out);
}

void api_connection_get(api_call_t *c)
{
    sim_lock(c->sim);
    const store_conn_t *conn = store_conn_by_id(c->sim->store, c->params[0]);
    json_t *j = conn ? store_conn_json(conn, 1) : NULL;
    sim_unlock(c->sim);
    if (j)
        reply_json(c->resp, 200, j);
    else
        reply_error(c->resp, 404, "The connection does not exist",
                    "inexistent_connection");
}

/* A copy of the profile cut down to the fields and include_fields query
 * parameters: a comma-separated list kept (or, with include_fields=false,
 * dropped). */
static json_t *shown(const api_call_t *c, const json_t *profile)
{
    const char *fields = http_arg(c->req, "fields");
    const char *inc = http_arg(c->req, "include_fields");
    json_t *copy = json_deep_copy(profile);
    if (!fields || !*fields)
        return copy;
    int keep = !inc || strcmp(inc, "false") != 0;
    json_t *out = keep ? json_object() : copy;
    char *list = xstrdup(fields), *save = NULL;
    for (char *f = strtok_r(list, ",", &save); f;
         f = strtok_r(NULL, ",", &save)) {
        json_t *v = json_object_get(copy, f);
        if (keep && v)
            json_object_set(out, f, v);
        else if (!keep)
            json_object_del(out, f);
    }
    free(list);
    if (keep)
        json_decref(copy);
    return out;
}

void api_user_get(api_call_t *c)
{
    sim_lock(c->sim);
    const store_user_t *u = store_user_by_id(c->sim->store, c->params[0]);
    json_t *j = u ? shown(c, u->profile) : NULL;
    sim_unlock(c->sim);
    if (j)
        reply_json(c->resp, 200, j);
    else
        reply_error(c->resp, 404, "The user does not exist.",
                    "inexistent_user");
}

void api_user_delete(api_call_t *c)
{
    sim_lock(c->sim);
    store_delete(c->sim->store, c->params[0]);
    sim_unlock(c->sim);
    reply_empty(c->resp, 204);
}

void api_users_by_email(api_call_t *c)
{
    const char *email = http_arg(c->req, "email");
    if (!email) {
        reply_error(c->resp, 400,
                    "Query validation error: 'Missing required property: "
                    "email' on property email.",
                    "invalid_query_string");
        return;
    }

    /* Exact match: Auth0 compares case-sensitively, and database
     * connections store e-mails lower-cased. */
    json_t *list = json_array();
    sim_lock(c->sim);
    const store_user_t *u =
        store_find(c->sim->store, STORE_KEY_EMAIL, email, NULL);
    for (; u; u = u->same[STORE_KEY_EMAIL])
        json_array_append_new(list, shown(c, u->profile));
    sim_unlock(c->sim);
    reply_json(c->resp, 200, list);
}

/* --- GET /users ----------------------------------------------------- */

#define MAX_TERMS  8
#define PAGING_CAP 1000
#define PER_PAGE_DESC                                                   \
    "(Number of results per page. Paging is disabled if parameter not " \
    "sent. Default: <code>50</code>. Max value: <code>100</code>)"

typedef struct {
    char *field;
    char *value; /* lower-cased; a trailing '*' makes it a prefix */
    int prefix;
} term_t;

typedef struct {
    term_t terms[MAX_TERMS];
    int nterms;
} query_t;

static void query_free(query_t *q)
{
    for (int i = 0; i < q->nterms; i++) {
        free(q->terms[i].field);
        free(q->terms[i].value);
    }
    q->nterms = 0;
}

/* One term FIELD:VALUE or FIELD:"VALUE"; returns the end, or NULL. */
static const char *parse_term(const char *p, term_t *t)
{
    const char *colon = strchr(p, ':');
    if (!colon || colon == p || strcspn(p, " ") < (size_t)(colon - p))
        return NULL;
    const char *v = colon + 1, *end;
    if (*v == '"') {
        end = strchr(v + 1, '"');
        if (!end)
            return NULL;
        t->value = xstrndup(v + 1, (size_t)(end - v - 1));
        end++;
    } else {
        end = v + strcspn(v, " ");
        t->value = xstrndup(v, (size_t)(end - v));
    }
    t->field = xstrndup(p, (size_t)(colon - p));
    size_t n = strlen(t->value);
    t->prefix = n > 0 && t->value[n - 1] == '*';
    if (t->prefix)
        t->value[n - 1] = '\0';
    store_lower(t->value);
    return end;
}

/* Terms joined by spaces or AND: the subset of Lucene that clients of
 * the migration use. Returns -1 on anything else. */
static int parse_query(const char *q, query_t *out)
{
    out->nterms = 0;
    const char *p = q;
    while (*p) {
        p += strspn(p, " ");
        if (!*p)
            break;
        if (strncmp(p, "AND ", 4) == 0) {
            p += 4;
            continue;
        }
        if (out->nterms == MAX_TERMS)
            return -1;
        const char *end = parse_term(p, &out->terms[out->nterms]);
        if (!end)
            return -1;
        out->nterms++;
        p = end;
    }
    return 0;
}

static int value_matches(const json_t *v, const term_t *t)
{
    char num[32];
    const char *s = json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        s = num;
    } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
    }
    if (!s)
        return 0;
    size_t n = strlen(t->value);
    if (t->prefix ? strlen(s) < n : strlen(s) != n)
        return 0;
    return strncasecmp(s, t->value, n) == 0;
}

static int term_matches(const json_t *profile, const term_t *t)
{
    if (strncmp(t->field, "identities.", 11) == 0) {
        const json_t *ids = json_object_get(profile, "identities");
        for (size_t i = 0; i < json_array_size(ids); i++)
            if (value_matches(
                    json_object_get(json_array_get(ids, i), t->field + 11), t))
                return 1;
        return 0;
    }
    const char *dot = strchr(t->field, '.');
    if (dot) {
        char *parent = xstrndup(t->field, (size_t)(dot - t->field));
        const json_t *obj = json_object_get(profile, parent);
        free(parent);
        return value_matches(json_object_get(obj, dot + 1), t);
    }
    return value_matches(json_object_get(profile, t->field), t);
}

static int query_matches(const json_t *profile, const query_t *q)
{
    for (int i = 0; i < q->nterms; i++)
        if (!term_matches(profile, &q->terms[i]))
            return 0;
    return 1;
}

static void query_error(api_call_t *c, const char *detail, const char *prop,
                        const char *desc)
{
    char msg[400];
    snprintf(msg, sizeof msg, "Query validation error: '%s' on property %s %s.",
             detail, prop, desc);
    reply_error(c->resp, 400, msg, "invalid_query_string");
}

/* Reads an optional non-negative integer query argument; 0 or -1
 * (answered). */
static int int_arg(api_call_t *c, const char *name, long max, long *out,
                   const char *desc)
{
    const char *v = http_arg(c->req, name);
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    char detail[120];
    if (!*v || *end) {
        snprintf(detail, sizeof detail,
                 "Expected type integer but found type string");
        query_error(c, detail, name, desc);
        return -1;
    }
    if (n < 0 || n > max) {
        snprintf(detail, sizeof detail, "Value %ld is %s %ld", n,
                 n < 0 ? "less than minimum" : "greater than maximum",
                 n < 0 ? 0L : max);
        query_error(c, detail, name, desc);
        return -1;
    }
    *out = n;
    return 0;
}

typedef struct {
    const char *field;
    int dir;
} sort_t;

static sort_t sort_key; /* guarded by the tenant mutex */

static int by_sort(const void *a, const void *b)
{
    const store_user_t *ua = *(const store_user_t *const *)a;
    const store_user_t *ub = *(const store_user_t *const *)b;
    const char *sa =
        json_string_value(json_object_get(ua->profile, sort_key.field));
    const char *sb =
        json_string_value(json_object_get(ub->profile, sort_key.field));
    int r = strcmp(sa ? sa : "", sb ? sb : "");
    return r * sort_key.dir;
}

/* Collects the matching users in insertion order (or sorted). */
static size_t collect(api_call_t *c, const query_t *q,
                      const store_user_t ***out)
{
    size_t n = 0, cap = 64;
    const store_user_t **all = xmalloc(cap * sizeof *all);
    for (const store_user_t *u = store_first(c->sim->store); u; u = u->next) {
        if (!query_matches(u->profile, q))
            continue;
        if (n == cap) {
            cap *= 2;
            all = xrealloc(all, cap * sizeof *all);
        }
        all[n++] = u;
    }
    const char *sort = http_arg(c->req, "sort");
    const char *colon = sort ? strchr(sort, ':') : NULL;
    if (colon && colon - sort < 64) {
        static char field[64];
        snprintf(field, sizeof field, "%.*s", (int)(colon - sort), sort);
        sort_key.field = field;
        sort_key.dir = strcmp(colon + 1, "-1") == 0 ? -1 : 1;
        /* Ties have no defined order, as on Auth0's search. */
        qsort(all, n, sizeof *all, by_sort);
    }
    *out = all;
    return n;
}

static json_t *envelope(json_t *users, long start, long limit, size_t total)
{
    return json_pack("{s:i, s:i, s:i, s:o, s:I}", "start", (int)start, "limit",
                     (int)limit, "length", (int)json_array_size(users), "users",
                     users, "total", (json_int_t)total);
}

void api_users_list(api_call_t *c)
{
    long page = 0, per_page = 50;
    if (int_arg(c, "page", 1000000, &page,
                "(Page index of the results to "
                "return. First page is 0.)") < 0 ||
        int_arg(c, "per_page", 100, &per_page, PER_PAGE_DESC) < 0)
        return;
    if ((page + 1) * per_page > PAGING_CAP) {
        reply_error(c->resp, 400,
                    "You can only page through the first 1000 records. See "
                    "https://auth0.com/docs/users/search/v3/"
                    "view-search-results-by-page#limitation",
                    "invalid_paging");
        return;
    }
    query_t q = { .nterms = 0 };
    const char *qs = http_arg(c->req, "q");
    if (qs && parse_query(qs, &q) < 0) {
        query_free(&q);
        reply_error(c->resp, 400,
                    "Query validation error: the simulator supports "
                    "FIELD:VALUE terms joined by AND.",
                    "invalid_query_string");
        return;
    }
    const char *tot = http_arg(c->req, "include_totals");
    int totals = tot && strcmp(tot, "true") == 0;

    sim_lock(c->sim);
    const store_user_t **all;
    size_t n = collect(c, &q, &all);
    json_t *users = json_array();
    size_t from = (size_t)(page * per_page);
    for (size_t i = from; i < n && i < from + (size_t)per_page; i++)
        json_array_append_new(users, shown(c, all[i]->profile));
    sim_unlock(c->sim);
    free(all);
    query_free(&q);
    reply_json(c->resp, 200,
               totals ? envelope(users, (long)from, per_page, n) : users);
}

/* --- PATCH /users/{id} ---------------------------------------------- */

typedef struct {
    const char *name;
    json_type type;
    size_t max_len; /* strings; 0 = unbounded */
} patch_field_t;

static const patch_field_t patch_fields[] = {
    { "blocked", JSON_TRUE, 0 },
    { "email_verified", JSON_TRUE, 0 },
    { "email", JSON_STRING, 254 },
    { "phone_number", JSON_STRING, 16 },
    { "phone_verified", JSON_TRUE, 0 },
    { "user_metadata", JSON_OBJECT, 0 },
    { "app_metadata", JSON_OBJECT, 0 },
    { "given_name", JSON_STRING, 150 },
    { "family_name", JSON_STRING, 150 },
    { "name", JSON_STRING, 300 },
    { "nickname", JSON_STRING, 300 },
    { "picture", JSON_STRING, 0 },
    { "verify_email", JSON_TRUE, 0 },
    { "verify_phone_number", JSON_TRUE, 0 },
    { "password", JSON_STRING, 0 },
    { "connection", JSON_STRING, 0 },
    { "client_id", JSON_STRING, 0 },
    { "username", JSON_STRING, 128 },
    { NULL, JSON_NULL, 0 },
};

static int type_fits(const patch_field_t *f, const json_t *v)
{
    if (f->type == JSON_TRUE)
        return json_is_boolean(v);
    if (f->type == JSON_STRING)
        return json_is_string(v) ||
               (json_is_null(v) && strcmp(f->name, "username") != 0);
    return json_typeof(v) == f->type;
}

/* Schema checks of the body (the OpenAPI UpdateUserRequestContent, which
 * lets unknown properties through). Returns 0 or -1 (answered). */
static int patch_check(api_call_t *c, json_t *body)
{
    char msg[300];
    for (const patch_field_t *f = patch_fields; f->name; f++) {
        json_t *v = json_object_get(body, f->name);
        const char *s = json_string_value(v);
        if (!v)
            continue;
        if (!type_fits(f, v))
            snprintf(msg, sizeof msg,
                     "Payload validation error: 'Expected "
                     "type %s but found type %s' on property %s.",
                     f->type == JSON_TRUE     ? "boolean"
                     : f->type == JSON_OBJECT ? "object"
                                              : "string",
                     json_is_string(v) ? "string" : "other", f->name);
        else if (s && (!*s || (f->max_len && strlen(s) > f->max_len)))
            snprintf(msg, sizeof msg,
                     "Payload validation error: 'String "
                     "length out of range' on property %s.",
                     f->name);
        else if (s && strcmp(f->name, "email") == 0 && !validate_email(s))
            snprintf(msg, sizeof msg,
                     "Payload validation error: 'Object "
                     "didn't pass validation for format email: %.100s' on "
                     "property email.",
                     s);
        else
            continue;
        reply_bad_body(c->resp, msg);
        return -1;
    }
    return 0;
}

/* First-level merge; a null value removes the key. */
static void merge_meta(json_t *profile, const char *key, const json_t *patch)
{
    json_t *cur = json_object_get(profile, key);
    if (!json_is_object(cur)) {
        cur = json_object();
        json_object_set_new(profile, key, cur);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v)
    {
        if (json_is_null(v))
            json_object_del(cur, k);
        else
            json_object_set(cur, k, v);
    }
}

static void set_password(store_user_t *u, const char *password)
{
    char salt[64], hash[128];
    struct crypt_data *cd = xcalloc(1, sizeof *cd);
    const char *out = NULL;
    if (crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof salt))
        out = crypt_r(password, salt, cd);
    if (out && out[0] != '*') {
        snprintf(hash, sizeof hash, "%s", out);
        if (!u->secrets)
            u->secrets = json_object();
        json_object_del(u->secrets, "custom_password_hash");
        json_object_set_new(u->secrets, "password_hash", json_string(hash));
    }
    free(cd);
}

/* The key a changed e-mail or username would collide on, or NULL. */
static const char *patch_clash(api_call_t *c, store_user_t *u, json_t *body)
{
    const char *email = json_string_value(json_object_get(body, "email"));
    const char *name = json_string_value(json_object_get(body, "username"));
    char *key;
    const store_user_t *o;
    if (email) {
        key = store_lower(xstrdup(email));
        o = store_find(c->sim->store, STORE_KEY_EMAIL, key, u->conn);
        free(key);
        if (o && o != u)
            return "email";
    }
    if (name) {
        key = store_lower(xstrdup(name));
        o = store_find(c->sim->store, STORE_KEY_USERNAME, key, u->conn);
        free(key);
        if (o && o != u)
            return "username";
    }
    return NULL;
}

static const char *const patch_plain[] = {
    "blocked",    "email_verified", "phone_verified",
    "given_name", "family_name",    "name",
    "nickname",   "picture",        "phone_number",
    NULL,
};

static void patch_apply(store_user_t *u, json_t *body, int64_t now_ms)
{
    json_t *p = u->profile;
    for (const char *const *f = patch_plain; *f; f++) {
        json_t *v = json_object_get(body, *f);
        if (json_is_null(v))
            json_object_del(p, *f);
        else if (v)
            json_object_set(p, *f, v);
    }
    const char *email = json_string_value(json_object_get(body, "email"));
    if (email) {
        char *low = store_lower(xstrdup(email));
        json_object_set_new(p, "email", json_string(low));
        free(low);
        if (!json_object_get(body, "email_verified"))
            json_object_set_new(p, "email_verified", json_false());
    }
    const char *name = json_string_value(json_object_get(body, "username"));
    if (name) {
        char *low = store_lower(xstrdup(name));
        json_object_set_new(p, "username", json_string(low));
        free(low);
    }
    json_t *m;
    if ((m = json_object_get(body, "user_metadata")))
        merge_meta(p, "user_metadata", m);
    if ((m = json_object_get(body, "app_metadata")))
        merge_meta(p, "app_metadata", m);
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (pw)
        set_password(u, pw);
    char now[32];
    reply_iso_ms(now_ms, now);
    json_object_set_new(p, "updated_at", json_string(now));
}

static void patch_locked(api_call_t *c, json_t *body)
{
    store_user_t *u = store_user_by_id(c->sim->store, c->params[0]);
    if (!u) {
        reply_error(c->resp, 404, "The user does not exist.",
                    "inexistent_user");
        return;
    }
    const char *clash = patch_clash(c, u, body);
    if (clash) {
        char msg[80];
        snprintf(msg, sizeof msg, "The specified new %s already exists", clash);
        reply_error(c->resp, 409, msg, NULL);
        return;
    }
    if (json_object_get(body, "username") && !store_conn_is_database(u->conn)) {
        reply_bad_body(c->resp, "Cannot update username for non-database "
                                "connections.");
        return;
    }
    patch_apply(u, body, c->now_ms);
    store_rekey(c->sim->store, u);
    reply_json(c->resp, 200, shown(c, u->profile));
}

void api_user_patch(api_call_t *c)
{
    json_error_t err;
    json_t *body = json_loadb(c->req->body.data ? c->req->body.data : "",
                              c->req->body.len, 0, &err);
    if (!json_is_object(body))
        reply_bad_body(c->resp, "Invalid request payload JSON format");
    else if (patch_check(c, body) == 0) {
        sim_lock(c->sim);
        patch_locked(c, body);
        sim_unlock(c->sim);
    }
    json_decref(body);
}
