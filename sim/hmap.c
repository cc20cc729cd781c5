/* hmap: string-keyed hash map with separate chaining, used for every index
 * of the simulated tenant (users by id, e-mail, username and phone, tokens,
 * jobs, counters). Buckets double when the load passes one entry each. */
#include "hmap.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *val;
    char key[];
} entry_t;

struct hmap_t {
    entry_t **buckets;
    size_t nbuckets;
    size_t size;
    hmap_free_fn free_val;
};

uint64_t hmap_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

hmap_t *hmap_new(hmap_free_fn free_val)
{
    hmap_t *self = xcalloc(1, sizeof *self);
    self->nbuckets = 64;
    self->buckets = xcalloc(self->nbuckets, sizeof *self->buckets);
    self->free_val = free_val;
    return self;
}

void hmap_clear(hmap_t *self)
{
    for (size_t i = 0; i < self->nbuckets; i++) {
        entry_t *e = self->buckets[i];
        while (e) {
            entry_t *next = e->next;
            if (self->free_val)
                self->free_val(e->val);
            free(e);
            e = next;
        }
        self->buckets[i] = NULL;
    }
    self->size = 0;
}

void hmap_destroy(hmap_t **p)
{
    if (!p || !*p)
        return;
    hmap_clear(*p);
    free((*p)->buckets);
    free(*p);
    *p = NULL;
}

size_t hmap_size(const hmap_t *self)
{
    return self->size;
}

static entry_t **find_slot(const hmap_t *self, const char *key, uint64_t h)
{
    entry_t **slot = &self->buckets[h & (self->nbuckets - 1)];
    while (*slot && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
        slot = &(*slot)->next;
    return slot;
}

void *hmap_get(const hmap_t *self, const char *key)
{
    uint64_t h = hmap_hash(key, strlen(key));
    entry_t *e = *find_slot(self, key, h);
    return e ? e->val : NULL;
}

int hmap_has(const hmap_t *self, const char *key)
{
    uint64_t h = hmap_hash(key, strlen(key));
    return *find_slot(self, key, h) != NULL;
}

static void grow(hmap_t *self)
{
    size_t n = self->nbuckets * 2;
    entry_t **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < self->nbuckets; i++) {
        entry_t *e = self->buckets[i];
        while (e) {
            entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(self->buckets);
    self->buckets = b;
    self->nbuckets = n;
}

void hmap_put(hmap_t *self, const char *key, void *val)
{
    size_t len = strlen(key);
    uint64_t h = hmap_hash(key, len);
    entry_t **slot = find_slot(self, key, h);
    if (*slot) {
        if (self->free_val && (*slot)->val != val)
            self->free_val((*slot)->val);
        (*slot)->val = val;
        return;
    }
    entry_t *e = xmalloc(sizeof *e + len + 1);
    memcpy(e->key, key, len + 1);
    e->hash = h;
    e->val = val;
    e->next = NULL;
    *slot = e;
    if (++self->size > self->nbuckets)
        grow(self);
}

void *hmap_del(hmap_t *self, const char *key, int take)
{
    uint64_t h = hmap_hash(key, strlen(key));
    entry_t **slot = find_slot(self, key, h);
    entry_t *e = *slot;
    if (!e)
        return NULL;
    *slot = e->next;
    void *val = e->val;
    free(e);
    self->size--;
    if (take)
        return val;
    if (self->free_val)
        self->free_val(val);
    return NULL;
}

int hmap_next(const hmap_t *self, size_t *pos, const void **cursor,
              const char **key, void **val)
{
    /* The cursor remembers the entry after the current one, so that the
     * caller may delete the current key. */
    const entry_t *e = *cursor;
    while (!e) {
        if (*pos >= self->nbuckets)
            return 0;
        e = self->buckets[(*pos)++];
    }
    *cursor = e->next;
    if (key)
        *key = e->key;
    if (val)
        *val = e->val;
    return 1;
}
