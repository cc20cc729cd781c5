#ifndef A0SIM_SEED_H
#define A0SIM_SEED_H

#include "store.h"

#include <stdint.h>

/* seed: users a tenant starts with, either generated or read from an
 * Auth0 export file. The caller holds the tenant mutex. */

/* Generates n users, the same ones for the same (n, seed, database
 * connections): database users spread over the store's database
 * connections, a few social-only users and linked identities. Returns the
 * number added. */
long seed_generate(store_t *store, long n, uint64_t seed);

/* Loads an export file (NDJSON, optionally gzip-compressed) into the
 * store, creating the connections its identities name. Returns the number
 * of users loaded, or -1 (logged, with the line number) when the file
 * cannot be read or a line is not a user object. */
long seed_load(store_t *store, const char *path);

#endif
