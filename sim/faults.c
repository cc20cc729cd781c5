/* faults: owns the list of armed fault rules. A rule matches one route
 * template with its method, or every Management API route with "*", and
 * fires count times (-1: until cleared). A rule with a share below 1
 * fires on that fraction of the matching requests, drawn from a seeded
 * generator so that a test can replay the same faults. Rules are tried in
 * the order they were added. */
#include "faults.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULTS_MAX 64

typedef struct {
    char *match;
    fault_t fault;
    int64_t count;
    double share;
} rule_t;

struct faults_t {
    rule_t rules[FAULTS_MAX];
    int n;
    uint64_t rng;
};

/* xorshift64*: uniform in [0, 1). */
static double draw(faults_t *self)
{
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static const char *const kind_names[] = {
    "none", "status",     "rate_limit", "delay",
    "drop", "drop_after", "job_fail",   "job_stuck",
};

faults_t *faults_new(void)
{
    faults_t *self = xcalloc(1, sizeof(faults_t));
    self->rng = 0x9e3779b97f4a7c15ULL;
    return self;
}

void faults_clear(faults_t *self)
{
    for (int i = 0; i < self->n; i++)
        free(self->rules[i].match);
    self->n = 0;
}

void faults_destroy(faults_t **p)
{
    if (!p || !*p)
        return;
    faults_clear(*p);
    free(*p);
    *p = NULL;
}

static fault_kind_t kind_of(const char *s)
{
    for (int k = 1; k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
        if (s && strcmp(s, kind_names[k]) == 0)
            return (fault_kind_t)k;
    return FAULT_NONE;
}

static int bad(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return -1;
}

int faults_add(faults_t *self, const json_t *rule, char *err, size_t errlen)
{
    const char *match = json_string_value(json_object_get(rule, "match"));
    const char *action = json_string_value(json_object_get(rule, "action"));
    json_t *count = json_object_get(rule, "count");
    json_int_t status = json_integer_value(json_object_get(rule, "status"));
    json_int_t delay = json_integer_value(json_object_get(rule, "delay_ms"));
    fault_kind_t kind = kind_of(action);
    if (!match || strlen(match) > 200)
        return bad(err, errlen, "match must be \"METHOD /route\" or \"*\"");
    if (kind == FAULT_NONE)
        return bad(err, errlen, "unknown action");
    if (kind == FAULT_STATUS && (status < 400 || status > 599))
        return bad(err, errlen, "status must be 400..599");
    if (kind == FAULT_DELAY && (delay < 1 || delay > 600000))
        return bad(err, errlen, "delay_ms must be 1..600000");
    if (count && (!json_is_integer(count) || json_integer_value(count) == 0))
        return bad(err, errlen, "count must be a non-zero integer");
    json_t *share = json_object_get(rule, "share");
    if (share && (!json_is_number(share) || json_number_value(share) <= 0 ||
                  json_number_value(share) > 1))
        return bad(err, errlen, "share must be a number in (0, 1]");
    json_t *seed = json_object_get(rule, "seed");
    if (seed && (!json_is_integer(seed) || json_integer_value(seed) == 0))
        return bad(err, errlen, "seed must be a non-zero integer");
    if (self->n == FAULTS_MAX)
        return bad(err, errlen, "too many fault rules");
    rule_t *r = &self->rules[self->n++];
    r->match = xstrdup(match);
    r->fault.kind = kind;
    r->fault.status = (int)status;
    r->fault.delay_ms = delay;
    r->count = count ? json_integer_value(count) : 1;
    r->share = share ? json_number_value(share) : 1.0;
    if (seed)
        self->rng = (uint64_t)json_integer_value(seed);
    return 0;
}

json_t *faults_json(const faults_t *self)
{
    json_t *a = json_array();
    for (int i = 0; i < self->n; i++) {
        const rule_t *r = &self->rules[i];
        json_t *o =
            json_pack("{s:s, s:s, s:I}", "match", r->match, "action",
                      kind_names[r->fault.kind], "count", (json_int_t)r->count);
        if (r->fault.kind == FAULT_STATUS)
            json_object_set_new(o, "status", json_integer(r->fault.status));
        if (r->fault.kind == FAULT_DELAY)
            json_object_set_new(o, "delay_ms", json_integer(r->fault.delay_ms));
        if (r->share < 1.0)
            json_object_set_new(o, "share", json_real(r->share));
        json_array_append_new(a, o);
    }
    return a;
}

static int matches(const char *match, const char *method, const char *route)
{
    if (strcmp(match, "*") == 0)
        return strncmp(route, "/api/v2/", 8) == 0;
    size_t m = strlen(method);
    if (strncmp(match, method, m) == 0 && strcmp(match + m, " *") == 0)
        return strncmp(route, "/api/v2/", 8) == 0;
    return strncmp(match, method, m) == 0 && match[m] == ' ' &&
           strcmp(match + m + 1, route) == 0;
}

static void drop_rule(faults_t *self, int i)
{
    free(self->rules[i].match);
    memmove(&self->rules[i], &self->rules[i + 1],
            (size_t)(self->n - i - 1) * sizeof self->rules[0]);
    self->n--;
}

fault_t faults_take(faults_t *self, const char *method, const char *route,
                    int delays)
{
    fault_t none = { FAULT_NONE, 0, 0 };
    for (int i = 0; i < self->n; i++) {
        rule_t *r = &self->rules[i];
        if ((r->fault.kind == FAULT_DELAY) != (delays != 0) ||
            !matches(r->match, method, route))
            continue;
        if (r->share < 1.0 && draw(self) >= r->share)
            continue;
        fault_t f = r->fault;
        if (r->count > 0 && --r->count == 0)
            drop_rule(self, i);
        return f;
    }
    return none;
}
