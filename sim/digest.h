#ifndef A0SIM_DIGEST_H
#define A0SIM_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* digest: the message digests that imported custom password hashes use
 * (MD5, SHA-1, SHA-256, SHA-512), HMAC over them and PBKDF2-HMAC, so that
 * the password grant can check such hashes. One-shot functions only. */

#define DIGEST_MAX_BYTES 64

typedef enum {
    DIGEST_MD5 = 0,
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA512,
} digest_alg_t;

/* The algorithm named "md5", "sha1", "sha256" or "sha512"; -1 otherwise. */
int digest_by_name(const char *name);

/* Output size in bytes. */
size_t digest_size(digest_alg_t alg);

/* out receives digest_size(alg) bytes. */
void digest_compute(digest_alg_t alg, const void *data, size_t len,
                    unsigned char *out);

void digest_hmac(digest_alg_t alg, const void *key, size_t key_len,
                 const void *data, size_t len, unsigned char *out);

/* PBKDF2 with HMAC-alg: out_len bytes into out. */
void digest_pbkdf2(digest_alg_t alg, const void *pw, size_t pw_len,
                   const void *salt, size_t salt_len, uint32_t iterations,
                   unsigned char *out, size_t out_len);

/* Decodes hex (either case) or base64 (standard or URL alphabet, padding
 * optional) into out (at most cap bytes). Returns the length, or -1. */
long digest_from_hex(const char *s, unsigned char *out, size_t cap);
long digest_from_base64(const char *s, unsigned char *out, size_t cap);

#endif
