/* jobs: owns the job table (by id and in creation order) and the worker
 * thread. A job moves pending -> processing -> completed | failed. The
 * worker holds the tenant mutex except while it parses an import file or
 * compresses an export, and drops it between batches so that requests are
 * served while a large job runs. Each import job advances at --import-rate
 * users per second of its own (0: as fast as possible), so two jobs run
 * side by side as they do on Auth0. Only the worker frees jobs (terminal
 * jobs past the retention), so a job pointer stays valid while the worker
 * walks the list with the mutex dropped. */
#include "jobs.h"

#include "export.h"
#include "hmap.h"
#include "import.h"
#include "log.h"
#include "rand.h"
#include "reply.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOB_BATCH 500

typedef enum {
    JOB_IMPORT,
    JOB_EXPORT,
} job_kind_t;

typedef enum {
    ST_PENDING,
    ST_PROCESSING,
    ST_COMPLETED,
    ST_FAILED,
} job_state_t;

static const char *const state_names[] = { "pending", "processing", "completed",
                                           "failed" };

struct job_t {
    char id[21];
    job_kind_t kind;
    job_state_t state;
    int64_t created_ms, started_ms;
    const store_conn_t *conn;
    char *external_id;
    int upsert, send_email;
    char *file; /* import file until parsed */
    size_t file_len;
    json_t *users; /* parsed array while processing */
    size_t total, done;
    import_t *imp;
    int inserted, updated, failed;
    json_t *errors; /* error entries once completed */
    char *status_details;
    char *format; /* export */
    int64_t limit;
    json_t *fields;
    unsigned char *out;
    size_t out_len;
    fault_kind_t fault;
    job_t *next;
};

typedef struct {
    int64_t created, completed, failed, active, max_active;
    int64_t users;   /* users of completed jobs */
    int64_t busy_us; /* time the worker spent parsing and applying them */
} tally_t;

struct jobs_t {
    sim_t *sim;
    hmap_t *by_id;
    job_t *head, *tail;
    pthread_t thread;
    pthread_cond_t cond;
    int running, stopping;
    uint64_t id_state;
    tally_t imports, exports;
};

jobs_t *jobs_new(sim_t *sim)
{
    jobs_t *self = xcalloc(1, sizeof *self);
    self->sim = sim;
    self->by_id = hmap_new(NULL);
    self->id_state = rand_secure_seed();
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    return self;
}

static void job_free(job_t *j)
{
    free(j->external_id);
    free(j->file);
    json_decref(j->users);
    import_destroy(&j->imp);
    json_decref(j->errors);
    free(j->status_details);
    free(j->format);
    json_decref(j->fields);
    free(j->out);
    free(j);
}

