#ifndef A0SIM_JOBS_H
#define A0SIM_JOBS_H

#include "faults.h"
#include "sim.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

/* jobs: import and export jobs and the background thread that runs them.
 * Every function except jobs_start and jobs_stop expects the caller to
 * hold the tenant mutex. */

typedef struct job_t job_t;

jobs_t *jobs_new(sim_t *sim);

/* Starts the worker thread. Returns 0 or -1. */
int jobs_start(jobs_t *self);

/* Stops and joins the worker thread; call without the mutex. */
void jobs_stop(jobs_t *self);

void jobs_destroy(jobs_t **p);

/* Import jobs pending or processing. */
int jobs_active_imports(const jobs_t *self);

/* Queues an import of the users file (taken over; parsed when the job
 * starts). external_id may be NULL. */
const job_t *jobs_add_import(jobs_t *self, const store_conn_t *conn, char *file,
                             size_t len, int upsert, const char *external_id,
                             int send_email, int64_t now_ms);

/* Makes a job fail when it starts (FAULT_JOB_FAIL) or never start
 * (FAULT_JOB_STUCK), until the job timeout fails it. */
void jobs_set_fault(jobs_t *self, const job_t *job, fault_kind_t fault);

/* Queues an export. conn may be NULL (all users), limit 0 (all), fields
 * NULL (the default set; otherwise taken over). */
const job_t *jobs_add_export(jobs_t *self, const store_conn_t *conn,
                             const char *format, int64_t limit, json_t *fields,
                             int64_t now_ms);

/* The job, or NULL when unknown or older than the retention. */
const job_t *jobs_find(const jobs_t *self, const char *id, int64_t now_ms);

/* The job object as GET /jobs/{id} shows it. For a completed export this
 * signs a fresh download link. */
json_t *jobs_json(const jobs_t *self, const job_t *job, int64_t now_ms);

/* What GET /jobs/{id}/errors answers: the status, and the body in *body
 * (NULL for 204). */
int jobs_errors(const jobs_t *self, const job_t *job, json_t **body);

/* A copy of the export file named file ("job_x.json.gz") in *data.
 * Returns 0, or -1 when there is no such file. */
int jobs_export_file(const jobs_t *self, const char *file, char **data,
                     size_t *len);

/* {"created","completed","failed","active","max_active"} for import
 * jobs and the same for export jobs. */
json_t *jobs_counters_json(const jobs_t *self);

/* Waits, at most max_ms, until no job is pending or processing except
 * those held by a fault; call without the mutex. */
void jobs_drain(jobs_t *self, int64_t max_ms);

/* Completed and failed import jobs as records for a snapshot. */
json_t *jobs_snapshot_json(const jobs_t *self);

/* Restores records written by jobs_snapshot_json; ignores bad ones. */
void jobs_restore(jobs_t *self, const json_t *records);

#endif
