/* rand: seeded and kernel randomness for the simulator. */
#include "rand.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

static const char alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

uint64_t rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rand_below(uint64_t *state, uint64_t n)
{
    return n ? rand_next(state) % n : 0;
}

void rand_alnum(uint64_t *state, char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = alnum[rand_below(state, sizeof alnum - 1)];
    out[n] = '\0';
}

void rand_hex(uint64_t *state, char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = "0123456789abcdef"[rand_below(state, 16)];
    out[n] = '\0';
}

void rand_secure_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

uint64_t rand_secure_seed(void)
{
    uint64_t s;
    rand_secure_bytes(&s, sizeof s);
    return s;
}