void jobs_destroy(jobs_t **p)
{
    if (!p || !*p)
        return;
    jobs_t *self = *p;
    job_t *j = self->head;
    while (j) {
        job_t *next = j->next;
        job_free(j);
        j = next;
    }
    hmap_destroy(&self->by_id);
    pthread_cond_destroy(&self->cond);
    free(self);
    *p = NULL;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static tally_t *tally_of(jobs_t *self, const job_t *j)
{
    return j->kind == JOB_IMPORT ? &self->imports : &self->exports;
}

static job_t *add_job(jobs_t *self, job_kind_t kind, const store_conn_t *conn,
                      int64_t now_ms)
{
    job_t *j = xcalloc(1, sizeof *j);
    do {
        memcpy(j->id, "job_", 4);
        rand_alnum(&self->id_state, j->id + 4, 16);
    } while (hmap_has(self->by_id, j->id));
    j->kind = kind;
    j->state = ST_PENDING;
    j->created_ms = now_ms;
    j->conn = conn;
    hmap_put(self->by_id, j->id, j);
    if (self->tail)
        self->tail->next = j;
    else
        self->head = j;
    self->tail = j;
    tally_t *t = tally_of(self, j);
    t->created++;
    if (++t->active > t->max_active)
        t->max_active = t->active;
    pthread_cond_signal(&self->cond);
    return j;
}

int jobs_active_imports(const jobs_t *self)
{
    return (int)self->imports.active;
}

const job_t *jobs_add_import(jobs_t *self, const store_conn_t *conn, char *file,
                             size_t len, int upsert, const char *external_id,
                             int send_email, int64_t now_ms)
{
    job_t *j = add_job(self, JOB_IMPORT, conn, now_ms);
    j->file = file;
    j->file_len = len;
    j->upsert = upsert;
    j->send_email = send_email;
    j->external_id = external_id ? xstrdup(external_id) : NULL;
    log_info("jobs", "%s: import of %zu bytes queued (upsert %s)", j->id, len,
             upsert ? "on" : "off");
    return j;
}

const job_t *jobs_add_export(jobs_t *self, const store_conn_t *conn,
                             const char *format, int64_t limit, json_t *fields,
                             int64_t now_ms)
{
    job_t *j = add_job(self, JOB_EXPORT, conn, now_ms);
    j->format = xstrdup(format);
    j->limit = limit;
    j->fields = fields;
    log_info("jobs", "%s: export queued", j->id);
    return j;
}

void jobs_set_fault(jobs_t *self, const job_t *job, fault_kind_t fault)
{
    job_t *j = hmap_get(self->by_id, job->id);
    if (j)
        j->fault = fault;
}

const job_t *jobs_find(const jobs_t *self, const char *id, int64_t now_ms)
{
    const job_t *j = hmap_get(self->by_id, id);
    int64_t keep_ms = self->sim->cfg.job_retention_s * 1000;
    if (!j || now_ms - j->created_ms > keep_ms)
        return NULL;
    return j;
}

/* --- job objects ---------------------------------------------------- */

static void set_conn(json_t *o, const job_t *j, int with_name)
{
    if (!j->conn)
        return;
    json_object_set_new(o, "connection_id", json_string(j->conn->id));
    if (with_name)
        json_object_set_new(o, "connection", json_string(j->conn->name));
}

static json_int_t seconds_up(double s)
{
    double up = ceil(s);
    return (json_int_t)up;
}

static void set_progress(json_t *o, const jobs_t *self, const job_t *j)
{
    double rate = self->sim->cfg.import_rate;
    size_t left = j->total - j->done;
    int pct = j->total ? (int)(j->done * 100 / j->total) : 0;
    json_object_set_new(o, "percentage_done", json_integer(pct));
    json_object_set_new(
        o, "time_left_seconds",
        json_integer(rate > 0 ? seconds_up((double)left / rate) : 0));
}

static char *export_file_name(const job_t *j)
{
    return xasprintf("%s.%s.gz", j->id, j->format);
}

static void set_location(json_t *o, const jobs_t *self, const job_t *j,
                         int64_t now_ms)
{
    const sim_t *sim = self->sim;
    int64_t expires = now_ms / 1000 + sim->cfg.export_link_ttl_s;
    char *file = export_file_name(j);
    char sig[17];
    export_sign(sim->link_key, file, expires, sig);
    char *url =
        xasprintf("%s/__exports/%s?expires=%lld&sig=%s%s%s", sim->base_url,
                  file, (long long)expires, sig, sim->index ? "&tenant=" : "",
                  sim->index ? sim->cfg.domain : "");
    json_object_set_new(o, "location", json_string(url));
    free(url);
    free(file);
}

static json_t *import_json(const jobs_t *self, const job_t *j)
{
    char created[32];
    reply_iso_ms(j->created_ms, created);
    json_t *o = json_pack("{s:s, s:s}", "type", "users_import", "status",
                          state_names[j->state]);
    set_conn(o, j, 1);
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "id", json_string(j->id));
    if (j->external_id)
        json_object_set_new(o, "external_id", json_string(j->external_id));
    if (j->state == ST_PROCESSING)
        set_progress(o, self, j);
    if (j->state == ST_COMPLETED)
        json_object_set_new(o, "summary",
                            json_pack("{s:i, s:i, s:i, s:i}", "failed",
                                      j->failed, "updated", j->updated,
                                      "inserted", j->inserted, "total",
                                      (int)j->total));
    if (j->state == ST_FAILED && j->status_details)
        json_object_set_new(o, "status_details",
                            json_string(j->status_details));
    return o;
}

static json_t *export_json(const jobs_t *self, const job_t *j, int64_t now_ms)
{
    char created[32];
    reply_iso_ms(j->created_ms, created);
    json_t *o = json_pack("{s:s, s:s}", "type", "users_export", "status",
                          state_names[j->state]);
    set_conn(o, j, 0);
    json_object_set_new(o, "format", json_string(j->format));
    if (j->limit > 0)
        json_object_set_new(o, "limit", json_integer(j->limit));
    if (j->fields)
        json_object_set(o, "fields", j->fields);
    if (j->conn)
        json_object_set_new(o, "connection", json_string(j->conn->name));
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "id", json_string(j->id));
    if (j->state == ST_COMPLETED)
        set_location(o, self, j, now_ms);
    if (j->state == ST_FAILED && j->status_details)
        json_object_set_new(o, "status_details",
                            json_string(j->status_details));
    return o;
}

