/* transform: maps one exported user (Management API shape) to one
 * bulk-import object, or classifies it as deferred or invalid. It owns no
 * state; the result depends only on the record and the hash index.
 *
 * Steps: classify by the primary identity (only the auth0 provider can be
 * bulk-imported; social, enterprise and passwordless users come back at
 * their first login); strip one "auth0|" from the id (an import prepends
 * it again); copy the importable fields in a fixed key order, checking
 * types and Auth0's value rules; attach the password hash; drop everything
 * else and list it; run the schema validator on the result, so an XF_IMPORT
 * object is always one a job accepts. Reasons never quote values: e-mail
 * addresses, hashes and metadata stay out of them. */
#include "transform.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "validate.h"

#define XF_MAX_DEPTH          128   /* metadata nesting walked */
#define XF_PATH_BYTES         512   /* working buffer for metadata paths */
#define XF_PROFILE_SOFT_BYTES 10240 /* Auth0's advisory profile size */
#define XF_USERNAME_MAX       128

/* One transformation in progress. */
typedef struct {
    const json_t *src;
    const xf_opts_t *opts;
    xf_user_t *out;
    json_t *dst;           /* the import object being built */
    const char *import_id; /* user_id with its auth0| prefix removed */
    const char *file_hash; /* from the hash index, or NULL */
} xf_t;

/* app_metadata keys Auth0 keeps for itself. */
static const char *const reserved_app_keys[] = { "__tenant",
                                                 "_id",
                                                 "blocked",
                                                 "clientID",
                                                 "created_at",
                                                 "email_verified",
                                                 "email",
                                                 "globalClientID",
                                                 "global_client_id",
                                                 "identities",
                                                 "lastIP",
                                                 "lastLogin",
                                                 "loginsCount",
                                                 "metadata",
                                                 "multifactor_last_modified",
                                                 "multifactor",
                                                 "updated_at",
                                                 "user_id",
                                                 NULL };

/* Optional string fields copied as they are, in output order. */
static const char *const name_fields[] = { "given_name", "family_name", "name",
                                           "nickname",   "picture",     NULL };

