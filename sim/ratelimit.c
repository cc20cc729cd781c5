/* ratelimit: owns one token bucket. Tokens are kept as a real number so
 * that refill is continuous; the reset header is the absolute second at
 * which the next whole token will have arrived, rounded up so that a
 * client waiting until then always finds one. */
#include "ratelimit.h"

#include "util.h"

#include <math.h>
#include <stdlib.h>

struct ratelimit_t {
    double rate;
    double burst;
    double tokens;
    int64_t last_ms;
};

ratelimit_t *ratelimit_new(double rate, double burst)
{
    ratelimit_t *self = xcalloc(1, sizeof *self);
    self->rate = rate;
    self->burst = burst < 1 ? 1 : burst;
    self->tokens = self->burst;
    self->last_ms = -1;
    return self;
}

void ratelimit_destroy(ratelimit_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

static void refill(ratelimit_t *self, int64_t now_ms)
{
    if (self->last_ms >= 0 && now_ms > self->last_ms) {
        self->tokens += self->rate * (double)(now_ms - self->last_ms) / 1000.0;
        if (self->tokens > self->burst)
            self->tokens = self->burst;
    }
    if (now_ms > self->last_ms)
        self->last_ms = now_ms;
}

int ratelimit_take(ratelimit_t *self, int64_t now_ms, ratelimit_info_t *info)
{
    refill(self, now_ms);
    int ok = self->tokens >= 1.0;
    if (ok)
        self->tokens -= 1.0;

    double whole = floor(self->tokens);
    double need = whole + 1.0 - self->tokens;
    double wait_ms = self->tokens >= self->burst ? 0 : need / self->rate * 1000;
    info->limit = (int64_t)self->burst;
    info->remaining = (int64_t)whole;
    double wait_up = ceil(wait_ms);
    info->reset = (now_ms + (int64_t)wait_up + 999) / 1000;
    return ok;
}

int64_t ratelimit_burst(const ratelimit_t *self)
{
    return (int64_t)self->burst;
}
