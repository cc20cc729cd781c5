#ifndef A0_AUTH0_H
#define A0_AUTH0_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* auth0: a Management API client over libcurl for one tenant. One client
 * per thread (it owns one curl easy handle and the cached token). It never
 * logs or returns the client secret or the token. */

typedef struct auth0_t auth0_t;

typedef struct {
    const char *domain;   /* tenant domain, e.g. acme.eu.auth0.com */
    const char *base_url; /* optional override, e.g. http://127.0.0.1:8081
                             (default https://DOMAIN) */
    const char *client_id;
    const char *client_secret; /* copied; wiped on destroy */
    const char *audience;      /* default https://DOMAIN/api/v2/ */
    long timeout_ms;           /* per request, default 30000 */
    size_t max_body_bytes;     /* response bound, default 16 MB */
} auth0_cfg_t;

/* Endpoint groups, as the rate limiter buckets them. */
typedef enum {
    AUTH0_GROUP_TOKEN = 0,   /* POST /oauth/token (Authentication API) */
    AUTH0_GROUP_JOBS_WRITE,  /* POST /jobs/... */
    AUTH0_GROUP_JOBS_READ,   /* GET /jobs/... */
    AUTH0_GROUP_USERS_READ,  /* GET /users..., /connections */
    AUTH0_GROUP_USERS_WRITE, /* POST/PATCH/DELETE /users... */
    AUTH0_GROUP_COUNT,
} auth0_group_t;

const char *auth0_group_name(auth0_group_t g);

/* Called before every request is sent. Returns 0 to send, -1 to abort the
 * request (it then fails with AUTH0_ERR_GATE). */
typedef int (*auth0_gate_fn)(void *arg, auth0_group_t group);
/* Called after every 429 that is a rate limit (not the concurrent-import
 * one), with the pause the response asks for. */
typedef void (*auth0_pause_fn)(void *arg, auth0_group_t group,
                               int64_t pause_ms);

typedef enum {
    AUTH0_OK = 0,        /* an HTTP response arrived; look at status */
    AUTH0_ERR_CONNECT,   /* nothing was sent (connect/DNS failure) */
    AUTH0_ERR_TRANSPORT, /* sent, but no complete response: outcome
                            unknown */
    AUTH0_ERR_TOKEN,     /* could not obtain a token (see errstr; status
                            is the token endpoint's, 0 if unreached);
                            the API request itself was not sent */
    AUTH0_ERR_GATE,      /* the gate refused */
    AUTH0_ERR_TOO_LARGE, /* response over the size bound */
} auth0_err_t;

typedef struct {
    long status; /* HTTP status, 0 when none */
    char *body;  /* NUL-terminated, may be empty; freed by
                    auth0_resp_clear */
    size_t body_len;
    int64_t rl_limit; /* x-ratelimit-* headers, -1 when absent */
    int64_t rl_remaining;
    int64_t rl_reset;    /* epoch seconds */
    int64_t retry_after; /* seconds, -1 when absent */
    int64_t date;        /* Date header as epoch seconds, -1 when absent */
    char errstr[512];    /* "METHOD PATH: status message" or "METHOD
                            PATH: what went wrong"; no query string */
} auth0_resp_t;

/* Every function filling an auth0_resp_t clears it first: pass one that is
 * zeroed or that an earlier call filled. */

/* NULL when cfg has neither domain nor base_url, or curl fails. Strings
 * are copied. */
auth0_t *auth0_new(const auth0_cfg_t *cfg);
/* Wipes the secret and the token; NULL-safe; nulls *p. */
void auth0_destroy(auth0_t **p);

/* "token", "jobs_write", "jobs_read", "users_read", "users_write". */

void auth0_set_gate(auth0_t *self, auth0_gate_fn gate, auth0_pause_fn pause,
                    void *arg);

/* Pause in ms that a 429 response asks for: x-ratelimit-reset minus Date
 * (or now), else Retry-After, clamped to [min_ms, max_ms]. */
