/* api_jobs: the jobs endpoints (users-imports, users-exports, job status,
 * job errors) and the download of export files. Request validation follows
 * Auth0's order and wording: the multipart parts first, then the
 * connection, then the limit of concurrent import jobs. */
#include "api.h"

#include "export.h"
#include "jobs.h"
#include "multipart.h"
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONN_PATTERN      "^con_[A-Za-z0-9]{16}$"
#define MAX_EXPORT_FIELDS 100
#define MAX_CSV_FIELDS    30

static int conn_id_ok(const char *s)
{
    if (strncmp(s, "con_", 4) != 0 || strlen(s) != 20)
        return 0;
    for (int i = 4; i < 20; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

static void payload_error(api_call_t *c, const char *detail,
                          const char *property)
{
    char msg[256];
    if (property)
        snprintf(msg, sizeof msg,
                 "Payload validation error: '%s' on property %s.", detail,
                 property);
    else
        snprintf(msg, sizeof msg, "Payload validation error: '%s'.", detail);
    reply_bad_body(c->resp, msg);
}

/* A multipart text part as a new string. */
static char *part_text(const multipart_t *mp, const char *name)
{
    const multipart_part_t *p = multipart_get(mp, name);
    return p ? xstrndup(p->data, p->len) : NULL;
}

/* Reads an optional "true"/"false" part into *out; 0 or -1 (answered). */
static int bool_part(api_call_t *c, const multipart_t *mp, const char *name,
                     int *out)
{
    char *v = part_text(mp, name);
    int rc = 0;
    if (v && strcmp(v, "true") == 0)
        *out = 1;
    else if (v && strcmp(v, "false") == 0)
        *out = 0;
    else if (v) {
        payload_error(c, "Expected type boolean but found type string", name);
        rc = -1;
    }
    free(v);
    return rc;
}

/* Resolves the connection_id text; answers and returns NULL on error. The
 * caller holds the mutex. */
static const store_conn_t *import_conn(api_call_t *c, const char *id)
{
    if (!id) {
        reply_bad_body(c->resp,
                       "Must provide 'connection_id' as multipart part.");
        return NULL;
    }
    if (!conn_id_ok(id)) {
        payload_error(c, "String does not match pattern " CONN_PATTERN,
                      "connection_id");
        return NULL;
    }
    const store_conn_t *conn = store_conn_by_id(c->sim->store, id);
    if (!conn)
        reply_bad_body(c->resp, "The connection does not exist.");
    else if (!store_conn_is_database(conn))
        reply_bad_body(c->resp, "Connection must be a database connection.");
    else
        return conn;
    return NULL;
}

static void import_locked(api_call_t *c, const multipart_t *mp,
                          const multipart_part_t *users, const char *conn_id,
                          int upsert, int send_email)
{
    sim_t *sim = c->sim;
    const store_conn_t *conn = import_conn(c, conn_id);
    if (!conn)
        return;
    if (jobs_active_imports(sim->jobs) >= sim->cfg.max_active_imports) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "There are %d active import users jobs, please wait until "
                 "some of them are finished and try again",
                 sim->cfg.max_active_imports);
        reply_error(c->resp, 429, msg, NULL);
        return;
    }
    char *ext = part_text(mp, "external_id");
    char *file = xstrndup(users->data, users->len);
    const job_t *job = jobs_add_import(sim->jobs, conn, file, users->len,
                                       upsert, ext, send_email, c->now_ms);
    jobs_set_fault(sim->jobs, job, c->job_fault);
    free(ext);
    reply_json(c->resp, 202, jobs_json(sim->jobs, job, c->now_ms));
}

void api_import_create(api_call_t *c)
{
    multipart_t mp;
    const char *ct = http_header(c->req, "Content-Type");
    if (multipart_parse(ct, c->req->body.data ? c->req->body.data : "",
                        c->req->body.len, &mp) < 0) {
        payload_error(c, "Invalid multipart payload format", NULL);
        return;
    }
    const multipart_part_t *users = multipart_get(&mp, "users");
    if (!users) {
        reply_bad_body(c->resp, "Must provide 'users' file as multipart part.");
        return;
    }
    if (users->len == 0) {
        reply_bad_body(c->resp, "Users file must not be empty.");
        return;
    }
    int upsert = 0, send_email = 1;
    if (bool_part(c, &mp, "upsert", &upsert) < 0 ||
        bool_part(c, &mp, "send_completion_email", &send_email) < 0)
        return;
    char *conn_id = part_text(&mp, "connection_id");
    sim_lock(c->sim);
    import_locked(c, &mp, users, conn_id, upsert, send_email);
    sim_unlock(c->sim);
    free(conn_id);
}

/* --- exports -------------------------------------------------------- */

typedef struct {
    const char *conn_id;
    const char *format;
    json_int_t limit;
    json_t *fields;
} export_req_t;

static int check_fields(api_call_t *c, json_t *fields, int csv)
{
    size_t i;
    json_t *f;
    if (!json_is_array(fields) || json_array_size(fields) > MAX_EXPORT_FIELDS) {
        payload_error(c, "Expected type array but found type object", "fields");
        return -1;
    }
    if (csv && json_array_size(fields) > MAX_CSV_FIELDS) {
        reply_bad_body(c->resp, "A CSV export can have at most 30 fields.");
        return -1;
    }
    json_array_foreach(fields, i, f)
    {
        const char *key;
        json_t *v;
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!json_is_object(f) || !name || strlen(name) > 100) {
            payload_error(c, "Missing required property: name", "fields");
            return -1;
        }
        json_object_foreach(f, key, v)
        {
            int known =
                strcmp(key, "name") == 0 || strcmp(key, "export_as") == 0;
            if (!known || !json_is_string(v) ||
                strlen(json_string_value(v)) > 100) {
                payload_error(c, "Invalid field definition", "fields");
                return -1;
            }
        }
    }
    return 0;
}

