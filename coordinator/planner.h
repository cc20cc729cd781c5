#ifndef A0_PLANNER_H
#define A0_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pack.h"
#include "transform.h"

/* planner: reads the export, transforms each record, maps its connection
 * to a target connection, applies that connection's username rules,
 * catches duplicates, and packs import objects per target connection into
 * numbered batches. Deterministic: the same inputs and settings give the
 * same batches with the same numbers.
 *
 * Target connection of a user: the entry for its source connection in
 * connection_map when there is one, else target_connection when set, else
 * the connection of the same name (Username-Password-Authentication for a
 * record without identities). A user whose target connection does not
 * exist or is not a database connection is classified invalid. */

typedef struct planner_t planner_t;

/* Resolves a target connection name to its id and fills *rules (which
 * holds Auth0's defaults on entry) from its options. Returns a string
 * owned by the resolver, or NULL when the target has no such connection.
 * Sets *not_database when it exists but cannot take imports. */
typedef const char *(*planner_resolve_fn)(void *arg, const char *name,
                                          xf_rules_t *rules, int *not_database);

/* Receives the outcome of a user that goes into no batch (invalid,
 * deferred, duplicate). value is "outcome|detail". */
typedef void (*planner_local_fn)(void *arg, const char *uid, const char *value);

/* Receives a caveat about a user that is imported (a profile over the
 * advisory size, rewritten metadata keys). */
typedef void (*planner_warn_fn)(void *arg, const char *uid, const char *text);

typedef struct {
    const char *input;
    const char *hashes;                /* may be NULL */
    const char *target_connection;     /* all users into this one, or NULL
                                          to map by name */
    const char *const *connection_map; /* "SOURCE=TARGET" entries */
    size_t connection_map_n;
    int rewrite_metadata_keys; /* see transform.h */
    size_t max_bytes;          /* users file bound */
    size_t max_users;
    planner_resolve_fn resolve;
    planner_local_fn local;
    planner_warn_fn warn; /* may be NULL */
    void *arg;
} planner_cfg_t;

typedef struct {
    int64_t number;   /* 1, 2, ... in plan order */
    char *connection; /* target connection name */
    char *connection_id;
    batch_t *batch;
} planned_t;

typedef struct {
    size_t records; /* read from the input, bad lines included */
    size_t import;  /* placed into batches */
    size_t invalid;
    size_t deferred;
    size_t duplicate;
    size_t with_password;    /* placed with a password hash */
    size_t without_password; /* placed without one: no_password */
    size_t warnings;
    size_t rewritten; /* metadata keys rewritten */
    size_t batches;
} planner_counts_t;

planner_t *planner_new(const planner_cfg_t *cfg, char **err);

/* The next sealed batch (caller frees with planned_destroy), or NULL when
 * the input is exhausted or failed (planner_error tells). */
planned_t *planner_next(planner_t *self);

const char *planner_error(const planner_t *self);
const planner_counts_t *planner_counts(const planner_t *self);

/* Rows of the hash file, and those that matched no user read so far. */
size_t planner_hashes_rows(const planner_t *self);
size_t planner_hashes_unused(const planner_t *self);

/* Splits pl into two batches numbered first and second: the users before
 * planned_split_point(pl) and the rest. Returns -1 when pl can't be split
 * (fewer than 2 users). */
int planned_split(const planned_t *pl, int64_t first, int64_t second,
                  planned_t **a, planned_t **b);
size_t planned_split_point(const planned_t *pl);

/* Reads the whole input once with cfg (its local and warn callbacks are
 * not called) and fills *counts. Returns 0, or -1 with *err (caller
 * frees). For checks that must hold before anything is sent. */
int planner_survey(const planner_cfg_t *cfg, planner_counts_t *counts,
                   size_t *hashes_rows, size_t *hashes_unused, char **err);

/* Reads a connection object of GET /api/v2/connections: returns its id
 * (owned by conn) or NULL for an empty object, fills *rules from
 * options.requires_username and options.validation.username.min/max when
 * present, and sets *not_database when its strategy is not "auth0". */
const char *planner_connection_facts(const json_t *conn, xf_rules_t *rules,
                                     int *not_database);

/* Checks one "SOURCE=TARGET" entry: 0 when both names are non-empty. */
int planner_map_entry_ok(const char *entry);

void planner_destroy(planner_t **p);
void planned_destroy(planned_t **p);

#endif
