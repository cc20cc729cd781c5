#ifndef A0SIM_HTTP_H
#define A0SIM_HTTP_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>

/* http: the libmicrohttpd daemon and the request/response objects handed
 * to the router. Bodies are buffered whole, up to a per-route limit. */

#define HTTP_MAX_HEADERS 8
#define HTTP_MAX_URI     8192

struct MHD_Connection;

typedef struct {
    const char *method;
    char *path;  /* raw path, still percent-encoded */
    char *query; /* raw query string without '?', or NULL */
    struct MHD_Connection *conn;
    buf_t body;
    size_t body_limit; /* bytes; larger bodies set too_large */
    int too_large;     /* the handler must answer 413 */
    int started;
    int answered; /* a response was queued before the body */
    int uri_too_long;
    int64_t t_ms; /* wall time the request arrived */
} http_req_t;

typedef struct {
    int status;
    buf_t body;
    const char *content_type; /* NULL: no Content-Type header */
    char *headers[HTTP_MAX_HEADERS][2];
    int nheaders;
    const char *route; /* route template, for counters and logs */
    int drop;          /* close the connection instead of answering */
} http_resp_t;

/* Request header value or NULL (case-insensitive name). */
const char *http_header(const http_req_t *req, const char *name);

/* Decoded query argument or NULL. */
const char *http_arg(const http_req_t *req, const char *name);

/* Adds a response header (copied). Ignored past HTTP_MAX_HEADERS. */
void http_resp_header(http_resp_t *resp, const char *name, const char *value);

/* Called once a request is complete (or as soon as it is known to be too
 * large); must set resp->status. */
typedef void (*http_handler_fn)(void *arg, http_req_t *req, http_resp_t *resp);

/* Body limit for a request line, decided before the body is read. */
typedef size_t (*http_limit_fn)(void *arg, const char *method,
                                const char *path);

typedef struct http_t http_t;

/* Starts listening on addr:port (port 0 = any), one thread per
 * connection, at most max_conns connections. Returns NULL and logs on
 * failure. */
http_t *http_new(const char *addr, int port, int max_conns,
                 http_handler_fn handler, http_limit_fn limit, void *arg);

/* Bound port. */
int http_port(const http_t *self);

/* Stops the daemon (waits for its threads). */
void http_destroy(http_t **p);

#endif
