#ifndef A0SIM_API_H
#define A0SIM_API_H

#include "faults.h"
#include "http.h"
#include "limits.h"
#include "sim.h"

#include <stdint.h>

/* api: routing of every request (Management API, /oauth/token, export
 * downloads, /__sim inspection) and the handlers. */

#define API_IMPORT_MAX_BYTES 512000
#define API_BODY_MAX_BYTES   (1024 * 1024)
#define API_MAX_PARAMS       3

/* One request being handled. params are the percent-decoded {id}
 * segments of the route. */
typedef struct {
    sim_t *sim;
    http_req_t *req;
    http_resp_t *resp;
    char *params[API_MAX_PARAMS];
    char *scope; /* the bearer token's scope, once checked */
    limit_group_t group;
    int64_t now_ms;
    fault_kind_t job_fault; /* FAULT_JOB_FAIL or FAULT_JOB_STUCK for the job
                               this request creates */
} api_call_t;

/* The tenants of the process; [0] answers requests no other claims. */
typedef struct {
    sim_t *sims[SIM_MAX_TENANTS];
    int n;
} api_tenants_t;

/* http_handler_fn for http_new; arg is an api_tenants_t. Picks the tenant
 * whose domain the Host header names (an export download names it in its
 * tenant parameter) and hands the request to api_handle. */
void api_dispatch(void *arg, http_req_t *req, http_resp_t *resp);

/* Handles a request for one tenant; arg is its sim_t. */
void api_handle(void *arg, http_req_t *req, http_resp_t *resp);

/* http_limit_fn for http_new. */
size_t api_body_limit(void *arg, const char *method, const char *path);

/* Percent-decodes n bytes of s into a new string; NULL when an escape is
 * malformed or decodes to NUL. */
char *api_decode(const char *s, size_t n);

/* Handlers (api_users.c, api_jobs.c, oauth.c, inspect.c). */
void api_connections_list(api_call_t *c);
void api_connection_get(api_call_t *c);
void api_users_list(api_call_t *c);
void api_user_get(api_call_t *c);
void api_user_patch(api_call_t *c);
void api_identity_link(api_call_t *c);
void api_identity_unlink(api_call_t *c);
void api_user_enrollments(api_call_t *c);
void api_user_authn(api_call_t *c);
void api_user_delete(api_call_t *c);
void api_users_by_email(api_call_t *c);
void api_import_create(api_call_t *c);
void api_export_create(api_call_t *c);
void api_job_get(api_call_t *c);
void api_job_errors(api_call_t *c);
void api_export_download(api_call_t *c);
void api_oauth_token(api_call_t *c);
void api_inspect(api_call_t *c);

#endif