json_t *jobs_json(const jobs_t *self, const job_t *job, int64_t now_ms)
{
    if (job->kind == JOB_IMPORT)
        return import_json(self, job);
    return export_json(self, job, now_ms);
}

int jobs_errors(const jobs_t *self, const job_t *job, json_t **body)
{
    *body = NULL;
    if (job->state == ST_COMPLETED && json_array_size(job->errors)) {
        *body = json_incref(job->errors);
        return 200;
    }
    if (job->state == ST_FAILED && self->sim->cfg.failed_job_errors_object) {
        char created[32];
        reply_iso_ms(job->created_ms, created);
        *body =
            json_pack("{s:s, s:s, s:s, s:s}", "status", "failed", "type",
                      job->kind == JOB_IMPORT ? "users_import" : "users_export",
                      "created_at", created, "id", job->id);
        set_conn(*body, job, 0);
        if (job->status_details)
            json_object_set_new(*body, "status_details",
                                json_string(job->status_details));
        return 200;
    }
    return 204;
}

int jobs_export_file(const jobs_t *self, const char *file, char **data,
                     size_t *len)
{
    char id[21];
    size_t n = strcspn(file, ".");
    if (n >= sizeof id)
        return -1;
    memcpy(id, file, n);
    id[n] = '\0';
    const job_t *j = hmap_get(self->by_id, id);
    if (!j || j->kind != JOB_EXPORT || j->state != ST_COMPLETED)
        return -1;
    char *name = export_file_name(j);
    int same = strcmp(name, file) == 0;
    free(name);
    if (!same)
        return -1;
    *data = xmalloc(j->out_len ? j->out_len : 1);
    memcpy(*data, j->out, j->out_len);
    *len = j->out_len;
    return 0;
}

static json_t *tally_json(const tally_t *t)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "created",
        (json_int_t)t->created, "completed", (json_int_t)t->completed, "failed",
        (json_int_t)t->failed, "active", (json_int_t)t->active, "max_active",
        (json_int_t)t->max_active, "users_processed", (json_int_t)t->users,
        "processing_us", (json_int_t)t->busy_us);
}

json_t *jobs_counters_json(const jobs_t *self)
{
    return json_pack("{s:o, s:o}", "imports", tally_json(&self->imports),
                     "exports", tally_json(&self->exports));
}

/* --- the worker ----------------------------------------------------- */

static void finish(jobs_t *self, job_t *j, job_state_t state,
                   const char *details)
{
    j->state = state;
    if (details)
        j->status_details = xstrdup(details);
    tally_t *t = tally_of(self, j);
    t->active--;
    if (state == ST_COMPLETED)
        t->completed++;
    else
        t->failed++;
}

static void start_import(jobs_t *self, job_t *j)
{
    sim_t *sim = self->sim;
    j->state = ST_PROCESSING;
    j->started_ms = util_wall_ms();
    char *file = j->file;
    size_t len = j->file_len;
    j->file = NULL;

    /* Parse without the mutex: the file is the job's own and only this
     * thread touches it. */
    sim_unlock(sim);
    json_error_t err;
    json_t *users = json_loadb(file, len, 0, &err);
    free(file);
    sim_lock(sim);

    if (!json_is_array(users)) {
        json_decref(users);
        log_info("jobs", "%s: failed, the users file is not a JSON array",
                 j->id);
        finish(self, j, ST_FAILED,
               "Failed to parse users file JSON when importing users. "
               "Make sure it is valid JSON.");
        return;
    }
    validate_opts_t vopts = { sim->cfg.format_code, sim->cfg.additional_code };
    j->users = users;
    j->total = json_array_size(users);
    j->imp = import_new(sim->store, j->conn, j->upsert, &vopts);
}

static void complete_import(jobs_t *self, job_t *j)
{
    j->inserted = import_inserted(j->imp);
    j->updated = import_updated(j->imp);
    j->failed = import_failed(j->imp);
    j->errors = json_incref(import_errors(j->imp));
    import_destroy(&j->imp);
    json_decref(j->users);
    j->users = NULL;
    self->imports.users += (int64_t)j->total;
    finish(self, j, ST_COMPLETED, NULL);
    log_info("jobs", "%s: completed, %d inserted, %d updated, %d failed", j->id,
             j->inserted, j->updated, j->failed);
}

