/* store: owns the tenant's connections, its users in insertion order, the
 * indexes by full user id (unique across the tenant) and by e-mail,
 * username and phone (chains of users sharing a key, which may sit in
 * different connections), and the inserts ledger, which only ever grows so
 * that a test can prove that no id was imported twice. */
#include "store.h"

#include "hmap.h"
#include "rand.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_t {
    store_conn_t *conns[32];
    int nconns;
    json_t *client_ids;
    hmap_t *by_id;
    hmap_t *by_key[STORE_NKEYS];
    store_user_t *head, *tail;
    hmap_t *inserts; /* user id -> (uintptr_t) count */
    size_t insert_ops;
    size_t repeated;
};

char *store_lower(char *s)
{
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

store_t *store_new(const json_t *client_ids)
{
    store_t *self = xcalloc(1, sizeof *self);
    self->client_ids = json_deep_copy(client_ids);
    self->by_id = hmap_new(NULL);
    for (int k = 0; k < STORE_NKEYS; k++)
        self->by_key[k] = hmap_new(NULL);
    self->inserts = hmap_new(NULL);
    return self;
}

static void user_free(store_user_t *u)
{
    json_decref(u->profile);
    json_decref(u->secrets);
    free(u->id);
    for (int k = 0; k < STORE_NKEYS; k++)
        free(u->keys[k]);
    free(u);
}

void store_destroy(store_t **p)
{
    if (!p || !*p)
        return;
    store_t *self = *p;
    store_user_t *u = self->head;
    while (u) {
        store_user_t *next = u->next;
        user_free(u);
        u = next;
    }
    for (int i = 0; i < self->nconns; i++) {
        free(self->conns[i]->name);
        free(self->conns[i]->strategy);
        json_decref(self->conns[i]->enabled_clients);
        free(self->conns[i]);
    }
    hmap_destroy(&self->by_id);
    for (int k = 0; k < STORE_NKEYS; k++)
        hmap_destroy(&self->by_key[k]);
    hmap_destroy(&self->inserts);
    json_decref(self->client_ids);
    free(self);
    *p = NULL;
}

static const char *const social_strategies[] = {
    "google-oauth2", "facebook",    "github", "apple",  "twitter",
    "linkedin",      "windowslive", "amazon", "oauth2", NULL,
};
static const char *const enterprise_strategies[] = {
    "samlp", "waad",        "adfs",         "ad",        "oidc",
    "okta",  "google-apps", "pingfederate", "office365", NULL,
};

static int listed(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

int store_strategy_kind(const char *strategy)
{
    if (strcmp(strategy, "auth0") == 0)
        return STORE_CONN_DATABASE;
    if (strcmp(strategy, "email") == 0 || strcmp(strategy, "sms") == 0)
        return STORE_CONN_PASSWORDLESS;
    if (listed(social_strategies, strategy))
        return STORE_CONN_SOCIAL;
    if (listed(enterprise_strategies, strategy))
        return STORE_CONN_ENTERPRISE;
    return -1;
}

store_conn_t *store_add_connection(store_t *self, const char *name,
                                   const char *strategy)
{
    for (int i = 0; i < self->nconns; i++)
        if (strcmp(self->conns[i]->name, name) == 0)
            return self->conns[i];
    if (self->nconns == (int)(sizeof self->conns / sizeof self->conns[0]))
        return NULL;

    /* The id is a function of the name alone, so a restarted simulator
     * answers with the ids a client recorded before. */
    store_conn_t *c = xcalloc(1, sizeof *c);
    uint64_t state = hmap_hash(name, strlen(name));
    memcpy(c->id, "con_", 4);
    rand_alnum(&state, c->id + 4, 16);
    c->name = xstrdup(name);
    c->strategy = xstrdup(strategy);
    int kind = store_strategy_kind(strategy);
    c->kind = kind < 0 ? STORE_CONN_SOCIAL : (store_conn_kind_t)kind;
    c->enabled_clients = json_deep_copy(self->client_ids);
    c->username_min = 1;
    c->username_max = 15;
    self->conns[self->nconns++] = c;
    return c;
}

static int bad_spec(char *err, size_t errlen, const char *name,
                    const char *what)
{
    snprintf(err, errlen, "connection %s: %s", name, what);
    return -1;
}

static int configure_username(store_conn_t *conn, const json_t *u, char *err,
                              size_t errlen)
{
    json_t *min = json_object_get(u, "min"), *max = json_object_get(u, "max");
    if ((min && !json_is_integer(min)) || (max && !json_is_integer(max)))
        return bad_spec(err, errlen, conn->name, "username min/max: integers");
    int lo = min ? (int)json_integer_value(min) : conn->username_min;
    int hi = max ? (int)json_integer_value(max) : conn->username_max;
    if (lo < 1 || hi < lo || hi > 128)
        return bad_spec(err, errlen, conn->name,
                        "username length needs 1 <= min <= max <= 128");
    conn->username_min = lo;
    conn->username_max = hi;
    return 0;
}

static int all_strings(const json_t *a)
{
    if (!json_is_array(a))
        return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!json_is_string(json_array_get(a, i)))
            return 0;
    return 1;
}

int store_conn_configure(store_conn_t *conn, const json_t *spec, char *err,
                         size_t errlen)
{
    json_t *clients = json_object_get(spec, "enabled_clients");
    json_t *req = json_object_get(spec, "requires_username");
    json_t *user = json_object_get(spec, "username");
    if (clients) {
        if (!all_strings(clients))
            return bad_spec(err, errlen, conn->name,
                            "enabled_clients must be an array of strings");
        json_decref(conn->enabled_clients);
        conn->enabled_clients = json_deep_copy(clients);
    }
    if (req && !json_is_boolean(req))
        return bad_spec(err, errlen, conn->name,
                        "requires_username must be a boolean");
    conn->requires_username = json_is_true(req);
    if (user && !json_is_object(user))
        return bad_spec(err, errlen, conn->name, "username must be an object");
    return user ? configure_username(conn, user, err, errlen) : 0;
}

const store_conn_t *store_conn_by_id(const store_t *self, const char *id)
{
    for (int i = 0; i < self->nconns; i++)
        if (strcmp(self->conns[i]->id, id) == 0)
            return self->conns[i];
    return NULL;
}

const store_conn_t *store_conn_by_name(const store_t *self, const char *name)
{
    for (int i = 0; i < self->nconns; i++)
        if (strcmp(self->conns[i]->name, name) == 0)
            return self->conns[i];
    return NULL;
}

int store_conn_count(const store_t *self)
{
    return self->nconns;
}

const store_conn_t *store_conn_at(const store_t *self, int i)
{
    return i >= 0 && i < self->nconns ? self->conns[i] : NULL;
}

int store_conn_is_database(const store_conn_t *conn)
{
    return conn->kind == STORE_CONN_DATABASE;
}

static json_t *conn_options(const store_conn_t *conn)
{
    switch (conn->kind) {
    case STORE_CONN_DATABASE:
        return json_pack("{s:b, s:s, s:b, s:b, s:{s:{s:i, s:i}}}",
                         "brute_force_protection", 1, "passwordPolicy", "good",
                         "requires_username", conn->requires_username,
                         "import_mode", 0, "validation", "username", "min",
                         conn->username_min, "max", conn->username_max);
    case STORE_CONN_SOCIAL:
        return json_pack("{s:b, s:b}", "email", 1, "profile", 1);
    case STORE_CONN_ENTERPRISE:
        return json_pack("{s:s, s:b}", "signInEndpoint",
                         "https://idp.example.test/saml", "debug", 0);
    case STORE_CONN_PASSWORDLESS:
        return json_pack("{s:s, s:b}", "name", conn->strategy, "disable_signup",
                         0);
    }
    return json_object();
}

json_t *store_conn_json(const store_conn_t *conn, int with_clients)
{
    json_t *j =
        json_pack("{s:s, s:o, s:s, s:s, s:b, s:[s]}", "id", conn->id, "options",
                  conn_options(conn), "strategy", conn->strategy, "name",
                  conn->name, "is_domain_connection", 0, "realms", conn->name);
    if (with_clients)
        json_object_set(j, "enabled_clients", conn->enabled_clients);
    return j;
}

store_user_t *store_user_by_id(const store_t *self, const char *id)
{
    return hmap_get(self->by_id, id);
}

store_user_t *store_find(const store_t *self, store_key_t kind, const char *key,
                         const store_conn_t *conn)
{
    store_user_t *u = hmap_get(self->by_key[kind], key);
    while (u && conn && u->conn != conn)
        u = u->same[kind];
    return u;
}

static char *key_of(json_t *profile, const char *field, int lower)
{
    const char *s = json_string_value(json_object_get(profile, field));
    if (!s || !*s)
        return NULL;
    char *k = xstrdup(s);
    return lower ? store_lower(k) : k;
}

static void index_user(store_t *self, store_user_t *u)
{
    for (int k = 0; k < STORE_NKEYS; k++) {
        if (!u->keys[k])
            continue;
        u->same[k] = hmap_get(self->by_key[k], u->keys[k]);
        hmap_put(self->by_key[k], u->keys[k], u);
    }
}

static void unindex_user(store_t *self, store_user_t *u)
{
    for (int k = 0; k < STORE_NKEYS; k++) {
        if (!u->keys[k])
            continue;
        store_user_t *head = hmap_get(self->by_key[k], u->keys[k]);
        if (head == u) {
            if (u->same[k])
                hmap_put(self->by_key[k], u->keys[k], u->same[k]);
            else
                hmap_del(self->by_key[k], u->keys[k], 1);
            continue;
        }
        while (head && head->same[k] != u)
            head = head->same[k];
        if (head)
            head->same[k] = u->same[k];
    }
}

void store_rekey(store_t *self, store_user_t *u)
{
    unindex_user(self, u);
    for (int k = 0; k < STORE_NKEYS; k++) {
        free(u->keys[k]);
        u->same[k] = NULL;
    }
    u->keys[STORE_KEY_EMAIL] = key_of(u->profile, "email", 0);
    u->keys[STORE_KEY_USERNAME] = key_of(u->profile, "username", 1);
    u->keys[STORE_KEY_PHONE] = key_of(u->profile, "phone_number", 0);
    index_user(self, u);
}

static void count_insert(store_t *self, const char *id)
{
    void *have = hmap_get(self->inserts, id);
    uintptr_t n = (uintptr_t)have;
    self->insert_ops++;
    if (n == 1)
        self->repeated++;
    hmap_put(self->inserts, id, (void *)(n + 1));
}

store_user_t *store_insert(store_t *self, json_t *profile, json_t *secrets,
                           const store_conn_t *conn, int ledger)
{
    const char *id = json_string_value(json_object_get(profile, "user_id"));
    if (!id || hmap_has(self->by_id, id)) {
        json_decref(profile);
        json_decref(secrets);
        return NULL;
    }
    store_user_t *u = xcalloc(1, sizeof *u);
    u->profile = profile;
    u->secrets = secrets;
    u->id = xstrdup(id);
    u->conn = conn;
    u->keys[STORE_KEY_EMAIL] = key_of(profile, "email", 0);
    u->keys[STORE_KEY_USERNAME] = key_of(profile, "username", 1);
    u->keys[STORE_KEY_PHONE] = key_of(profile, "phone_number", 0);
    hmap_put(self->by_id, u->id, u);
    index_user(self, u);
    u->prev = self->tail;
    if (self->tail)
        self->tail->next = u;
    else
        self->head = u;
    self->tail = u;
    if (ledger)
        count_insert(self, u->id);
    return u;
}

int store_delete(store_t *self, const char *id)
{
    store_user_t *u = hmap_del(self->by_id, id, 1);
    if (!u)
        return -1;
    unindex_user(self, u);
    if (u->prev)
        u->prev->next = u->next;
    else
        self->head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    else
        self->tail = u->prev;
    user_free(u);
    return 0;
}

size_t store_user_count(const store_t *self)
{
    return hmap_size(self->by_id);
}

const store_user_t *store_first(const store_t *self)
{
    return self->head;
}

size_t store_inserts_total(const store_t *self)
{
    return self->insert_ops;
}

size_t store_inserts_distinct(const store_t *self)
{
    return hmap_size(self->inserts);
}

size_t store_inserts_repeated(const store_t *self)
{
    return self->repeated;
}

void store_inserts_ndjson(const store_t *self, buf_t *out)
{
    size_t pos = 0;
    const void *cur = NULL;
    const char *id;
    void *val;
    while (hmap_next(self->inserts, &pos, &cur, &id, &val)) {
        json_t *line = json_pack("{s:s, s:I}", "user_id", id, "count",
                                 (json_int_t)(uintptr_t)val);
        char *text = json_dumps(line, JSON_COMPACT);
        buf_puts(out, text);
        buf_puts(out, "\n");
        free(text);
        json_decref(line);
    }
}

json_t *store_inserts_json(const store_t *self)
{
    json_t *o = json_object();
    size_t pos = 0;
    const void *cur = NULL;
    const char *id;
    void *val;
    while (hmap_next(self->inserts, &pos, &cur, &id, &val))
        json_object_set_new(o, id, json_integer((json_int_t)(uintptr_t)val));
    return o;
}

void store_inserts_load(store_t *self, const json_t *j)
{
    const char *id;
    json_t *v;
    json_object_foreach((json_t *)j, id, v)
    {
        json_int_t n = json_integer_value(v);
        if (n < 1)
            continue;
        self->insert_ops += (size_t)n;
        if (n > 1)
            self->repeated++;
        hmap_put(self->inserts, id, (void *)(uintptr_t)n);
    }
}
