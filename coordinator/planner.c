/* planner: the streaming front half of a run. Owns the reader, the
 * password-hash index, one packer per target connection and the sets used
 * to catch duplicate ids, e-mails and usernames across the whole input.
 * Sealed batches are numbered in the order they are sealed, which depends
 * only on the input, so a resumed run rebuilds identical batches. */
#include "planner.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashes.h"
#include "reader.h"
#include "transform.h"
#include "util.h"

typedef struct {
    char *name;
    const char *id;
    pack_t *pack;
} target_t;

struct planner_t {
    planner_cfg_t cfg;
    reader_t *reader;
    hashes_t *hashes;
    zlistx_t *targets; /* target_t, in order of first use */
    zhashx_t *seen;    /* "kind\x1fvalue" -> first source id */
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
    if (cfg->hashes) {
        self->hashes = hashes_load(cfg->hashes, err);
        if (!self->hashes) {
            planner_destroy(&self);
            return NULL;
        }
    }
    self->targets = zlistx_new();
    zlistx_set_destructor(self->targets, target_free);
    self->seen = zhashx_new();
    zhashx_set_destructor(self->seen, (zhashx_destructor_fn *)zstr_free);
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
    hashes_destroy(&self->hashes);
    zlistx_destroy(&self->targets);
    zhashx_destroy(&self->seen);
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
    t->id = self->cfg.resolve ? self->cfg.resolve(self->cfg.arg, name) : "";
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
    char *key = xasprintf("%s\x1f%s\x1f%s", kind, scope, value);
    const char *prev = zhashx_lookup(self->seen, key);
    if (!prev)
        zhashx_insert(self->seen, key, xstrdup(uid));
    free(key);
    return prev;
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
    if (!prev && u->username) {
        prev = claim_key(self, "username", conn, u->username, uid);
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

static void place(planner_t *self, const xf_user_t *u, const char *uid)
{
    const char *name = self->cfg.target_connection ? self->cfg.target_connection
                                                   : u->connection;
    if (!name || !*name)
        name = "Username-Password-Authentication";
    target_t *t = target_for(self, name);
    if (!t->id) {
        char *v = xasprintf("invalid|no target connection named %s|"
                            "identities[0].connection",
                            name);
        local(self, uid, v);
        free(v);
        self->counts.invalid++;
        return;
    }
    if (is_duplicate(self, u, uid, name))
        return;
    int rc = pack_add(t->pack, uid, u->json, u->json_len);
    if (rc == 1) {
        seal(self, t);
        rc = pack_add(t->pack, uid, u->json, u->json_len);
    }
    if (rc != 0) {
        local(self, uid, "invalid|record larger than any batch can hold|");
        self->counts.invalid++;
        return;
    }
    self->counts.import++;
    if (u->has_password)
        self->counts.with_password++;
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
    json_t *rec = NULL;
    int rc = reader_next(self->reader, &rec);
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
    xf_opts_t opts = { self->hashes, 0 };
    xf_user_t u;
    memset(&u, 0, sizeof u);
    transform_user(rec, &opts, &u);
    json_decref(rec);
    const char *uid = u.source_id ? u.source_id : lineid;
    if (u.kind == XF_IMPORT)
        place(self, &u, uid);
    else
        classify(self, &u, uid);
    xf_user_clear(&u);
    return 1;
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
