/* planner: the streaming front half of a run. Owns the reader (and the
 * indexed document each record is read into), the password-hash index,
 * one packer and one set of username rules per target connection, and the
 * key set (keyset.h) that catches duplicate ids, e-mails and usernames
 * across the whole input, the one part that grows with the input: about
 * 100 bytes per user. Sealed batches are numbered in the order they are
 * sealed, which depends only on the input, so a resumed run rebuilds
 * identical batches. */
#include "planner.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashes.h"
#include "keyset.h"
#include "reader.h"
#include "shape.h"
#include "transform.h"
#include "util.h"

typedef struct {
    char *name;
    const char *id; /* NULL: no such connection in the target */
    int not_database;
    xf_rules_t rules;
    pack_t *pack;
} target_t;

struct planner_t {
    planner_cfg_t cfg;
    reader_t *reader;
    jdoc_t *doc;
    hashes_t *hashes;
    zlistx_t *targets; /* target_t, in order of first use */
    keyset_t *seen;    /* "kind\x1fscope\x1fvalue" keys and who claimed them */
    buf_t key;         /* the key being claimed */
    zlistx_t *ready;   /* planned_t sealed but not handed out */
    planner_counts_t counts;
    int64_t next_number;
    int eof;
    char errstr[512];
};

static void target_free(void **p)
{
    target_t *t = *p;
    if (!t)
        return;
    pack_destroy(&t->pack);
    free(t->name);
    free(t);
    *p = NULL;
}

planner_t *planner_new(const planner_cfg_t *cfg, char **err)
{
    planner_t *self = xcalloc(1, sizeof *self);
    self->cfg = *cfg;
    self->reader = reader_new(cfg->input, READER_MAX_RECORD_DEFAULT, err);
    if (!self->reader) {
        planner_destroy(&self);
        return NULL;
    }
    reader_expect(self->reader, SHAPE_EXPORT | SHAPE_DISPLAY);
    self->doc = jdoc_new();
    if (cfg->hashes) {
        self->hashes = hashes_load(cfg->hashes, err);
        if (!self->hashes) {
            planner_destroy(&self);
            return NULL;
        }
    }
    self->targets = zlistx_new();
    zlistx_set_destructor(self->targets, target_free);
    self->seen = keyset_new();
    self->ready = zlistx_new();
    self->next_number = 1;
    return self;
}

void planner_destroy(planner_t **p)
{
    if (!p || !*p)
        return;
    planner_t *self = *p;
    reader_destroy(&self->reader);
    jdoc_destroy(&self->doc);
    hashes_destroy(&self->hashes);
    zlistx_destroy(&self->targets);
    keyset_destroy(&self->seen);
    buf_free(&self->key);
    if (self->ready) {
        planned_t *pl;
        while ((pl = zlistx_detach(self->ready, NULL)))
            planned_destroy(&pl);
        zlistx_destroy(&self->ready);
    }
    free(self);
    *p = NULL;
}

void planned_destroy(planned_t **p)
{
    if (!p || !*p)
        return;
    batch_destroy(&(*p)->batch);
    free((*p)->connection);
    free((*p)->connection_id);
    free(*p);
    *p = NULL;
}

const char *planner_error(const planner_t *self)
{
    return self->errstr;
}

const planner_counts_t *planner_counts(const planner_t *self)
{
    return &self->counts;
}

size_t planner_hashes_unused(const planner_t *self)
{
    return self->hashes ? hashes_unused(self->hashes) : 0;
}

size_t planner_hashes_rows(const planner_t *self)
{
    return self->hashes ? hashes_count(self->hashes) : 0;
}

/* A positive integer member, or dflt. */
static int int_or(const json_t *obj, const char *key, int dflt)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return json_is_integer(json_object_get(obj, key)) && v > 0 && v <= 100000
               ? (int)v
               : dflt;
}

const char *planner_connection_facts(const json_t *conn, xf_rules_t *rules,
                                     int *not_database)
{
    const char *id = json_string_value(json_object_get(conn, "id"));
    const char *strategy = json_string_value(json_object_get(conn, "strategy"));
    const json_t *opts = json_object_get(conn, "options");
    const json_t *user =
        json_object_get(json_object_get(opts, "validation"), "username");
    *not_database = id && strategy && strcmp(strategy, "auth0") != 0;
    rules->requires_username =
        json_is_true(json_object_get(opts, "requires_username"));
    rules->username_min = int_or(user, "min", rules->username_min);
    rules->username_max = int_or(user, "max", rules->username_max);
    return id && *id ? id : NULL;
}

int planner_map_entry_ok(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq && eq != entry && eq[1] ? 0 : -1;
}

static void warn(planner_t *self, const char *uid, const char *text)
{
    self->counts.warnings++;
    if (self->cfg.warn)
        self->cfg.warn(self->cfg.arg, uid, text);
}

