#ifndef A0SIM_VALIDATE_H
#define A0SIM_VALIDATE_H

#include <jansson.h>

/* validate: checks one element of a users-imports file the way Auth0 does:
 * the official bulk-import JSON schema (types, enums, required and unknown
 * properties, array and object sizes), the documented patterns (bcrypt
 * password_hash, E.164 phone, Base32 TOTP secret), e-mail format, and the
 * rules outside the schema (exclusive hash fields, reserved app_metadata
 * keys, metadata keys with '.' or '$', per-algorithm hash settings). */

typedef struct {
    const char *format_code;     /* code of a failed format check */
    const char *additional_code; /* code of an unknown property */
} validate_opts_t;

/* Returns a new array of {"code","message","path"} objects, empty when the
 * user is valid. Messages never contain secret values. */
json_t *validate_user(const json_t *user, const validate_opts_t *opts);

/* The username rules of a database connection: present when required,
 * between min and max characters. Returns a new array of errors. */
json_t *validate_username(const json_t *user, const validate_opts_t *opts,
                          int required, size_t min, size_t max);

/* A deep copy of user (any JSON value) with password_hash, the hash, salt
 * and key values of custom_password_hash and TOTP secrets replaced by
 * "*****". The caller owns the result. */
json_t *validate_redact(const json_t *user);

/* 1 when s is an acceptable e-mail address. */
int validate_email(const char *s);

#endif
