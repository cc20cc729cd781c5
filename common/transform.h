#ifndef A0_TRANSFORM_H
#define A0_TRANSFORM_H

#include <jansson.h>
#include <stddef.h>

#include "hashes.h"
#include "jdoc.h"

/* transform: turns one source user record (as exported by Auth0) into one
 * bulk-import user object, or classifies it. Pure function of its inputs.
 *
 * The import object is built from the source's own bytes: every value
 * that is kept is copied as the source wrote it, so the output is valid
 * JSON whose values equal the source's (a compact source gives compact
 * output). Fields whose rules are not checked on the way
 * (custom_password_hash, mfa_factors) go through the schema validator, so
 * every XF_IMPORT object is one validate_import_user accepts.
 *
 * Metadata keys with '.' or '$' and reserved app_metadata keys make the
 * record invalid unless opts->rewrite_metadata_keys is set; then '.' and
 * '$' become '_', a reserved top-level app_metadata key K becomes "src_K",
 * every rewrite is counted in rewritten and named in warning, and a
 * rewrite that would collide with another key of the same object is
 * invalid. */

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
     *                   that is not $2a$/$2b$ with 10 rounds, an argon2
     *                   or pbkdf2 PHC string, or the record's own);
     * linked_identities identities after the primary, to re-link later;
     * mfa_reenrol       the source had MFA enrolments that cannot be
     *                   copied, so the user must enrol again;
     * warning           XF_IMPORT accepted with a caveat, or "". */
    char *username_key;
    int custom_hash;
    size_t linked_identities;
    int mfa_reenrol;
    char warning[256];
    size_t rewritten; /* metadata keys rewritten (rewrite_metadata_keys) */
} xf_user_t;

typedef struct {
    const hashes_t *hashes;    /* optional password-hash index, may be NULL */
    int rewrite_metadata_keys; /* rewrite instead of refusing, see above */
} xf_opts_t;

/* What a target connection demands of usernames, read from its options
 * (requires_username, validation.username.min/max). */
typedef struct {
    int requires_username;
    int username_min; /* bytes; usernames use ASCII characters only */
    int username_max;
} xf_rules_t;

/* Auth0's defaults for a database connection that sets nothing. */
#define XF_USERNAME_MIN_DEFAULT 1
#define XF_USERNAME_MAX_DEFAULT 15
#define XF_USERNAME_MAX_LIMIT   128

/* Fills *out (which the caller zeroes first or reuses after
 * xf_user_clear). Returns 0 always; out->kind tells the outcome. Every
 * XF_IMPORT object has passed validate_import_user. Strings in *out are
 * owned by it (free with xf_user_clear). source_id, connection, email_key
 * and the flags are filled for all kinds as far as the record allows. */
int transform_user(const json_t *src, const xf_opts_t *opts, xf_user_t *out);

/* The same for a record indexed by jdoc (reader_next_doc): the fast path.
 * The document's scratch space is used; its nodes are not changed. */
int transform_doc(jdoc_t *doc, const xf_opts_t *opts, xf_user_t *out);

/* Applies the target connection's username rules to an XF_IMPORT user,
 * turning it into XF_INVALID (path "username", json freed) when they
 * refuse it. Returns 0 when the user stays importable, else -1. */
int transform_apply_rules(xf_user_t *u, const xf_rules_t *rules);

/* Lower-cases s (n bytes) for comparisons: ASCII letters and the two-byte
 * UTF-8 letters of Latin-1, Latin Extended-A, Greek and Cyrillic that have
 * a lower-case form of the same length. Returns a new string. */
char *transform_fold(const char *s, size_t n);

/* Frees what *u owns and zeroes it. */
void xf_user_clear(xf_user_t *u);

#endif
