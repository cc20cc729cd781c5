#ifndef A0SIM_REPLY_H
#define A0SIM_REPLY_H

#include "http.h"

#include <jansson.h>
#include <stdint.h>

/* Response builders shared by the handlers: Management API error bodies
 * ({statusCode,error,message[,errorCode]}), OAuth error bodies
 * ({error,error_description}) and JSON bodies. */

/* Reason phrase for an HTTP status ("Not Found"). */
const char *reply_reason(int status);

/* Sets status and a compact JSON body; takes over j. */
void reply_json(http_resp_t *resp, int status, json_t *j);

/* Management API error; error_code may be NULL (then omitted). */
void reply_error(http_resp_t *resp, int status, const char *message,
                 const char *error_code);

/* 400 with errorCode invalid_body. */
void reply_bad_body(http_resp_t *resp, const char *message);

/* OAuth error of the Authentication API. */
void reply_oauth_error(http_resp_t *resp, int status, const char *error,
                       const char *description);

/* 413 naming the limit in Auth0's words. */
void reply_too_large(http_resp_t *resp, size_t limit);

/* Status with an empty body (204, for instance). */
void reply_empty(http_resp_t *resp, int status);

/* Formats epoch milliseconds as 2023-01-25T17:48:16.543Z into out. */
void reply_iso_ms(int64_t ms, char out[32]);

#endif
