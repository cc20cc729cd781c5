#ifndef A0_TRANSFORM_H
#define A0_TRANSFORM_H

#include <jansson.h>
#include <stddef.h>

#include "hashes.h"

/* transform: turns one source user record (as exported by Auth0) into one
 * bulk-import user object, or classifies it. Pure function of its inputs. */

typedef enum {
    XF_IMPORT = 0, /* u->json holds the import object */
    XF_DEFERRED,   /* social/enterprise/passwordless primary identity */
    XF_INVALID,    /* reason and path say why */
} xf_kind_t;

typedef struct {
    xf_kind_t kind;
    char *source_id;  /* user_id exactly as exported; NULL when absent */
    char *connection; /* source connection name of the primary identity;
                         NULL when the record has no identities */
    char *json;       /* compact import object (XF_IMPORT), no newline */
    size_t json_len;
    char *email_key;   /* case-folded e-mail, for duplicate checks */
    char *username;    /* username as sent, or NULL */
    int has_password;  /* a password hash was attached */
    char reason[256];  /* XF_INVALID / XF_DEFERRED: why (no secrets, no
                          e-mail addresses) */
    char path[128];    /* JSON path of the offending value, or "" */
    char dropped[512]; /* comma-separated list of dropped fields */

    /* Added after the first interface, zero unless stated:
     * username_key      lower-cased username, for duplicate checks;
     * custom_hash       the hash went into custom_password_hash (bcrypt
     *                   that is not $2a$/$2b$ with 10 rounds);
     * linked_identities identities after the primary, to re-link later;
     * mfa_reenrol       the source had MFA enrolments that cannot be
     *                   copied, so the user must enrol again;
     * warning           XF_IMPORT accepted with a caveat, or "". */
    char *username_key;
    int custom_hash;
    size_t linked_identities;
    int mfa_reenrol;
    char warning[128];
} xf_user_t;

typedef struct {
    const hashes_t *hashes; /* optional password-hash index, may be NULL */
} xf_opts_t;

/* Fills *out (which the caller zeroes first or reuses after
 * xf_user_clear). Returns 0 always; out->kind tells the outcome. Every
 * XF_IMPORT object has passed validate_import_user. Strings in *out are
 * owned by it (free with xf_user_clear). source_id, connection, email_key
 * and the flags are filled for all kinds as far as the record allows. */
int transform_user(const json_t *src, const xf_opts_t *opts, xf_user_t *out);

/* Frees what *u owns and zeroes it. */
void xf_user_clear(xf_user_t *u);

#endif
