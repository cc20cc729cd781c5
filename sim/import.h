#ifndef A0SIM_IMPORT_H
#define A0SIM_IMPORT_H

#include "store.h"
#include "validate.h"

#include <jansson.h>
#include <stdint.h>

/* import: applies the users of one import job to the store, one at a time,
 * with Auth0's rules: validation, duplicates inside the file, matches with
 * existing users, upsert of the upsertable attributes only. The caller
 * holds the tenant mutex around every call. */

typedef struct import_t import_t;

/* conn must be a database connection; vopts is copied. */
import_t *import_new(store_t *store, const store_conn_t *conn, int upsert,
                     const validate_opts_t *vopts);
void import_destroy(import_t **p);

/* Processes one element of the users file. */
void import_user(import_t *self, const json_t *user, int64_t now_ms);

int import_inserted(const import_t *self);
int import_updated(const import_t *self);
int import_failed(const import_t *self);

/* The error entries {"user":..,"errors":[..]} so far; borrowed. */
json_t *import_errors(const import_t *self);

/* Builds the profile Auth0 stores for an imported user; exposed for the
 * loader and the generator, which share the defaults. full_id is the
 * user_id with its prefix. */
json_t *import_profile(const json_t *user, const char *full_id,
                       const char *conn_name, int64_t now_ms);

#endif
