#ifndef A0_STORE_H
#define A0_STORE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

/* store: the Redis side of a run. Owns one hiredis connection (reconnecting
 * on demand) and wraps the a0m function library (common/functions.lua),
 * which holds every state transition. Key names:
 *   a0m:{R}:meta, :batch:B, :pending, :leases, :users:B, :users:local,
 *   :stats, :events, :fence                               (per run R)
 *   a0m:{T}:rl:BUCKET, :rlpause, :rl:stats, :rl:last, :rl:pauses,
 *   :rl:strikes, :jobs, :jobs:wake, :jobs:fence, :jobs:reap (per tenant T)
 * Nothing secret is ever written here. */

typedef struct store_t store_t;

/* url: redis://HOST:PORT[/DB]; password from A0_REDIS_PASSWORD. NULL on
 * failure with *err set (caller frees). */
store_t *store_new(const char *url, char **err);
void store_destroy(store_t **p);

/* Last error, "redis: ..." */
const char *store_error(const store_t *self);

/* Runs a command (binary safe). Reconnects once on a broken connection.
 * Returns the reply (caller frees with freeReplyObject) or NULL with
 * store_error set. Error replies are returned as replies. */
redisReply *store_command(store_t *self, int argc, const char **argv,
                          const size_t *lens);

/* printf-style convenience for commands without binary arguments. */
redisReply *store_commandf(store_t *self, const char *fmt, ...);

/* Reachable now? 0 or -1. */
int store_ping(store_t *self);

/* FUNCTION LOAD REPLACE of the embedded library (a0m_vN), after deleting
 * any other a0m_v* library, whose function names it reuses. */
int store_load_functions(store_t *self);

/* Key of the run or tenant: "a0m:{ID}:SUFFIX". Caller frees. */
char *store_key(const char *id, const char *suffix);

/* Batch registration: state out (PENDING, LEASED, ...; 32 bytes), attempt
 * and job id (64 bytes, "" when none; for a SPLIT batch, its children as
 * "c1,c2"). */
int store_plan_batch(store_t *self, const char *run, int64_t batch, char **uids,
                     size_t n, char *state, int64_t *attempt, char *job_id);

/* Records outcomes of users that never reach a batch (invalid, deferred,
 * duplicate) under a0m:{R}:users:local. pairs = uid, value, uid, value. */
int store_set_local_outcomes(store_t *self, const char *run, const char **pairs,
                             size_t npairs);

typedef struct {
    int64_t token; /* 0 when refused */
    char state[32];
    int64_t attempt;
    char job_id[64];
    char reason[128];
} store_claim_t;

/* Leases a batch to worker. out->token is 0 when refused (out->reason
 * says why: "lease held", "poison", "batch is DONE", ...). */
int store_claim(store_t *self, const char *run, int64_t batch,
                const char *worker, int64_t lease_ms, int64_t epoch,
                int64_t max_attempts, store_claim_t *out);

/* Guarded transition; fields = name, value pairs (may be NULL/0). Returns 0,
 * or -1 (stale token, wrong state, Redis error: see store_error). */
int store_transition(store_t *self, const char *run, int64_t batch,
                     int64_t token, const char *from, const char *to,
                     int64_t lease_ms, const char **fields, size_t nfields);

/* Ends a batch with outcomes (pairs of uid, value). */
int store_complete(store_t *self, const char *run, int64_t batch, int64_t token,
                   const char *summary, const char **pairs, size_t npairs);

/* Takes a batch back; token 0 means whoever holds it. New state into
 * state (32 bytes). */
int store_release(store_t *self, const char *run, int64_t batch,
                  int64_t max_attempts, const char *reason, int64_t token,
                  char *state);

/* store_release for a lease that never reached its holder: a LEASED
 * batch goes back to PENDING without counting the attempt. */
int store_refund(store_t *self, const char *run, int64_t batch,
                 const char *reason, int64_t token, char *state);

/* Splits batch into child1 (its first n1 users) and child2 (the rest);
 * uids are the batch's users in payload order. Child numbers come from
 * store_next_batch_numbers. */
