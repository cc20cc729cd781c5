#ifndef A0SIM_TOKENS_H
#define A0SIM_TOKENS_H

#include <stdint.h>

/* tokens: the access tokens /oauth/token has granted. Opaque random
 * strings; the caller holds the tenant mutex. */

typedef struct tokens_t tokens_t;

typedef enum {
    TOKEN_VALID = 0,
    TOKEN_UNKNOWN,
    TOKEN_EXPIRED,
} token_state_t;

tokens_t *tokens_new(void);
void tokens_destroy(tokens_t **p);

/* Grants a token valid for ttl_s seconds; the caller frees it. */
char *tokens_grant(tokens_t *self, int64_t now_ms, int64_t ttl_s);

token_state_t tokens_check(const tokens_t *self, const char *token,
                           int64_t now_ms);

#endif