static int invalid(xf_user_t *out, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int invalid(xf_user_t *out, const char *path, const char *fmt, ...)
{
    out->kind = XF_INVALID;
    out->has_password = 0; /* nothing is sent, so nothing is attached */
    out->custom_hash = 0;
    snprintf(out->path, sizeof out->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static char *lower_dup(const char *s)
{
    char *d = xstrdup(s);
    for (char *p = d; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

/* A non-null member, or NULL: null counts as absent everywhere. */
static json_t *member(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* ---- classification ---- */

/* Provider names go into reasons only when they look like names. */
static const char *printable_provider(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 40 ||
        strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789-_.") != n)
        return "(unnamed)";
    return p;
}

static const char *provider_class(const char *provider, const json_t *first)
{
    if (strcmp(provider, "email") == 0 || strcmp(provider, "sms") == 0)
        return "passwordless";
    const json_t *social = json_object_get(first, "isSocial");
    if (json_is_true(social))
        return "social";
    if (json_is_false(social))
        return "enterprise";
    return "social or enterprise";
}

static int defer(xf_user_t *out, const char *provider, const json_t *first)
{
    out->kind = XF_DEFERRED;
    snprintf(out->reason, sizeof out->reason,
             "primary identity is %s (provider %s): not importable, "
             "recreated at first login",
             provider_class(provider, first), printable_provider(provider));
    return -1;
}

/* Provider of the primary identity: identities[0], else the user_id
 * prefix up to its first '|'. */
static int primary_provider(xf_t *x, char *provider, size_t size,
                            const json_t **first)
{
    const json_t *ids = member(x->src, "identities");
    if (ids && !json_is_array(ids))
        return invalid(x->out, "identities", "identities is not an array");
    *first = json_array_get(ids, 0);
    if (*first) {
        const char *p = json_string_value(json_object_get(*first, "provider"));
        if (!json_is_object(*first) || !p || !*p)
            return invalid(x->out, "identities[0].provider",
                           "primary identity has no provider");
        const char *c =
            json_string_value(json_object_get(*first, "connection"));
        if (c && *c)
            x->out->connection = xstrdup(c);
        x->out->linked_identities = json_array_size(ids) - 1;
        snprintf(provider, size, "%s", p);
        return 0;
    }
    const char *bar = strchr(x->out->source_id, '|');
    if (!bar)
        return invalid(x->out, "user_id",
                       "user_id has no provider prefix and the record has "
                       "no identities");
    size_t n = (size_t)(bar - x->out->source_id);
    snprintf(provider, size, "%.*s", (int)(n < size ? n : size - 1),
             x->out->source_id);
    return 0;
}

/* Facts every outcome reports: e-mail key, MFA enrolments. */
static void note_facts(xf_t *x)
{
    const char *email = json_string_value(member(x->src, "email"));
    if (email && *email)
        x->out->email_key = lower_dup(email);
    const json_t *mf = member(x->src, "multifactor");
    const json_t *ga = member(x->src, "guardian_authenticators");
    x->out->mfa_reenrol = json_array_size(mf) > 0 || json_array_size(ga) > 0;
}

static int classify(xf_t *x)
{
    if (!json_is_object(x->src))
        return invalid(x->out, "", "record is not a JSON object");
    const json_t *uid = member(x->src, "user_id");
    if (!uid)
        return invalid(x->out, "user_id", "user_id is missing");
    if (!json_is_string(uid))
        return invalid(x->out, "user_id", "user_id is not a string");
    x->out->source_id = xstrdup(json_string_value(uid));
    note_facts(x);
    char provider[64];
    const json_t *first = NULL;
    if (primary_provider(x, provider, sizeof provider, &first) < 0)
        return -1;
    if (strcmp(provider, "auth0") != 0)
        return defer(x->out, provider, first);
    if (strncmp(x->out->source_id, "auth0|", 6) != 0)
        return invalid(x->out, "user_id",
                       "database user's user_id lacks the auth0| prefix");
    x->import_id = x->out->source_id + 6;
    if (!*x->import_id)
        return invalid(x->out, "user_id", "user_id is empty after auth0|");
    if (x->opts && x->opts->hashes)
        x->file_hash = hashes_find(x->opts->hashes, x->out->source_id);
    return 0;
}

/* ---- fields ---- */

static int take_email(xf_t *x)
{
    json_t *v = member(x->src, "email");
    if (v && !json_is_string(v))
        return invalid(x->out, "email", "email is not a string");
    const char *s = json_string_value(v);
    if (!s || !*s)
        return invalid(x->out, "email", "email is missing or empty");
    if (validate_email_format(s) < 0)
        return invalid(x->out, "email", "email is not a valid address");
    json_object_set(x->dst, "email", v);
    return 0;
}

/* Coerces the exported forms of email_verified to a boolean. Always sent:
 * an import without it leaves the address unverified, so stating false is
 * the same as the default and keeps the output explicit. */
static int coerce_verified(const json_t *v, int *out)
{
    if (!v) {
        *out = 0;
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s && (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0)) {
        *out = strcasecmp(s, "true") == 0;
        return 0;
    }
    json_int_t n = json_integer_value(v);
    if (json_is_integer(v) && (n == 0 || n == 1)) {
        *out = (int)n;
        return 0;
    }
    return -1;
}

static int take_email_verified(xf_t *x)
{
    int verified;
    if (coerce_verified(member(x->src, "email_verified"), &verified) < 0)
        return invalid(x->out, "email_verified",
                       "email_verified is not a boolean, \"true\"/\"false\" "
                       "or 1/0");
    json_object_set_new(x->dst, "email_verified", json_boolean(verified));
    return 0;
}

/* Copies an optional string field; null and "" are dropped. Returns 1
 * when copied, 0 when dropped, -1 when the type is wrong. */
static int take_string(xf_t *x, const char *name)
{
    json_t *v = member(x->src, name);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return invalid(x->out, name, "%s is not a string", name);
    if (json_string_length(v) == 0)
        return 0;
    json_object_set(x->dst, name, v);
    return 1;
}

static int take_bool(xf_t *x, const char *name)
{
    json_t *v = member(x->src, name);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return invalid(x->out, name, "%s is not a boolean", name);
    json_object_set(x->dst, name, v);
    return 1;
}

static int username_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("@`^$!-#.+'~_", c) != NULL;
}

static int take_username(xf_t *x)
{
    int rc = take_string(x, "username");
    if (rc <= 0)
        return rc;
    const char *s = json_string_value(json_object_get(x->dst, "username"));
    size_t n = strlen(s);
    if (n > XF_USERNAME_MAX)
        return invalid(x->out, "username",
                       "username is longer than %d "
                       "characters",
                       XF_USERNAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (!username_char_ok((unsigned char)s[i]))
            return invalid(x->out, "username",
                           "username has a character outside letters, "
                           "digits and the symbols Auth0 allows");
    if (validate_email_format(s) == 0)
        return invalid(x->out, "username",
                       "username must not be an e-mail address");
    x->out->username = xstrdup(s);
    x->out->username_key = lower_dup(s);
    return 0;
}

static int take_phone(xf_t *x)
{
    int rc = take_string(x, "phone_number");
    if (rc <= 0)
        return rc;
    const char *s = json_string_value(json_object_get(x->dst, "phone_number"));
    size_t n = strlen(s);
    if (n < 2 || n > 16 || s[0] != '+' || strspn(s + 1, "0123456789") != n - 1)
        return invalid(x->out, "phone_number",
                       "phone_number is not E.164 (+ and 1 to 15 digits)");
    return 0;
}

static int take_names(xf_t *x)
{
    for (const char *const *f = name_fields; *f; f++)
        if (take_string(x, *f) < 0)
            return -1;
    return 0;
}

/* ---- metadata ---- */

/* Appends ".key" to the path; keys holding '@' may be e-mail addresses
 * and are shown as "<key>" instead. */
static size_t path_push_key(char *path, size_t len, const char *key)
{
    const char *shown = strchr(key, '@') ? "<key>" : key;
    int n = snprintf(path + len, XF_PATH_BYTES - len, ".%s", shown);
    return len + (n > 0 ? (size_t)n : 0) >= XF_PATH_BYTES ? XF_PATH_BYTES - 1
                                                          : len + (size_t)n;
}

static size_t path_push_index(char *path, size_t len, size_t i)
{
    int n = snprintf(path + len, XF_PATH_BYTES - len, "[%zu]", i);
    return len + (n > 0 ? (size_t)n : 0) >= XF_PATH_BYTES ? XF_PATH_BYTES - 1
                                                          : len + (size_t)n;
}

static int check_meta(xf_t *x, const json_t *v, char *path, size_t len,
                      int depth, int app_root);

static int check_meta_key(xf_t *x, const char *key, const json_t *v, char *path,
                          size_t len, int depth, int app_root)
{
    size_t sub = path_push_key(path, len, key);
    if (strpbrk(key, ".$"))
        return invalid(x->out, path, "metadata key contains '.' or '$'");
    if (app_root) {
        for (const char *const *r = reserved_app_keys; *r; r++)
            if (strcmp(key, *r) == 0)
                return invalid(x->out, path,
                               "app_metadata key is reserved by Auth0");
    }
    int rc = check_meta(x, v, path, sub, depth + 1, 0);
    path[len] = '\0';
    return rc;
}

/* Walks metadata depth-first in document order; the first bad key wins. */
static int check_meta(xf_t *x, const json_t *v, char *path, size_t len,
                      int depth, int app_root)
{
    if (depth > XF_MAX_DEPTH)
        return invalid(x->out, path, "metadata nested deeper than %d levels",
                       XF_MAX_DEPTH);
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            if (check_meta_key(x, key, child, path, len, depth, app_root) < 0)
                return -1;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t sub = path_push_index(path, len, i);
            if (check_meta(x, json_array_get(v, i), path, sub, depth + 1, 0) <
                0)
                return -1;
            path[len] = '\0';
        }
    }
    return 0;
}

static int take_metadata(xf_t *x, const char *name)
{
    json_t *v = member(x->src, name);
    if (!v)
        return 0;
    if (!json_is_object(v))
        return invalid(x->out, name, "%s is not an object", name);
    char path[XF_PATH_BYTES];
    size_t len = (size_t)snprintf(path, sizeof path, "%s", name);
    if (check_meta(x, v, path, len, 0, strcmp(name, "app_metadata") == 0) < 0)
        return -1;
    json_object_set(x->dst, name, v);
    return 0;
}

/* ---- password ---- */

/* Puts a bcrypt hash where Auth0 takes it: $2a$/$2b$ with 10 rounds in
 * password_hash (the only form that field accepts), other bcrypt forms
 * Auth0 verifies ($2y$, any valid cost) in custom_password_hash. */
static int attach_hash(xf_t *x, const char *hash, const char *path)
{
    char variant;
    int cost;
    if (validate_bcrypt_parse(hash, &variant, &cost) < 0 || !variant ||
        !strchr("aby", variant) || cost < 4 || cost > 31)
        return invalid(x->out, path, "unsupported password hash format");
    if (variant != 'y' && cost == 10) {
        json_object_set_new(x->dst, "password_hash", json_string(hash));
    } else {
        json_object_set_new(x->dst, "custom_password_hash",
                            json_pack("{s:s,s:{s:s,s:s}}", "algorithm",
                                      "bcrypt", "hash", "value", hash,
                                      "encoding", "utf8"));
        x->out->custom_hash = 1;
    }
    x->out->has_password = 1;
    return 0;
}

/* A hash can come from the hash file or, in operator-made files, from the
 * record itself; two sources for one user are refused rather than one
 * chosen silently. */
static int take_password(xf_t *x)
{
    json_t *ph = member(x->src, "password_hash");
    json_t *cph = member(x->src, "custom_password_hash");
    if (ph && json_is_string(ph) && json_string_length(ph) == 0)
        ph = NULL;
    if (ph && cph)
        return invalid(x->out, "custom_password_hash",
                       "record has both password_hash and "
                       "custom_password_hash");
    if (x->file_hash && (ph || cph))
        return invalid(x->out, ph ? "password_hash" : "custom_password_hash",
                       "record carries a password hash and the hash file "
                       "has one too");
    char path[128], msg[128];
    if (cph &&
        validate_hash_encoding(cph, path, sizeof path, msg, sizeof msg) < 0)
        return invalid(x->out, path, "custom_password_hash: %s", msg);
    if (cph) {
        json_object_set(x->dst, "custom_password_hash", cph);
        x->out->has_password = 1;
        x->out->custom_hash = 1;
        return 0;
    }
    if (ph && !json_is_string(ph))
        return invalid(x->out, "password_hash",
                       "password_hash is not a string");
    if (ph)
        return attach_hash(x, json_string_value(ph), "password_hash");
    if (x->file_hash)
        return attach_hash(x, x->file_hash, "password_hash");
    return 0;
}

/* ---- assembly ---- */

/* Builds the import object in a fixed key order. */
static int build(xf_t *x)
{
    if (take_email(x) < 0 || take_email_verified(x) < 0)
        return -1;
    json_object_set_new(x->dst, "user_id", json_string(x->import_id));
    if (take_username(x) < 0 || take_names(x) < 0 || take_phone(x) < 0 ||
        take_bool(x, "phone_verified") < 0 || take_bool(x, "blocked") < 0 ||
        take_password(x) < 0 || take_metadata(x, "app_metadata") < 0 ||
        take_metadata(x, "user_metadata") < 0)
        return -1;
    json_t *mfa = member(x->src, "mfa_factors");
    if (mfa)
        json_object_set(x->dst, "mfa_factors", mfa);
    return 0;
}

/* Appends a field name; once the next name would not leave room for the
 * "..." marker, the marker ends the list. */
static void dropped_add(xf_user_t *out, const char *name)
{
    char *d = out->dropped;
    size_t len = strlen(d), size = sizeof out->dropped;
    if (len >= 3 && strcmp(d + len - 3, "...") == 0)
        return;
    if (len + 1 + strlen(name) + 4 < size)
        snprintf(d + len, size - len, "%s%s", len ? "," : "", name);
    else
        snprintf(d + len, size - len, "%s...", len ? "," : "");
}

/* Every source member that is not sent, in source order. */
static void collect_dropped(xf_t *x)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)x->src, key, v)
    {
        if (strcmp(key, "user_id") != 0 && !json_object_get(x->dst, key))
            dropped_add(x->out, key);
    }
}

static int finish(xf_t *x)
{
    char code[48], path[128], msg[160];
    if (validate_import_user(x->dst, code, sizeof code, path, sizeof path, msg,
                             sizeof msg) < 0)
        return invalid(x->out, path, "import schema check failed: %s: %s", code,
                       msg);
    x->out->json = json_dumps(x->dst, JSON_COMPACT);
    if (!x->out->json)
        return invalid(x->out, "", "record cannot be serialised");
    x->out->json_len = strlen(x->out->json);
    x->out->kind = XF_IMPORT;
    collect_dropped(x);
    if (x->out->json_len > XF_PROFILE_SOFT_BYTES)
        snprintf(x->out->warning, sizeof x->out->warning,
                 "profile is %zu bytes, over Auth0's advisory %d",
                 x->out->json_len, XF_PROFILE_SOFT_BYTES);
    return 0;
}

int transform_user(const json_t *src, const xf_opts_t *opts, xf_user_t *out)
{
    memset(out, 0, sizeof *out);
    xf_t x = { src, opts, out, NULL, NULL, NULL };
    if (classify(&x) < 0)
        return 0;
    x.dst = json_object();
    if (build(&x) == 0)
        finish(&x);
    json_decref(x.dst);
    return 0;
}

void xf_user_clear(xf_user_t *u)
{
    if (!u)
        return;
    free(u->source_id);
    free(u->connection);
    free(u->json);
    free(u->email_key);
    free(u->username);
    free(u->username_key);
    memset(u, 0, sizeof *u);
}
