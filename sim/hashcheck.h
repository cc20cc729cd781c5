#ifndef A0SIM_HASHCHECK_H
#define A0SIM_HASHCHECK_H

#include <jansson.h>

/* hashcheck: whether a password matches the hash a user was imported
 * with: password_hash (bcrypt), or custom_password_hash with algorithm
 * bcrypt, md5, sha1, sha256, sha512 (salted, hex or base64), hmac (md5,
 * sha1, sha256 or sha512 digests) or pbkdf2 (PHC string). */

/* 1 when password matches the hash in secrets ({"password_hash": ..} or
 * {"custom_password_hash": {..}}), 0 otherwise, including for algorithms
 * the simulator cannot check. */
int hashcheck_verify(const json_t *secrets, const char *password);

#endif
