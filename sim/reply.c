/* reply: the shapes of Auth0's answers. The Management API and the
 * Authentication API use different error bodies; every handler goes
 * through here so that no handler invents its own. */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *reply_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status >= 500 ? "Internal Server Error" : "Bad Request";
    }
}

void reply_json(http_resp_t *resp, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    resp->status = status;
    buf_reset(&resp->body);
    buf_puts(&resp->body, text ? text : "null");
    free(text);
    resp->content_type = "application/json; charset=utf-8";
}

void reply_error(http_resp_t *resp, int status, const char *message,
                 const char *error_code)
{
    json_t *j = json_pack("{s:i, s:s, s:s}", "statusCode", status, "error",
                          reply_reason(status), "message", message);
    if (error_code)
        json_object_set_new(j, "errorCode", json_string(error_code));
    reply_json(resp, status, j);
}

void reply_bad_body(http_resp_t *resp, const char *message)
{
    reply_error(resp, 400, message, "invalid_body");
}

void reply_oauth_error(http_resp_t *resp, int status, const char *error,
                       const char *description)
{
    reply_json(resp, status,
               json_pack("{s:s, s:s}", "error", error, "error_description",
                         description));
}

void reply_too_large(http_resp_t *resp, size_t limit)
{
    char msg[96];
    snprintf(msg, sizeof msg,
             "Payload content length greater than maximum allowed: %zu.",
             limit);
    reply_error(resp, 413, msg, NULL);
}

void reply_empty(http_resp_t *resp, int status)
{
    resp->status = status;
    buf_reset(&resp->body);
    resp->content_type = NULL;
}

void reply_iso_ms(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}
