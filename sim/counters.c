/* counters: owns the request counts by method, route template and status,
 * the number of rate-limit 429s, and a bounded ring of the Management API
 * requests (time, method, route, status). Methods are interned so that a
 * ring entry holds no allocation. */
#include "counters.h"

#include "hmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t t_ms;
    const char *method;
    const char *route;
    int status;
} entry_t;

struct counters_t {
    hmap_t *counts; /* key -> (uintptr_t) count */
    int64_t rate_limited;
    entry_t *ring;
    size_t ring_max, ring_cap, ring_len, ring_head;
};

static const char *const methods[] = { "GET",    "POST", "PUT",     "PATCH",
                                       "DELETE", "HEAD", "OPTIONS", NULL };

static const char *intern_method(const char *m)
{
    for (int i = 0; methods[i]; i++)
        if (strcmp(methods[i], m) == 0)
            return methods[i];
    return "OTHER";
}

counters_t *counters_new(size_t ring_max)
{
    counters_t *self = xcalloc(1, sizeof *self);
    self->counts = hmap_new(NULL);
    self->ring_max = ring_max ? ring_max : 1;
    return self;
}

void counters_destroy(counters_t **p)
{
    if (!p || !*p)
        return;
    hmap_destroy(&(*p)->counts);
    free((*p)->ring);
    free(*p);
    *p = NULL;
}

static void ring_push(counters_t *self, const entry_t *e)
{
    /* The ring grows by doubling up to its bound, then overwrites the
     * oldest entry. */
    if (self->ring_len == self->ring_cap && self->ring_cap < self->ring_max) {
        size_t cap = self->ring_cap ? self->ring_cap * 2 : 1024;
        if (cap > self->ring_max)
            cap = self->ring_max;
        self->ring = xrealloc(self->ring, cap * sizeof *self->ring);
        self->ring_cap = cap;
    }
    if (self->ring_len < self->ring_cap) {
        self->ring[(self->ring_head + self->ring_len) % self->ring_cap] = *e;
        self->ring_len++;
        return;
    }
    self->ring[self->ring_head] = *e;
    self->ring_head = (self->ring_head + 1) % self->ring_cap;
}

void counters_record(counters_t *self, const char *method, const char *route,
                     int status, int64_t t_ms, int logged)
{
    const char *m = intern_method(method);
    char key[256];
    snprintf(key, sizeof key, "%s %s %d", m, route, status);
    void *have = hmap_get(self->counts, key);
    uintptr_t n = (uintptr_t)have;
    hmap_put(self->counts, key, (void *)(n + 1));
    if (logged) {
        entry_t e = { t_ms, m, route, status };
        ring_push(self, &e);
    }
}

void counters_rate_limited(counters_t *self)
{
    self->rate_limited++;
}

int64_t counters_rate_limited_total(const counters_t *self)
{
    return self->rate_limited;
}

json_t *counters_requests_json(const counters_t *self)
{
    json_t *j = json_object();
    size_t pos = 0;
    const void *cur = NULL;
    const char *key;
    void *val;
    while (hmap_next(self->counts, &pos, &cur, &key, &val))
        json_object_set_new(j, key, json_integer((json_int_t)(uintptr_t)val));
    return j;
}

void counters_log_ndjson(const counters_t *self, buf_t *out)
{
    for (size_t i = 0; i < self->ring_len; i++) {
        const entry_t *e = &self->ring[(self->ring_head + i) % self->ring_cap];
        buf_printf(out,
                   "{\"t_ms\":%lld,\"method\":\"%s\",\"route\":\"%s\","
                   "\"status\":%d}\n",
                   (long long)e->t_ms, e->method, e->route, e->status);
    }
}

void counters_reset(counters_t *self)
{
    hmap_clear(self->counts);
    self->rate_limited = 0;
    self->ring_len = 0;
    self->ring_head = 0;
}
