#ifndef A0SIM_COUNTERS_H
#define A0SIM_COUNTERS_H

#include "util.h"

#include <jansson.h>
#include <stdint.h>

/* counters: what the simulator answered, for /__sim/counters and
 * /__sim/requests. The caller holds the tenant mutex. */

typedef struct counters_t counters_t;

/* ring_max bounds the request log (entries). */
counters_t *counters_new(size_t ring_max);
void counters_destroy(counters_t **p);

/* Counts "<METHOD> <route> <status>"; when logged, also appends the
 * request to the log. route must be a string literal. */
void counters_record(counters_t *self, const char *method, const char *route,
                     int status, int64_t t_ms, int logged);

void counters_rate_limited(counters_t *self);

/* {"<METHOD> <route> <status>": n, ...} */
json_t *counters_requests_json(const counters_t *self);
int64_t counters_rate_limited_total(const counters_t *self);

/* The request log as NDJSON, oldest first. */
void counters_log_ndjson(const counters_t *self, buf_t *out);

/* Zeroes the request counts, the 429 count and the log. */
void counters_reset(counters_t *self);

#endif
