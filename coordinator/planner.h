#ifndef A0_PLANNER_H
#define A0_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "pack.h"

/* planner: reads the export, transforms each record, catches duplicates,
 * and packs import objects per target connection into numbered batches.
 * Deterministic: the same inputs and settings give the same batches with
 * the same numbers. */

typedef struct planner_t planner_t;

/* Resolves a source connection name to a target connection id. Returns a
 * string owned by the resolver, or NULL when the target has none. */
typedef const char *(*planner_resolve_fn)(void *arg, const char *name);

/* Receives the outcome of a user that goes into no batch (invalid,
 * deferred, duplicate). value is "outcome|detail". */
typedef void (*planner_local_fn)(void *arg, const char *uid, const char *value);

typedef struct {
    const char *input;
    const char *hashes;            /* may be NULL */
    const char *target_connection; /* all users into this one, or NULL
                                      to map by name */
    size_t max_bytes;              /* users file bound */
    size_t max_users;
    planner_resolve_fn resolve;
    planner_local_fn local;
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
    size_t with_password;
    size_t batches;
} planner_counts_t;

planner_t *planner_new(const planner_cfg_t *cfg, char **err);

/* The next sealed batch (caller frees with planned_destroy), or NULL when
 * the input is exhausted or failed (planner_error tells). */
planned_t *planner_next(planner_t *self);

const char *planner_error(const planner_t *self);
const planner_counts_t *planner_counts(const planner_t *self);
size_t planner_hashes_unused(const planner_t *self);

/* Splits pl into two batches numbered first and second: the users before
 * planned_split_point(pl) and the rest. Returns -1 when pl can't be split
 * (fewer than 2 users). */
int planned_split(const planned_t *pl, int64_t first, int64_t second,
                  planned_t **a, planned_t **b);
size_t planned_split_point(const planned_t *pl);

void planner_destroy(planner_t **p);
void planned_destroy(planned_t **p);

#endif
