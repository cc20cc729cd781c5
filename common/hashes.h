#ifndef A0_HASHES_H
#define A0_HASHES_H

#include <stddef.h>

/* hashes: the support-ticket password-hash file (NDJSON, one row per user
 * with _id.$oid, optional alt_id, passwordHash) indexed in memory by both
 * ids. The values are secrets: never log them. */

typedef struct hashes_t hashes_t;

/* Loads path. NULL on failure with *err a new string (caller frees). */
hashes_t *hashes_load(const char *path, char **err);

/* The hash for a source id with or without its "auth0|" prefix, or NULL.
 * The string is owned by the index. Marks the row as used. */
const char *hashes_find(const hashes_t *self, const char *source_id);

size_t hashes_count(const hashes_t *self);
/* Rows whose ids matched no hashes_find call so far. */
size_t hashes_unused(const hashes_t *self);

void hashes_destroy(hashes_t **p);

#endif
