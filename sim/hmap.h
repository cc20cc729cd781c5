#ifndef A0SIM_HMAP_H
#define A0SIM_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* A string-keyed hash map with separate chaining. Keys are copied and owned
 * by the map; values are opaque pointers owned by the caller unless a free
 * function is given to hmap_new. Not thread-safe: the caller serialises. */
typedef struct hmap_t hmap_t;

typedef void (*hmap_free_fn)(void *val);

/* New empty map; free_val (may be NULL) is called on values that are
 * replaced, deleted or still present at destroy. */
hmap_t *hmap_new(hmap_free_fn free_val);
void hmap_destroy(hmap_t **p);

size_t hmap_size(const hmap_t *self);

/* Value stored under key, or NULL. */
void *hmap_get(const hmap_t *self, const char *key);
int hmap_has(const hmap_t *self, const char *key);

/* Stores val under key, replacing (and freeing) any previous value. */
void hmap_put(hmap_t *self, const char *key, void *val);

/* Removes key. Returns the value without freeing it when take is set,
 * otherwise frees it and returns NULL. */
void *hmap_del(hmap_t *self, const char *key, int take);

/* Removes every entry. */
void hmap_clear(hmap_t *self);

/* Iteration: start with *pos = 0; returns 0 when done. Do not change the
 * map while iterating, except through hmap_del of the current key. */
int hmap_next(const hmap_t *self, size_t *pos, const void **cursor,
              const char **key, void **val);

/* 64-bit FNV-1a, also used for derived identifiers. */
uint64_t hmap_hash(const void *data, size_t len);

#endif