/* Advances an import; returns the ms until it has more work due. */
static int64_t step_import(jobs_t *self, job_t *j, int64_t now_ms)
{
    double rate = self->sim->cfg.import_rate;
    size_t target = j->total;
    if (rate > 0) {
        double due = rate * (double)(now_ms - j->started_ms) / 1000.0;
        if (due < (double)target)
            target = (size_t)due;
    }
    for (int n = 0; j->done < target && n < JOB_BATCH; n++, j->done++)
        import_user(j->imp, json_array_get(j->users, j->done), now_ms);
    if (j->done == j->total) {
        complete_import(self, j);
        return 1000;
    }
    if (j->done < target)
        return 0;
    double next = (double)j->started_ms + (double)(j->done + 1) * 1000 / rate;
    double next_up = ceil(next);
    int64_t wait = (int64_t)next_up - now_ms;
    return wait < 1 ? 1 : wait;
}

static void run_export(jobs_t *self, job_t *j)
{
    sim_t *sim = self->sim;
    j->state = ST_PROCESSING;
    buf_t text;
    buf_init(&text);
    export_write(sim->store, j->conn, j->format, j->limit, j->fields, &text);

    /* Compress without the mutex; the text is ours alone. */
    sim_unlock(sim);
    unsigned char *out = NULL;
    size_t out_len = 0;
    int rc = export_gzip(text.data ? text.data : "", text.len, &out, &out_len);
    buf_free(&text);
    sim_lock(sim);

    if (rc < 0) {
        finish(self, j, ST_FAILED, "Could not compress the export file.");
        return;
    }
    j->out = out;
    j->out_len = out_len;
    finish(self, j, ST_COMPLETED, NULL);
    log_info("jobs", "%s: export completed, %zu bytes", j->id, out_len);
}

static void purge(jobs_t *self, int64_t now_ms)
{
    int64_t keep_ms = self->sim->cfg.job_retention_s * 1000;
    job_t **link = &self->head;
    job_t *prev = NULL;
    while (*link) {
        job_t *j = *link;
        int done = j->state == ST_COMPLETED || j->state == ST_FAILED;
        if (!done || now_ms - j->created_ms <= keep_ms) {
            prev = j;
            link = &j->next;
            continue;
        }
        *link = j->next;
        if (self->tail == j)
            self->tail = prev;
        hmap_del(self->by_id, j->id, 1);
        job_free(j);
    }
}

/* Fails a job that is still active past the job timeout, as Auth0 does
 * after two hours. Returns 1 when the job is now terminal. */
static int timed_out(jobs_t *self, job_t *j, int64_t now_ms)
{
    int64_t limit_ms = self->sim->cfg.job_timeout_s * 1000;
    int active = j->state == ST_PENDING || j->state == ST_PROCESSING;
    if (!active || now_ms - j->created_ms <= limit_ms)
        return !active;
    json_decref(j->users);
    j->users = NULL;
    import_destroy(&j->imp);
    finish(self, j, ST_FAILED, "Job timed out.");
    log_info("jobs", "%s: timed out", j->id);
    return 1;
}

/* Starts a job whose fault says it fails; returns 1 when it did. */
static int fault_start(jobs_t *self, job_t *j)
{
    if (j->fault == FAULT_JOB_STUCK)
        return 1;
    if (j->fault != FAULT_JOB_FAIL)
        return 0;
    free(j->file);
    j->file = NULL;
    finish(self, j, ST_FAILED, "Internal error.");
    log_info("jobs", "%s: failed (injected)", j->id);
    return 1;
}

/* One pass over the jobs; returns how long the worker may sleep. */
static int64_t run_once(jobs_t *self)
{
    purge(self, util_wall_ms());
    int64_t wait = 1000;
    for (job_t *j = self->head; j && !self->stopping; j = j->next) {
        if (timed_out(self, j, util_wall_ms()))
            continue;
        if (j->state == ST_PENDING && fault_start(self, j))
            continue;
        if (j->state == ST_PENDING && j->kind == JOB_EXPORT)
            run_export(self, j);
        int64_t t0 = mono_us();
        if (j->state == ST_PENDING && j->kind == JOB_IMPORT)
            start_import(self, j);
        if (j->state != ST_PROCESSING || j->kind != JOB_IMPORT)
            continue;
        int64_t w = step_import(self, j, util_wall_ms());
        self->imports.busy_us += mono_us() - t0;
        if (w < wait)
            wait = w;
    }
    return wait;
}

