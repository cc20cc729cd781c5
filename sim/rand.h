#ifndef A0SIM_RAND_H
#define A0SIM_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Random numbers: a seeded generator (splitmix64) for everything that must
 * be reproducible (generated users, connection ids) and the kernel's
 * generator for tokens and job ids. */

/* Next value of the sequence held in *state. */
uint64_t rand_next(uint64_t *state);

/* Uniform value in [0, n). */
uint64_t rand_below(uint64_t *state, uint64_t n);

/* n characters of [A-Za-z0-9] plus a NUL into out. */
void rand_alnum(uint64_t *state, char *out, size_t n);

/* n lower-case hex characters plus a NUL into out. */
void rand_hex(uint64_t *state, char *out, size_t n);

/* A seed from the kernel's generator. */
uint64_t rand_secure_seed(void);

/* n bytes from the kernel's generator into out. */
void rand_secure_bytes(void *out, size_t n);

#endif
