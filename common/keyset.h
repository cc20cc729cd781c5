#ifndef A0_KEYSET_H
#define A0_KEYSET_H

#include <stddef.h>

/* keyset: remembers which keys (user ids, e-mails, usernames) were seen in
 * a run and which record claimed each first, in about 16 bytes per key
 * and one copy of each claiming record's label. Keys are kept as 96-bit
 * fingerprints, not as text: two different keys are taken for one with a
 * probability of about n^2 / 2^97 for n keys (1e-17 for ten million), far
 * below any other cause of error, and the memory no longer grows with the
 * keys' length. */

typedef struct keyset_t keyset_t;

keyset_t *keyset_new(void);

/* Claims key (n bytes) for the record labelled holder. Returns NULL when
 * the key is new (it now belongs to holder), else the label of the record
 * that claimed it first (owned by the set). Consecutive claims with an
 * equal label share one stored copy. */
const char *keyset_claim(keyset_t *self, const void *key, size_t n,
                         const char *holder);

/* Keys and labels stored, and the bytes the set holds. */
size_t keyset_count(const keyset_t *self);
size_t keyset_bytes(const keyset_t *self);

void keyset_destroy(keyset_t **p);

#endif