static void local(planner_t *self, const char *uid, const char *value)
{
    if (self->cfg.local)
        self->cfg.local(self->cfg.arg, uid, value);
}

static target_t *target_for(planner_t *self, const char *name)
{
    target_t *t = zlistx_first(self->targets);
    for (; t; t = zlistx_next(self->targets)) {
        if (strcmp(t->name, name) == 0)
            return t;
    }
    t = xcalloc(1, sizeof *t);
    t->name = xstrdup(name);
    t->rules.requires_username = 0;
    t->rules.username_min = XF_USERNAME_MIN_DEFAULT;
    t->rules.username_max = XF_USERNAME_MAX_DEFAULT;
    t->id = self->cfg.resolve ? self->cfg.resolve(self->cfg.arg, name,
                                                  &t->rules, &t->not_database)
                              : "";
    t->pack = pack_new(self->cfg.max_bytes, self->cfg.max_users);
    zlistx_add_end(self->targets, t);
    return t;
}

static void seal(planner_t *self, target_t *t)
{
    batch_t *b = pack_take(t->pack);
    if (!b)
        return;
    planned_t *pl = xcalloc(1, sizeof *pl);
    pl->number = self->next_number++;
    pl->connection = xstrdup(t->name);
    pl->connection_id = xstrdup(t->id ? t->id : "");
    pl->batch = b;
    self->counts.batches++;
    zlistx_add_end(self->ready, pl);
}

/* Records key as seen for uid; returns the earlier holder or NULL. */
static const char *claim_key(planner_t *self, const char *kind,
                             const char *scope, const char *value,
                             const char *uid)
{
    buf_reset(&self->key);
    buf_puts(&self->key, kind);
    buf_append(&self->key, "\x1f", 1);
    buf_puts(&self->key, scope);
    buf_append(&self->key, "\x1f", 1);
    buf_puts(&self->key, value);
    return keyset_claim(self->seen, self->key.data, self->key.len, uid);
}

/* Returns 1 (and reports the duplicate) when u clashes with an earlier
 * record on user id, e-mail or username within its target connection. */
static int is_duplicate(planner_t *self, const xf_user_t *u, const char *uid,
                        const char *conn)
{
    const char *prev = claim_key(self, "id", "", uid, uid);
    const char *what = "user_id";
    if (!prev && u->email_key) {
        prev = claim_key(self, "email", conn, u->email_key, uid);
        what = "email";
    }
    if (!prev && u->username_key) {
        prev = claim_key(self, "username", conn, u->username_key, uid);
        what = "username";
    }
    if (!prev)
        return 0;
    char *v = xasprintf("duplicate|%s|same %s as %s", what, what, prev);
    local(self, uid, v);
    free(v);
    self->counts.duplicate++;
    return 1;
}

/* The target connection name for a user's source connection. */
static const char *target_name(const planner_t *self, const char *source)
{
    for (size_t i = 0; source && i < self->cfg.connection_map_n; i++) {
        const char *e = self->cfg.connection_map[i];
        size_t n = strcspn(e, "=");
        if (strlen(source) == n && strncmp(e, source, n) == 0)
            return e + n + 1;
    }
    if (self->cfg.target_connection)
        return self->cfg.target_connection;
    return source && *source ? source : "Username-Password-Authentication";
}

static void local_invalid(planner_t *self, const char *uid, const char *why,
                          const char *path)
{
    char *v = xasprintf("invalid|%s|%s", why, path);
    local(self, uid, v);
    free(v);
    self->counts.invalid++;
}

/* Whether the target can take u; classifies it when not. */
static int target_ok(planner_t *self, target_t *t, xf_user_t *u,
                     const char *uid)
{
    char why[256];
    if (!t->id || t->not_database) {
        snprintf(why, sizeof why,
                 t->id ? "target connection %s is not a database connection"
                       : "no target connection named %s",
                 t->name);
        local_invalid(self, uid, why, "identities[0].connection");
        return 0;
    }
    if (transform_apply_rules(u, &t->rules) < 0) {
        local_invalid(self, uid, u->reason, u->path);
        return 0;
    }
    return 1;
}

static void place(planner_t *self, xf_user_t *u, const char *uid)
{
    target_t *t = target_for(self, target_name(self, u->connection));
    if (!target_ok(self, t, u, uid) || is_duplicate(self, u, uid, t->name))
        return;
    unsigned flags = u->has_password ? 0 : PACK_FLAG_NO_PASSWORD;
    int rc = pack_add_flags(t->pack, uid, u->json, u->json_len, flags);
    if (rc == 1) {
        seal(self, t);
        rc = pack_add_flags(t->pack, uid, u->json, u->json_len, flags);
    }
    if (rc != 0) {
        local(self, uid, "invalid|record larger than any batch can hold|");
        self->counts.invalid++;
        return;
    }
    self->counts.import++;
    if (u->has_password)
        self->counts.with_password++;
    else
        self->counts.without_password++;
    self->counts.rewritten += u->rewritten;
    if (u->warning[0])
        warn(self, uid, u->warning);
}

