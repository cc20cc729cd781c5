#ifndef A0SIM_SNAPSHOT_H
#define A0SIM_SNAPSHOT_H

#include "sim.h"

/* snapshot: the tenant's state in one file, so that a restarted
 * simulator answers as the stopped one did. Both functions take the
 * tenant mutex themselves. */

/* Writes users (with their secrets), the inserts ledger, live tokens and
 * finished import jobs to path, atomically (temporary file, fsync,
 * rename). Returns 0, or -1 (logged). */
int snapshot_save(sim_t *sim, const char *path);

/* Loads path into the tenant, creating the connections it names. Returns
 * 1 when loaded, 0 when the file does not exist, -1 (logged) when it
 * cannot be read or is not a snapshot. */
int snapshot_load(sim_t *sim, const char *path);

#endif