static int parse_export(api_call_t *c, json_t *body, export_req_t *er)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "connection_id") && strcmp(key, "format") &&
            strcmp(key, "limit") && strcmp(key, "fields")) {
            char detail[160];
            snprintf(detail, sizeof detail,
                     "Additional properties not allowed: %.100s", key);
            payload_error(c, detail, NULL);
            return -1;
        }
    }
    json_t *cid = json_object_get(body, "connection_id");
    json_t *fmt = json_object_get(body, "format");
    json_t *lim = json_object_get(body, "limit");
    er->conn_id = json_string_value(cid);
    er->format = fmt ? json_string_value(fmt) : "csv";
    er->limit = lim ? json_integer_value(lim) : 0;
    er->fields = json_object_get(body, "fields");
    if ((cid && !er->conn_id) || (er->conn_id && !conn_id_ok(er->conn_id))) {
        payload_error(c, "String does not match pattern " CONN_PATTERN,
                      "connection_id");
        return -1;
    }
    if (!er->format ||
        (strcmp(er->format, "json") != 0 && strcmp(er->format, "csv") != 0)) {
        payload_error(c, "No enum match for: format", "format");
        return -1;
    }
    if (lim && (!json_is_integer(lim) || er->limit < 1)) {
        payload_error(c, "Value must be an integer of at least 1", "limit");
        return -1;
    }
    if (er->fields &&
        check_fields(c, er->fields, strcmp(er->format, "csv") == 0) < 0)
        return -1;
    return 0;
}

void api_export_create(api_call_t *c)
{
    json_error_t err;
    json_t *body = json_loadb(c->req->body.data ? c->req->body.data : "",
                              c->req->body.len, 0, &err);
    export_req_t er;
    if (!json_is_object(body)) {
        reply_bad_body(c->resp, "Invalid request payload JSON format");
    } else if (parse_export(c, body, &er) == 0) {
        sim_lock(c->sim);
        const store_conn_t *conn =
            er.conn_id ? store_conn_by_id(c->sim->store, er.conn_id) : NULL;
        if (er.conn_id && !conn) {
            reply_bad_body(c->resp, "The connection does not exist.");
        } else {
            json_t *fields = er.fields ? json_deep_copy(er.fields) : NULL;
            const job_t *job = jobs_add_export(c->sim->jobs, conn, er.format,
                                               er.limit, fields, c->now_ms);
            jobs_set_fault(c->sim->jobs, job, c->job_fault);
            reply_json(c->resp, 200, jobs_json(c->sim->jobs, job, c->now_ms));
        }
        sim_unlock(c->sim);
    }
    json_decref(body);
}

/* --- job status and errors ------------------------------------------ */

static void job_missing(api_call_t *c)
{
    reply_error(c->resp, 404, "The job does not exist.", NULL);
}

void api_job_get(api_call_t *c)
{
    sim_lock(c->sim);
    const job_t *job = jobs_find(c->sim->jobs, c->params[0], c->now_ms);
    json_t *j = job ? jobs_json(c->sim->jobs, job, c->now_ms) : NULL;
    sim_unlock(c->sim);
    if (j)
        reply_json(c->resp, 200, j);
    else
        job_missing(c);
}

void api_job_errors(api_call_t *c)
{
    json_t *body = NULL;
    int status = 404;
    sim_lock(c->sim);
    const job_t *job = jobs_find(c->sim->jobs, c->params[0], c->now_ms);
    if (job)
        status = jobs_errors(c->sim->jobs, job, &body);
    sim_unlock(c->sim);
    if (!job)
        job_missing(c);
    else if (body)
        reply_json(c->resp, status, body);
    else
        reply_empty(c->resp, status);
}

/* --- downloads ------------------------------------------------------ */

static void access_denied(api_call_t *c, const char *why)
{
    c->resp->status = 403;
    buf_reset(&c->resp->body);
    buf_printf(&c->resp->body,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
               "AccessDenied</Code><Message>%s</Message></Error>\n",
               why);
    c->resp->content_type = "application/xml";
}

void api_export_download(api_call_t *c)
{
    const char *file = c->req->path + strlen("/__exports/");
    const char *exp = http_arg(c->req, "expires");
    const char *sig = http_arg(c->req, "sig");
    char want[17];
    long long expires = exp ? strtoll(exp, NULL, 10) : 0;
    export_sign(c->sim->link_key, file, expires, want);
    if (!sig || strcmp(sig, want) != 0) {
        access_denied(c, "Invalid signature");
        return;
    }
    if (c->now_ms / 1000 > expires) {
        access_denied(c, "Request has expired");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    sim_lock(c->sim);
    int rc = jobs_export_file(c->sim->jobs, file, &data, &len);
    sim_unlock(c->sim);
    if (rc < 0) {
        access_denied(c, "Access Denied");
        return;
    }
    c->resp->status = 200;
    buf_reset(&c->resp->body);
    buf_append(&c->resp->body, data, len);
    free(data);
    c->resp->content_type = "application/gzip";
}