int store_split(store_t *self, const char *run, int64_t batch, int64_t child1,
                int64_t child2, size_t n1, char **uids, size_t n);

/* Reserves two new batch numbers for the children of a split. */
int store_next_batch_numbers(store_t *self, const char *run, int64_t *first);

/* Farm-wide rate limiter (a0m:{T}:rl:NAME, :rlpause, :rl:stats, :rl:last,
 * :rl:pauses). A bucket is a name, a rate in requests per second (rounded
 * down to 1/1000 request per second) and a burst (at least 1). */
typedef struct {
    const char *name;
    double rate;
    int64_t burst;
} store_bucket_t;

/* What an Auth0 response said of its bucket (x-ratelimit-*), recorded in
 * a0m:{T}:rl:last for metrics. */
typedef struct {
    const char *group;
    int64_t limit;
    int64_t remaining;
    int64_t reset;
    long status;
} store_rl_note_t;

/* Books one request in all n buckets at the earliest moment they and any
 * farm pause allow. Returns 0 with *wait_ms (0: send now; > 0: sleep that
 * long, then send), 1 when that moment is beyond max_wait_ms (nothing
 * booked; *wait_ms says how far it is), -1 on a Redis failure (fail
 * closed: send nothing). note may be NULL. */
int store_rl_acquire(store_t *self, const char *tenant,
                     const store_bucket_t *buckets, size_t n,
                     int64_t max_wait_ms, const store_rl_note_t *note,
                     int64_t *wait_ms);

/* Pauses the farm for pause_ms (a value under 250 means "unknown": an
 * exponential backoff applies) and restarts the n buckets empty at its
 * end. reason is "429" or "brake". Returns the pause applied, or -1. */
int64_t store_rl_penalize(store_t *self, const char *tenant,
                          const store_bucket_t *buckets, size_t n,
                          int64_t pause_ms, const char *reason);

/* Milliseconds the farm pause still runs (0 when none), or -1. */
int64_t store_rl_paused_ms(store_t *self, const char *tenant);

/* One-bucket forms of the two calls above (same returns; penalize 0/-1). */
int store_rate_acquire(store_t *self, const char *tenant, const char *group,
                       double rate, int64_t burst, int64_t max_wait_ms,
                       int64_t *wait_ms);
int store_rate_penalize(store_t *self, const char *tenant, const char *group,
                        double rate, int64_t burst, int64_t pause_ms);

/* Import-job semaphore (a0m:{T}:jobs). acquire: 1 held, 0 busy (*wait_ms
 * until the earliest lease ends), -1 error. acquire by a holder and renew
 * extend its lease, never shorten it; renew is 0, or -1 when the holder
 * is gone. */
int store_sem_acquire(store_t *self, const char *tenant, const char *holder,
                      int64_t capacity, int64_t lease_ms, int64_t *wait_ms);
int store_sem_renew(store_t *self, const char *tenant, const char *holder,
                    int64_t lease_ms);
int store_sem_release(store_t *self, const char *tenant, const char *holder);
/* Auth0 refused a job because its own count is full: the holder's slot
 * goes to a stand-in for hold_ms, and the holder must queue again. */
int store_sem_yield(store_t *self, const char *tenant, const char *holder,
                    int64_t hold_ms);
/* Holders of the semaphore, at most max (strings into out, each freed by
 * the caller). Returns how many, or -1. */
int store_sem_holders(store_t *self, const char *tenant, char **out,
                      size_t max);
/* 1 when the caller may look for slots to reap for the next ms (one
 * caller per tenant at a time: SET NX on a0m:{T}:jobs:reap), 0 when
 * another has the turn, -1 on failure. */
int store_sem_reap_turn(store_t *self, const char *tenant, int64_t ms);
/* The server's clock in milliseconds, or -1. */
int64_t store_time_ms(store_t *self);
/* Blocks up to timeout_ms for a released slot (BLPOP on the wake list). */
int store_sem_wait(store_t *self, const char *tenant, int64_t timeout_ms);

/* Hash helpers: value of FIELD in hash KEY into a new string, or NULL. */
char *store_hget(store_t *self, const char *key, const char *field);

#endif
