#ifndef A0_HASHES_H
#define A0_HASHES_H

#include <stddef.h>

/* hashes: the password-hash file Auth0 support delivers (NDJSON, one row per
 * user with _id.$oid, optional alt_id, passwordHash) indexed in memory by
 * both ids. The values are secrets: never log them. */

typedef struct hashes_t hashes_t;

/* Loads path (plain or gzip; lines up to 64 KiB). NULL on failure with *err
 * a new string (caller frees) naming the file and, for a bad row, its line;
 * any bad row, and an id claimed by two rows, fails the whole load. */
hashes_t *hashes_load(const char *path, char **err);

/* The hash for a source id with or without its "auth0|" prefix (one is
 * removed), matched against _id.$oid and alt_id, or NULL. The string is
 * owned by the index. Marks the row as used, although self is const: the
 * flags are bookkeeping, not content. Not thread-safe. */
const char *hashes_find(const hashes_t *self, const char *source_id);

size_t hashes_count(const hashes_t *self);
/* Rows whose ids matched no hashes_find call so far. */
size_t hashes_unused(const hashes_t *self);

void hashes_destroy(hashes_t **p);

#endif