static void timed_wait(jobs_t *self, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&self->cond, &self->sim->lock, &ts);
}

static void *worker_main(void *arg)
{
    jobs_t *self = arg;
    sim_t *sim = self->sim;
    sim_lock(sim);
    while (!self->stopping) {
        int64_t wait = run_once(self);
        if (self->stopping)
            break;
        if (wait > 0) {
            timed_wait(self, wait);
            continue;
        }

        /* More work is due now: let waiting requests in first. */
        sim_unlock(sim);
        sched_yield();
        sim_lock(sim);
    }
    sim_unlock(sim);
    return NULL;
}

int jobs_start(jobs_t *self)
{
    if (pthread_create(&self->thread, NULL, worker_main, self) != 0)
        return -1;
    self->running = 1;
    return 0;
}

void jobs_stop(jobs_t *self)
{
    if (!self->running)
        return;
    sim_lock(self->sim);
    self->stopping = 1;
    pthread_cond_signal(&self->cond);
    sim_unlock(self->sim);
    pthread_join(self->thread, NULL);
    self->running = 0;
}

void jobs_drain(jobs_t *self, int64_t max_ms)
{
    int64_t until = util_mono_ms() + max_ms;
    sim_lock(self->sim);
    for (;;) {
        int busy = 0;
        for (job_t *j = self->head; j; j = j->next)
            busy |= (j->state == ST_PENDING || j->state == ST_PROCESSING) &&
                    j->fault != FAULT_JOB_STUCK;
        if (!busy || util_mono_ms() >= until)
            break;
        sim_unlock(self->sim);
        util_sleep_ms(10);
        sim_lock(self->sim);
    }
    sim_unlock(self->sim);
}

static json_t *job_record(const job_t *j)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:O}", "id", j->id, "status",
        state_names[j->state], "created_ms", (json_int_t)j->created_ms, "total",
        (json_int_t)j->total, "inserted", j->inserted, "updated", j->updated,
        "failed", j->failed, "errors", j->errors ? j->errors : json_null());
    if (j->conn)
        json_object_set_new(o, "connection", json_string(j->conn->name));
    if (j->external_id)
        json_object_set_new(o, "external_id", json_string(j->external_id));
    if (j->status_details)
        json_object_set_new(o, "status_details",
                            json_string(j->status_details));
    return o;
}

json_t *jobs_snapshot_json(const jobs_t *self)
{
    json_t *a = json_array();
    for (const job_t *j = self->head; j; j = j->next)
        if (j->kind == JOB_IMPORT &&
            (j->state == ST_COMPLETED || j->state == ST_FAILED))
            json_array_append_new(a, job_record(j));
    return a;
}

static void restore_one(jobs_t *self, const json_t *r)
{
    const char *id = json_string_value(json_object_get(r, "id"));
    const char *st = json_string_value(json_object_get(r, "status"));
    const char *conn = json_string_value(json_object_get(r, "connection"));
    if (!id || strlen(id) != 20 || !st || hmap_has(self->by_id, id))
        return;
    job_t *j = xcalloc(1, sizeof *j);
    memcpy(j->id, id, 21);
    j->kind = JOB_IMPORT;
    j->state = strcmp(st, "completed") == 0 ? ST_COMPLETED : ST_FAILED;
    j->created_ms = json_integer_value(json_object_get(r, "created_ms"));
    j->conn = conn ? store_conn_by_name(self->sim->store, conn) : NULL;
    j->total = (size_t)json_integer_value(json_object_get(r, "total"));
    j->inserted = (int)json_integer_value(json_object_get(r, "inserted"));
    j->updated = (int)json_integer_value(json_object_get(r, "updated"));
    j->failed = (int)json_integer_value(json_object_get(r, "failed"));
    json_t *errs = json_object_get(r, "errors");
    j->errors = json_is_array(errs) ? json_incref(errs) : NULL;
    const char *ext = json_string_value(json_object_get(r, "external_id"));
    j->external_id = ext ? xstrdup(ext) : NULL;
    const char *det = json_string_value(json_object_get(r, "status_details"));
    j->status_details = det ? xstrdup(det) : NULL;
    hmap_put(self->by_id, j->id, j);
    if (self->tail)
        self->tail->next = j;
    else
        self->head = j;
    self->tail = j;
}

void jobs_restore(jobs_t *self, const json_t *records)
{
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) restore_one(self, r);
}
