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
#include <stdlib.h>
#include <string.h>

struct store_t {
    store_conn_t *conns[32];
    int nconns;
    char *client_id;
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

store_t *store_new(const char *client_id)
{
    store_t *self = xcalloc(1, sizeof *self);
    self->client_id = xstrdup(client_id);
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
        free(self->conns[i]);
    }
    hmap_destroy(&self->by_id);
    for (int k = 0; k < STORE_NKEYS; k++)
        hmap_destroy(&self->by_key[k]);
    hmap_destroy(&self->inserts);
    free(self->client_id);
    free(self);
    *p = NULL;
}

const store_conn_t *store_add_connection(store_t *self, const char *name,
                                         const char *strategy)
{
    const store_conn_t *have = store_conn_by_name(self, name);
    if (have)
        return have;
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
    c->client_id = self->client_id;
    self->conns[self->nconns++] = c;
    return c;
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
    return strcmp(conn->strategy, "auth0") == 0;
}

json_t *store_conn_json(const store_conn_t *conn)
{
    json_t *opts = json_object();
    if (store_conn_is_database(conn)) {
        json_object_set_new(opts, "brute_force_protection", json_true());
        json_object_set_new(opts, "passwordPolicy", json_string("good"));
        json_object_set_new(opts, "requires_username", json_false());
        json_object_set_new(opts, "import_mode", json_false());
    }
    return json_pack("{s:s, s:o, s:s, s:s, s:b, s:[s], s:[s]}", "id", conn->id,
                     "options", opts, "strategy", conn->strategy, "name",
                     conn->name, "is_domain_connection", 0, "realms",
                     conn->name, "enabled_clients", conn->client_id);
}

const store_user_t *store_user_by_id(const store_t *self, const char *id)
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
