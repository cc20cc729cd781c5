/* inspect: the /__sim/ endpoints through which tests see and steer the
 * server side: users as stored (never their secrets), counters, the inserts
 * ledger, the request log and the fault rules. They need no token and are
 * neither rate limited nor counted. */
#include "api.h"

#include "counters.h"
#include "faults.h"
#include "jobs.h"
#include "reply.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

static void ndjson(http_resp_t *resp)
{
    resp->status = 200;
    resp->content_type = "application/x-ndjson";
}

static void users(api_call_t *c)
{
    buf_t *out = &c->resp->body;
    buf_reset(out);
    sim_lock(c->sim);
    for (const store_user_t *u = store_first(c->sim->store); u; u = u->next) {
        char *text = json_dumps(u->profile, JSON_COMPACT);
        buf_puts(out, text);
        buf_puts(out, "\n");
        free(text);
    }
    sim_unlock(c->sim);
    ndjson(c->resp);
}

static void counters(api_call_t *c)
{
    sim_t *sim = c->sim;
    sim_lock(sim);
    json_t *jobs = jobs_counters_json(sim->jobs);
    json_t *j =
        json_pack("{s:o, s:I, s:O, s:O, s:I, s:{s:I, s:I, s:I}}", "requests",
                  counters_requests_json(sim->counters), "rate_limited",
                  (json_int_t)counters_rate_limited_total(sim->counters),
                  "jobs", json_object_get(jobs, "imports"), "export_jobs",
                  json_object_get(jobs, "exports"), "users",
                  (json_int_t)store_user_count(sim->store), "inserts", "total",
                  (json_int_t)store_inserts_total(sim->store), "distinct_ids",
                  (json_int_t)store_inserts_distinct(sim->store),
                  "ids_inserted_more_than_once",
                  (json_int_t)store_inserts_repeated(sim->store));
    sim_unlock(sim);
    json_decref(jobs);
    reply_json(c->resp, 200, j);
}

static void inserts(api_call_t *c)
{
    buf_reset(&c->resp->body);
    sim_lock(c->sim);
    store_inserts_ndjson(c->sim->store, &c->resp->body);
    sim_unlock(c->sim);
    ndjson(c->resp);
}

static void requests(api_call_t *c)
{
    buf_reset(&c->resp->body);
    sim_lock(c->sim);
    counters_log_ndjson(c->sim->counters, &c->resp->body);
    sim_unlock(c->sim);
    ndjson(c->resp);
}

/* POST /__sim/faults: one rule or an array of rules. */
static void add_faults(api_call_t *c)
{
    json_error_t jerr;
    const char *data = c->req->body.data ? c->req->body.data : "";
    json_t *in = json_loadb(data, c->req->body.len, 0, &jerr);
    json_t *rules = json_is_array(in) ? json_incref(in) : json_pack("[O]", in);
    char err[128] = "body must be a rule object or an array of rules";
    int rc = in ? 0 : -1;
    size_t i;
    json_t *rule;
    sim_lock(c->sim);
    json_array_foreach(rules, i, rule)
    {
        if (rc == 0 && !json_is_object(rule))
            rc = -1;
        if (rc == 0)
            rc = faults_add(c->sim->faults, rule, err, sizeof err);
    }
    json_t *now = faults_json(c->sim->faults);
    sim_unlock(c->sim);
    json_decref(rules);
    json_decref(in);
    if (rc < 0) {
        json_decref(now);
        reply_error(c->resp, 400, err, NULL);
        return;
    }
    reply_json(c->resp, 200, now);
}

static void faults(api_call_t *c)
{
    const char *m = c->req->method;
    if (strcmp(m, "POST") == 0) {
        add_faults(c);
        return;
    }
    sim_lock(c->sim);
    json_t *now = NULL;
    if (strcmp(m, "DELETE") == 0)
        faults_clear(c->sim->faults);
    else
        now = faults_json(c->sim->faults);
    sim_unlock(c->sim);
    if (now)
        reply_json(c->resp, 200, now);
    else
        reply_empty(c->resp, 204);
}

static void reset(api_call_t *c)
{
    sim_lock(c->sim);
    counters_reset(c->sim->counters);
    sim_unlock(c->sim);
    reply_empty(c->resp, 204);
}

void api_inspect(api_call_t *c)
{
    const char *m = c->req->method, *p = c->req->path + strlen("/__sim");
    int get = strcmp(m, "GET") == 0;
    if (get && strcmp(p, "/users") == 0)
        users(c);
    else if (get && strcmp(p, "/counters") == 0)
        counters(c);
    else if (get && strcmp(p, "/inserts") == 0)
        inserts(c);
    else if (get && strcmp(p, "/requests") == 0)
        requests(c);
    else if (strcmp(m, "POST") == 0 && strcmp(p, "/reset-counters") == 0)
        reset(c);
    else if (strcmp(p, "/faults") == 0)
        faults(c);
    else
        reply_error(c->resp, 404, "Not Found", NULL);
}
