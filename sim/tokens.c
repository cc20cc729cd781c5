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
    char *scope;
} token_t;

static void token_free(void *p)
{
    token_t *t = p;
    free(t->scope);
    free(t);
}

struct tokens_t {
    hmap_t *map;
};

tokens_t *tokens_new(void)
{
    tokens_t *self = xcalloc(1, sizeof *self);
    self->map = hmap_new(token_free);
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

static void put(tokens_t *self, const char *tok, int64_t granted_ms,
                int64_t expires_ms, const char *scope)
{
    token_t *t = xmalloc(sizeof *t);
    t->granted_ms = granted_ms;
    t->expires_ms = expires_ms;
    t->scope = xstrdup(scope ? scope : "");
    hmap_put(self->map, tok, t);
}

char *tokens_grant(tokens_t *self, int64_t now_ms, int64_t ttl_s,
                   const char *scope)
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
    put(self, hex, now_ms, now_ms + ttl_s * 1000, scope);
    return hex;
}

token_state_t tokens_check(const tokens_t *self, const char *token,
                           int64_t now_ms, const char **scope)
{
    const token_t *t = hmap_get(self->map, token);
    if (!t)
        return TOKEN_UNKNOWN;
    if (t->expires_ms <= now_ms)
        return TOKEN_EXPIRED;
    if (scope)
        *scope = t->scope;
    return TOKEN_VALID;
}

json_t *tokens_json(const tokens_t *self, int64_t now_ms)
{
    json_t *o = json_object();
    size_t pos = 0;
    const void *cur = NULL;
    const char *key;
    void *val;
    while (hmap_next(self->map, &pos, &cur, &key, &val)) {
        const token_t *t = val;
        if (t->expires_ms > now_ms)
            json_object_set_new(o, key,
                                json_pack("{s:I, s:I, s:s}", "granted_ms",
                                          (json_int_t)t->granted_ms, "exp_ms",
                                          (json_int_t)t->expires_ms, "scope",
                                          t->scope));
    }
    return o;
}

void tokens_load(tokens_t *self, const json_t *j, int64_t now_ms)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        json_t *exp = json_object_get(v, "exp_ms");
        json_t *granted = json_object_get(v, "granted_ms");
        const char *scope = json_string_value(json_object_get(v, "scope"));
        if (!json_is_integer(exp) || json_integer_value(exp) <= now_ms ||
            !scope || hmap_size(self->map) >= TOKENS_MAX)
            continue;
        put(self, key, json_integer_value(granted), json_integer_value(exp),
            scope);
    }
}