int64_t auth0_pause_ms(const auth0_resp_t *resp, int64_t now_s, int64_t min_ms,
                       int64_t max_ms);

/* An RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as epoch
 * seconds, or -1 when s is not one. */
int64_t auth0_http_date(const char *s);

/* True when resp is the "There are 2 active import users jobs" 429. */
int auth0_is_job_cap_429(const auth0_resp_t *resp);

/* Generic request to PATH under /api/v2 (e.g. "/jobs/job_x"). Gets and
 * refreshes the token itself (one retry after a 401). GETs are retried on
 * 5xx, transport errors and rate-limit 429s with capped exponential backoff
 * and jitter; other methods are never retried here. Each try meets the
 * gate; every rate-limit 429 (any method) reaches the pause hook. POSTs and
 * PATCHes use a fresh connection, so curl never resends them itself. body
 * is not copied; it must live until the call returns. */
auth0_err_t auth0_request(auth0_t *self, const char *method, const char *path,
                          const char *content_type, const char *body,
                          size_t body_len, auth0_group_t group,
                          auth0_resp_t *resp);

/* Bytes of an import request body other than the users file, for a
 * connection id and an external id of the given length (exact for
 * upsert=0, one byte over for upsert=1; see auth0_import_body). */
size_t auth0_import_overhead(const char *connection_id, size_t external_id_len);

/* Writes the multipart/form-data body of an import to out (appending) and
 * returns its length. Parts: connection_id, upsert, external_id (empty when
 * NULL), send_completion_email=false, users (users.json, application/json).
 * The body starts with "--" and the 35-byte boundary, which occurs nowhere
 * in the inputs. Its length is auth0_import_overhead(connection_id,
 * strlen(external_id)) + users_len with upsert 0, one byte less with
 * upsert 1 ("true" is shorter than "false"), so the overhead is an exact
 * bound either way. */
size_t auth0_import_body(buf_t *out, const char *connection_id,
                         const char *external_id, int upsert, const char *users,
                         size_t users_len);

/* POST /api/v2/jobs/users-imports with send_completion_email=false. */
auth0_err_t auth0_import(auth0_t *self, const char *connection_id,
                         const char *external_id, int upsert,
                         const char *users_json, size_t users_len,
                         auth0_resp_t *resp);

auth0_err_t auth0_get_job(auth0_t *self, const char *job_id,
                          auth0_resp_t *resp);
auth0_err_t auth0_get_job_errors(auth0_t *self, const char *job_id,
                                 auth0_resp_t *resp);
auth0_err_t auth0_get_user(auth0_t *self, const char *user_id,
                           auth0_resp_t *resp);
/* GET /api/v2/connections?name=NAME (all connections when name is NULL).
 * Ids and names are percent-encoded into the path ("auth0|x" is sent as
 * "auth0%7Cx"). A 204 from the errors endpoint is AUTH0_OK with an empty
 * body. */
auth0_err_t auth0_get_connections(auth0_t *self, const char *name,
                                  auth0_resp_t *resp);

/* Starts a users export job (json format) with the given fields JSON array
 * (may be NULL for the default field list) and optional connection id.
 * Array entries may be names ("email") or {"name", "export_as"} objects.
 * When fields_json is not a JSON array nothing is sent: AUTH0_ERR_CONNECT
 * with errstr saying so. */
auth0_err_t auth0_export_start(auth0_t *self, const char *connection_id,
                               const char *fields_json, auth0_resp_t *resp);

/* Downloads url (an export location) into path, at most max_bytes. Returns
 * 0 or -1 with errstr filled (without the URL's query string) and path
 * removed. No Authorization header is sent; redirects are followed to
 * http(s) only; only a 200 is success; not retried (an expired link needs
 * a fresh one from the job). No total timeout, but a transfer slower than
 * 1 KB/s for 60 s is abandoned. */
int auth0_download(auth0_t *self, const char *url, const char *path,
                   size_t max_bytes, char *errstr, size_t errlen);

/* Frees the body and resets every field (status 0, headers -1). */
void auth0_resp_clear(auth0_resp_t *resp);

#endif
