/* tokens: owns the table of granted access tokens and their expiry. The
 * table is bounded: past TOKENS_MAX entries expired tokens are dropped
 * and, if that is not enough, the oldest granted ones. */
#include "tokens.h"

#include "hmap.h"
#include "rand.h"
#include "util.h"

#include <stdlib.h>

#define TOKENS_MAX 100000

typedef struct {
    int64_t expires_ms;
    int64_t granted_ms;
} token_t;

struct tokens_t {
    hmap_t *map;
};

tokens_t *tokens_new(void)
{
    tokens_t *self = xcalloc(1, sizeof *self);
    self->map = hmap_new(free);
    return self;
}

void tokens_destroy(tokens_t **p)
{
    if (!p || !*p)
        return;
    hmap_destroy(&(*p)->map);
    free(*p);
    *p = NULL;
}

/* Drops tokens expired at now_ms, or when none has, those granted before
 * the median age. */
static void prune(tokens_t *self, int64_t now_ms)
{
    size_t pos = 0;
    const void *cur = NULL;
    const char *key;
    void *val;
    int64_t oldest = now_ms;
    size_t before = hmap_size(self->map);
    while (hmap_next(self->map, &pos, &cur, &key, &val)) {
        token_t *t = val;
        if (t->expires_ms <= now_ms)
            hmap_del(self->map, key, 0);
        else if (t->granted_ms < oldest)
            oldest = t->granted_ms;
    }
    if (hmap_size(self->map) < before)
        return;
    int64_t cut = oldest + (now_ms - oldest) / 2 + 1;
    pos = 0;
    cur = NULL;
    while (hmap_next(self->map, &pos, &cur, &key, &val))
        if (((token_t *)val)->granted_ms < cut)
            hmap_del(self->map, key, 0);
}

char *tokens_grant(tokens_t *self, int64_t now_ms, int64_t ttl_s)
{
    if (hmap_size(self->map) >= TOKENS_MAX)
        prune(self, now_ms);
    unsigned char raw[32];
    rand_secure_bytes(raw, sizeof raw);
    char *hex = xmalloc(2 * sizeof raw + 1);
    for (size_t i = 0; i < sizeof raw; i++) {
        hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    hex[2 * sizeof raw] = '\0';
    token_t *t = xmalloc(sizeof *t);
    t->granted_ms = now_ms;
    t->expires_ms = now_ms + ttl_s * 1000;
    hmap_put(self->map, hex, t);
    return hex;
}

token_state_t tokens_check(const tokens_t *self, const char *token,
                           int64_t now_ms)
{
    const token_t *t = hmap_get(self->map, token);
    if (!t)
        return TOKEN_UNKNOWN;
    return t->expires_ms > now_ms ? TOKEN_VALID : TOKEN_EXPIRED;
}
