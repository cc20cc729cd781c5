/* http: owns the libmicrohttpd daemon, its threads (one per connection) and the
 * per-request object. The raw URI is captured in the URI log callback so that
 * routing sees the path still percent-encoded (user ids carry '|' as %7C and
 * may carry other escapes). A request's body limit is chosen from its request
 * line; a Content-Length above it is answered at once without reading the
 * body, a chunked body is cut off at the limit. */
#include "http.h"

#include "log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct http_t {
    struct MHD_Daemon *daemon;
    http_handler_fn handler;
    http_limit_fn limit;
    void *arg;
    int port;
};

const char *http_header(const http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_arg(const http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void http_resp_header(http_resp_t *resp, const char *name, const char *value)
{
    if (resp->nheaders >= HTTP_MAX_HEADERS)
        return;
    resp->headers[resp->nheaders][0] = xstrdup(name);
    resp->headers[resp->nheaders][1] = xstrdup(value);
    resp->nheaders++;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    http_req_t *req = xcalloc(1, sizeof *req);
    req->conn = c;
    buf_init(&req->body);
    size_t len = strlen(uri);
    if (len > HTTP_MAX_URI) {
        req->uri_too_long = 1;
        len = 1;
        uri = "/";
    }
    const char *q = memchr(uri, '?', len);
    size_t plen = q ? (size_t)(q - uri) : len;
    req->path = xstrndup(uri, plen);
    if (q)
        req->query = xstrndup(q + 1, len - plen - 1);
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    http_req_t *req = *con_cls;
    if (!req)
        return;
    buf_free(&req->body);
    free(req->path);
    free(req->query);
    free(req);
    *con_cls = NULL;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, http_resp_t *resp)
{
    size_t len = resp->body.len;
    char *data = resp->body.data;
    struct MHD_Response *r;
    if (len)
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(0, (void *)"",
                                            MHD_RESPMEM_PERSISTENT);
    if (len)
        buf_init(&resp->body);
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result finish(http_t *self, http_req_t *req)
{
    http_resp_t resp;
    memset(&resp, 0, sizeof resp);
    buf_init(&resp.body);
    resp.status = 500;
    self->handler(self->arg, req, &resp);
    enum MHD_Result ret = resp.drop ? MHD_NO : send_resp(req->conn, &resp);
    buf_free(&resp.body);
    for (int i = 0; i < resp.nheaders; i++) {
        free(resp.headers[i][0]);
        free(resp.headers[i][1]);
    }
    return ret;
}

static int over_declared_length(const http_req_t *req)
{
    const char *cl = MHD_lookup_connection_value(
        req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return 0;
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    return *end == '\0' && n > req->body_limit;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    (void)c;
    http_t *self = cls;
    http_req_t *req = *con_cls;

    /* A request answered early (413) only drains what is still sent. */
    if (req->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* First call: headers are in; decide on the body before reading it. */
    if (!req->started) {
        req->started = 1;
        req->method = method;
        req->t_ms = util_wall_ms();
        req->body_limit = self->limit(self->arg, method, req->path);
        if (over_declared_length(req)) {
            req->too_large = 1;
            req->answered = 1;
            return finish(self, req);
        }
        return MHD_YES;
    }

    /* Body chunks: keep them up to the limit, drop the rest. */
    if (*upload_data_size) {
        if (!req->too_large &&
            req->body.len + *upload_data_size > req->body_limit) {
            req->too_large = 1;
            buf_free(&req->body);
        }
        if (!req->too_large)
            buf_append(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish(self, req);
}

/* libmicrohttpd's own messages (malformed requests, oversized headers)
 * go through the project logger. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http", "%s", msg);
}

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss,
                      socklen_t *len, int *v6)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof *s4;
        *v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        *v6 = 1;
        return 0;
    }
    return -1;
}

http_t *http_new(const char *addr, int port, int max_conns,
                 http_handler_fn handler, http_limit_fn limit, void *arg)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int v6;
    if (parse_addr(addr, port, &ss, &sslen, &v6) < 0) {
        log_error("http", "--listen %s is not an IP address", addr);
        return NULL;
    }
    http_t *self = xcalloc(1, sizeof *self);
    self->handler = handler;
    self->limit = limit;
    self->arg = arg;
    /* A thread per connection: a request that a fault delays holds up
     * only its own connection. */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* One option and its arguments per line; the logger must come first
     * to catch every message. */
    /* clang-format off */
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, self,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)max_conns,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, self,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
        MHD_OPTION_END);
    /* clang-format on */
    if (!self->daemon) {
        log_error("http", "cannot listen on %s:%d", addr, port);
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    return self;
}

int http_port(const http_t *self)
{
    return self->port;
}

void http_destroy(http_t **p)
{
    if (!p || !*p)
        return;
    MHD_stop_daemon((*p)->daemon);
    free(*p);
    *p = NULL;
}
