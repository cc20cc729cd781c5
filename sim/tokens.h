#ifndef A0SIM_TOKENS_H
#define A0SIM_TOKENS_H

#include <jansson.h>
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

/* Grants a token valid for ttl_s seconds carrying scope (copied); the
 * caller frees the token. */
char *tokens_grant(tokens_t *self, int64_t now_ms, int64_t ttl_s,
                   const char *scope);

/* The state of token; when valid and scope is not NULL, *scope is its
 * scope, borrowed while the caller holds the mutex. */
token_state_t tokens_check(const tokens_t *self, const char *token,
                           int64_t now_ms, const char **scope);

/* Every live token as {"token":{"exp_ms":n,"scope":s}}, for snapshots. */
json_t *tokens_json(const tokens_t *self, int64_t now_ms);

/* Restores tokens from tokens_json output; ignores malformed entries. */
void tokens_load(tokens_t *self, const json_t *j, int64_t now_ms);

#endif
