/* pack: owns the batch being filled: the users file under construction
 * ("[" then users joined by ",", the "]" added when sealed) and the source
 * ids and per-user flags in the same order. Invariant: the sealed users file is
 * never longer than max_bytes and never holds more than max_users users, and
 * the bytes depend only on the order and bytes of the users offered. */
#include "pack.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct pack_t {
    size_t max_bytes;
    size_t max_users;
    buf_t users; /* "[u1,u2" without the closing bracket */
    char **ids;
    unsigned char *flags;
    size_t nids;
    size_t ids_cap;
};

pack_t *pack_new(size_t max_bytes, size_t max_users)
{
    if (max_bytes < 3 || max_users == 0)
        return NULL;
    pack_t *p = xcalloc(1, sizeof *p);
    p->max_bytes = max_bytes;
    p->max_users = max_users;
    buf_init(&p->users);
    return p;
}

/* Size of the sealed users file if a user of len bytes were added. */
static size_t size_with(const pack_t *p, size_t len)
{
    if (p->nids == 0)
        return 2 + len;
    return p->users.len + 1 + len + 1;
}

int pack_add(pack_t *self, const char *source_id, const char *json, size_t len)
{
    return pack_add_flags(self, source_id, json, len, 0);
}

int pack_add_flags(pack_t *self, const char *source_id, const char *json,
                   size_t len, unsigned flags)
{
    if (len > self->max_bytes - 2)
        return -1;
    if (self->nids == self->max_users || size_with(self, len) > self->max_bytes)
        return 1;
    buf_append(&self->users, self->nids ? "," : "[", 1);
    buf_append(&self->users, json, len);
    if (self->nids == self->ids_cap) {
        self->ids_cap = self->ids_cap ? self->ids_cap * 2 : 64;
        self->ids = xrealloc(self->ids, self->ids_cap * sizeof *self->ids);
        self->flags = xrealloc(self->flags, self->ids_cap);
    }
    self->flags[self->nids] = (unsigned char)flags;
    self->ids[self->nids++] = xstrdup(source_id ? source_id : "");
    return 0;
}

size_t pack_count(const pack_t *self)
{
    return self->nids;
}

batch_t *pack_take(pack_t *self)
{
    if (self->nids == 0)
        return NULL;
    buf_append(&self->users, "]", 1);
    batch_t *b = xcalloc(1, sizeof *b);
    b->nusers = self->nids;
    b->source_ids = self->ids;
    b->users_json = self->users.data;
    b->users_len = self->users.len;
    b->flags = self->flags;
    self->flags = NULL;
    self->ids = NULL;
    self->nids = 0;
    self->ids_cap = 0;
    buf_init(&self->users);
    return b;
}

void pack_destroy(pack_t **p)
{
    if (!p || !*p)
        return;
    pack_t *self = *p;
    for (size_t i = 0; i < self->nids; i++)
        free(self->ids[i]);
    free(self->ids);
    free(self->flags);
    buf_free(&self->users);
    free(self);
    *p = NULL;
}

void batch_destroy(batch_t **p)
{
    if (!p || !*p)
        return;
    batch_t *b = *p;
    for (size_t i = 0; i < b->nusers; i++)
        free(b->source_ids[i]);
    free(b->source_ids);
    free(b->users_json);
    free(b->flags);
    free(b);
    *p = NULL;
}