static void classify(planner_t *self, const xf_user_t *u, const char *uid)
{
    const char *name = u->kind == XF_DEFERRED ? "deferred" : "invalid";
    char *v = xasprintf("%s|%s|%s", name, u->reason, u->path);
    local(self, uid, v);
    free(v);
    if (u->kind == XF_DEFERRED)
        self->counts.deferred++;
    else
        self->counts.invalid++;
}

/* Reads one record and routes it. Returns 0 at end of input, -1 on a
 * fatal read error, 1 otherwise. */
static int step(planner_t *self)
{
    int rc = reader_next_doc(self->reader, self->doc);
    if (rc == READER_EOF)
        return 0;
    if (rc == READER_FATAL) {
        snprintf(self->errstr, sizeof self->errstr, "%s",
                 reader_error(self->reader));
        return -1;
    }
    self->counts.records++;
    char lineid[64];
    snprintf(lineid, sizeof lineid, "line:%zu", reader_line(self->reader));
    if (rc == READER_BAD) {
        char *v = xasprintf("invalid|%s|", reader_error(self->reader));
        local(self, lineid, v);
        free(v);
        self->counts.invalid++;
        return 1;
    }
    xf_opts_t opts = { self->hashes, self->cfg.rewrite_metadata_keys };
    xf_user_t u;
    transform_doc(self->doc, &opts, &u);
    const char *uid = u.source_id ? u.source_id : lineid;
    if (u.kind == XF_IMPORT)
        place(self, &u, uid);
    else
        classify(self, &u, uid);
    xf_user_clear(&u);
    return 1;
}

int planner_survey(const planner_cfg_t *cfg, planner_counts_t *counts,
                   size_t *hashes_rows, size_t *hashes_unused, char **err)
{
    planner_cfg_t c = *cfg;
    c.local = NULL;
    c.warn = NULL;
    planner_t *p = planner_new(&c, err);
    if (!p)
        return -1;
    planned_t *pl;
    while ((pl = planner_next(p)))
        planned_destroy(&pl);
    int rc = p->errstr[0] ? -1 : 0;
    if (rc < 0)
        *err = xstrdup(p->errstr);
    *counts = p->counts;
    *hashes_rows = planner_hashes_rows(p);
    *hashes_unused = planner_hashes_unused(p);
    planner_destroy(&p);
    return rc;
}

planned_t *planner_next(planner_t *self)
{
    while (zlistx_size(self->ready) == 0 && !self->eof) {
        int rc = step(self);
        if (rc <= 0) {
            self->eof = 1;
            if (rc < 0)
                return NULL;
            target_t *t = zlistx_first(self->targets);
            for (; t; t = zlistx_next(self->targets))
                seal(self, t);
        }
    }
    return zlistx_detach(self->ready, NULL);
}

/* A child holding users [from, to) of pl's batch, re-serialised. */
static planned_t *half(const planned_t *pl, json_t *arr, size_t from, size_t to,
                       int64_t number)
{
    planned_t *c = xcalloc(1, sizeof *c);
    c->number = number;
    c->connection = xstrdup(pl->connection);
    c->connection_id = xstrdup(pl->connection_id);
    batch_t *b = xcalloc(1, sizeof *b);
    b->nusers = to - from;
    b->source_ids = xcalloc(b->nusers, sizeof(char *));
    json_t *part = json_array();
    for (size_t i = from; i < to; i++) {
        b->source_ids[i - from] = xstrdup(pl->batch->source_ids[i]);
        json_array_append(part, json_array_get(arr, i));
    }
    b->users_json = json_dumps(part, JSON_COMPACT);
    b->users_len = strlen(b->users_json);
    json_decref(part);
    if (pl->batch->flags) {
        b->flags = xcalloc(b->nusers, 1);
        memcpy(b->flags, pl->batch->flags + from, b->nusers);
    }
    c->batch = b;
    return c;
}

int planned_split(const planned_t *pl, int64_t first, int64_t second,
                  planned_t **a, planned_t **b)
{
    const batch_t *bt = pl->batch;
    json_t *arr = json_loadb(bt->users_json, bt->users_len, 0, NULL);
    if (!json_is_array(arr) || json_array_size(arr) != bt->nusers ||
        bt->nusers < 2) {
        json_decref(arr);
        return -1;
    }
    size_t n1 = planned_split_point(pl);
    *a = half(pl, arr, 0, n1, first);
    *b = half(pl, arr, n1, bt->nusers, second);
    json_decref(arr);
    return 0;
}

size_t planned_split_point(const planned_t *pl)
{
    return pl->batch->nusers / 2;
}
