#ifndef A0_PACK_H
#define A0_PACK_H

#include <stddef.h>

/* pack: groups import objects into batches whose users file (the JSON array
 * sent as the `users` multipart part) stays within max_bytes and whose user
 * count stays within max_users. Batches come out in input order, so the
 * same input always yields the same batches. */

/* Per-user flags carried beside the payload. */
#define PACK_FLAG_NO_PASSWORD 1u /* imported without a password hash */

typedef struct {
    size_t nusers;
    char **source_ids; /* nusers source user ids, in payload order */
    char *users_json;  /* "[u1,u2,...]", exactly the bytes to send */
    size_t users_len;
    unsigned char *flags; /* nusers PACK_FLAG_* sets, or NULL for none */
} batch_t;

typedef struct pack_t pack_t;

/* NULL when max_bytes < 3 or max_users is 0 (no user could ever fit). */
pack_t *pack_new(size_t max_bytes, size_t max_users);

/* Offers one user. Returns 0 when added; 1 when the current batch is full
 * (call pack_take, then offer the same user again); -1 when this user alone
 * can never fit in max_bytes. Copies its arguments. */
int pack_add(pack_t *self, const char *source_id, const char *json, size_t len);

/* pack_add with the user's PACK_FLAG_* set. */
int pack_add_flags(pack_t *self, const char *source_id, const char *json,
                   size_t len, unsigned flags);

/* Users in the batch being filled. */
size_t pack_count(const pack_t *self);

/* Seals and returns the current batch (caller destroys), or NULL if empty. */
batch_t *pack_take(pack_t *self);

void pack_destroy(pack_t **p);
void batch_destroy(batch_t **p);

#endif
