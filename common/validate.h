#ifndef A0_VALIDATE_H
#define A0_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

/* validate: checks one bulk-import user object against the official
 * bulk-import user schema (every property, its type, enums, patterns,
 * e-mail format, the bcrypt pattern of password_hash, custom_password_hash
 * per algorithm, mfa_factors shapes, additionalProperties false), the way
 * an import job would, so a dry run predicts which users a job rejects.
 * The simulator uses the same functions, so both sides agree by
 * construction. Messages never quote values (they may be secrets or
 * e-mail addresses). */

/* Returns 0 when u is a valid import user. Otherwise -1, with an Auth0-style
 * error code (INVALID_TYPE, OBJECT_REQUIRED, OBJECT_ADDITIONAL_PROPERTIES,
 * ENUM_MISMATCH, PATTERN, FORMAT, MINIMUM, ARRAY_LENGTH_SHORT,
 * ARRAY_LENGTH_LONG, OBJECT_PROPERTIES_MAXIMUM, NOT_PASSED) in code, the
 * JSON path of the offending value (e.g. "mfa_factors[1].totp.secret", ""
 * for the root) in path and a sentence in msg, each truncated to its size.
 * Only the first problem found is reported; the order is fixed. */
int validate_import_user(const json_t *u, char *code, size_t code_size,
                         char *path, size_t path_size, char *msg,
                         size_t msg_size);

/* A plausibility check of custom_password_hash that an import job does not
 * make: a job accepts these objects and the user then cannot log in. It
 * refuses a hash.value whose characters or decoded length do not fit its
 * declared hex/base64 encoding and the algorithm's digest size (md4, md5,
 * sha1, sha256, sha512; scrypt against keylen), a 64-hex-digit value
 * declared base64, and a salt without an explicit position. Returns 0 when
 * plausible (or when the shape is wrong, which validate_import_user
 * reports), else -1 with the path and a sentence (no values). */
int validate_hash_encoding(const json_t *cph, char *path, size_t path_size,
                           char *msg, size_t msg_size);

/* The e-mail format check: 0 when s is acceptable, -1 otherwise. One '@';
 * local part 1..64 bytes of dot-atom characters (UTF-8 allowed, no quoted
 * forms); domain of at least two labels, each 1..63 bytes of letters,
 * digits, '-' (not at either end) or UTF-8, the last one alphabetic (2+) or
 * an "xn--" label; whole address at most 254 bytes; no blanks anywhere. */
int validate_email_format(const char *s);

/* Splits a bcrypt string "$2<v>$<cost>$<53 chars>" (v one of a, b, x, y or
 * absent). Returns 0 and sets *variant ('\0' when absent) and *cost when s
 * has that shape, -1 otherwise. */
int validate_bcrypt_parse(const char *s, char *variant, int *cost);

#endif
