/* export: fetches the source tenant's users through a users-exports job.
 * Asks for an explicit field list (the default set is undocumented), polls
 * the job, and downloads the file at its location. The link lives about 60
 * seconds, so an expired link is renewed by reading the job again. */
#include "export.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth0.h"
#include "log.h"
#include "run.h"
#include "util.h"

#define M                "export"
#define EXPORT_MAX_BYTES (64LL * 1024 * 1024 * 1024)

/* Every exportable field an import can use, plus what the transform
 * needs to classify (identities) and what it reports as dropped. */
static const char *fields[] = {
    "user_id",      "email",          "email_verified", "username",
    "phone_number", "phone_verified", "given_name",     "family_name",
    "name",         "nickname",       "picture",        "blocked",
    "identities",   "app_metadata",   "user_metadata",  "created_at",
    "updated_at",   "last_login",     "logins_count",   "multifactor",
    NULL,
};

static char *fields_json(void)
{
    json_t *arr = json_array();
    for (int i = 0; fields[i]; i++)
        json_array_append_new(arr, json_pack("{s:s}", "name", fields[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

static auth0_t *source_client(char **secret)
{
    const char *domain = getenv("A0_SOURCE_DOMAIN");
    const char *id = getenv("A0_SOURCE_CLIENT_ID");
    *secret = util_getenv_secret("A0_SOURCE_CLIENT_SECRET");
    if (!domain || !id || !*secret) {
        log_error(M, "source tenant not configured: set A0_SOURCE_DOMAIN, "
                     "A0_SOURCE_CLIENT_ID and A0_SOURCE_CLIENT_SECRET (or "
                     "A0_SOURCE_CLIENT_SECRET_FILE)");
        return NULL;
    }
    auth0_cfg_t c;
    memset(&c, 0, sizeof c);
    c.domain = domain;
    c.base_url = getenv("A0_SOURCE_BASE_URL");
    c.client_id = id;
    c.client_secret = *secret;
    return auth0_new(&c);
}

/* Reads the job; returns its JSON object or NULL. */
static json_t *read_job(auth0_t *api, const char *job_id)
{
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    json_t *o = NULL;
    if (auth0_get_job(api, job_id, &resp) == AUTH0_OK && resp.status == 200)
        o = json_loads(resp.body, 0, NULL);
    else
        log_error(M, "%s", resp.errstr);
    auth0_resp_clear(&resp);
    return o;
}

static char *start_job(auth0_t *api, const char *connection)
{
    char *f = fields_json();
    auth0_resp_t resp;
    memset(&resp, 0, sizeof resp);
    auth0_err_t e = auth0_export_start(api, connection, f, &resp);
    free(f);
    char *id = NULL;
    if (e == AUTH0_OK && resp.status == 200) {
        json_t *o = json_loads(resp.body, 0, NULL);
        const char *s = json_string_value(json_object_get(o, "id"));
        id = s ? xstrdup(s) : NULL;
        json_decref(o);
    }
    if (!id)
        log_error(M, "starting the export: %s", resp.errstr);
    auth0_resp_clear(&resp);
    return id;
}

/* Waits for the job; returns its download location or NULL. */
static char *wait_location(auth0_t *api, const char *job_id)
{
    int64_t interval = 500;
    for (;;) {
        json_t *job = read_job(api, job_id);
        const char *st = json_string_value(json_object_get(job, "status"));
        const char *loc = json_string_value(json_object_get(job, "location"));
        if (st && strcmp(st, "completed") == 0 && loc) {
            char *out = xstrdup(loc);
            json_decref(job);
            return out;
        }
        if (!st || strcmp(st, "failed") == 0 || strcmp(st, "expired") == 0) {
            log_error(M, "export job %s ended as %s", job_id,
                      st ? st : "unreadable");
            json_decref(job);
            return NULL;
        }
        json_decref(job);
        util_sleep_ms(interval);
        interval = interval < 5000 ? interval * 3 / 2 : 5000;
    }
}

int export_main(const char *out_path, const char *connection)
{
    char *secret = NULL;
    auth0_t *api = source_client(&secret);
    int rc = api ? EXIT_CANNOT : EXIT_USAGE;
    char *job_id = api ? start_job(api, connection) : NULL;
    for (int tries = 0; job_id && tries < 3; tries++) {
        char *loc = wait_location(api, job_id);
        if (!loc)
            break;
        char err[512];
        int ok = auth0_download(api, loc, out_path, (size_t)EXPORT_MAX_BYTES,
                                err, sizeof err) == 0;
        free(loc);
        if (ok) {
            log_info(M, "export job %s saved to %s", job_id, out_path);
            rc = 0;
            break;
        }
        /* Most likely the link expired: reading the job renews it. */
        log_warn(M, "download failed (%s); asking for a fresh link", err);
    }
    free(job_id);
    auth0_destroy(&api);
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    return rc;
}
