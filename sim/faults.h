#ifndef A0SIM_FAULTS_H
#define A0SIM_FAULTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* faults: failures a test asks for through /__sim/faults, consumed by the
 * requests they match. The caller holds the tenant mutex. */

typedef enum {
    FAULT_NONE = 0,
    FAULT_STATUS,     /* answer with a status instead of handling */
    FAULT_RATE_LIMIT, /* a "Global limit" 429 with x-ratelimit headers */
    FAULT_DELAY,      /* wait delay_ms, then handle normally */
    FAULT_DROP,       /* close the connection without handling */
    FAULT_DROP_AFTER, /* handle, then close without answering */
    FAULT_JOB_FAIL,   /* the job created by the request fails */
    FAULT_JOB_STUCK,  /* the job created by the request stays pending */
} fault_kind_t;

typedef struct {
    fault_kind_t kind;
    int status;
    int64_t delay_ms;
} fault_t;

typedef struct faults_t faults_t;

faults_t *faults_new(void);
void faults_destroy(faults_t **p);

/* Adds a rule {"match":"POST /api/v2/jobs/users-imports" | "POST *" | "*",
 * "action":"status|rate_limit|delay|drop|drop_after|job_fail|job_stuck",
 * "status":503, "delay_ms":1000, "count":1, "share":0.03, "seed":7}: share
 * is the fraction of matching requests that fire (default 1), seed
 * reseeds the generator that draws them. Returns 0, or -1 with a
 * reason in err. */
int faults_add(faults_t *self, const json_t *rule, char *err, size_t errlen);

void faults_clear(faults_t *self);

/* The rules still armed, as added, with their remaining counts. */
json_t *faults_json(const faults_t *self);

/* The first armed rule matching "<method> <route>" (route is a template
 * such as /api/v2/jobs/{id}) that fires; its count drops by one. With
 * delays set only delay rules are considered, otherwise only the others,
 * so that a request can be both slowed down and then failed. */
fault_t faults_take(faults_t *self, const char *method, const char *route,
                    int delays);

#endif
