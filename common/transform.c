/* transform: maps one exported user (Management API shape) to one
 * bulk-import object, or classifies it as deferred or invalid. It owns no
 * state; the result depends only on the record, the hash index and the
 * options.
 *
 * Steps: index the record's top-level fields once; classify by the primary
 * identity (only the auth0 provider can be bulk-imported; social,
 * enterprise and passwordless users come back at their first login); strip
 * one "auth0|" from the id (an import prepends it again); append the
 * importable fields in a fixed key order, checking types and Auth0's value
 * rules, copying each kept value's source bytes; attach the password hash;
 * list everything else as dropped. What is not checked on the way
 * (custom_password_hash, mfa_factors) is given to the schema validator.
 * Reasons never quote values: e-mail addresses, hashes and metadata stay
 * out of them. */
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
#define XF_SMALL_SET          8     /* keys compared pairwise up to this */

/* The top-level fields the transform reads. */
typedef enum {
    F_USER_ID,
    F_EMAIL,
    F_EMAIL_VERIFIED,
    F_USERNAME,
    F_GIVEN_NAME,
    F_FAMILY_NAME,
    F_NAME,
    F_NICKNAME,
    F_PICTURE,
    F_PHONE_NUMBER,
    F_PHONE_VERIFIED,
    F_BLOCKED,
    F_PASSWORD_HASH,
    F_CUSTOM_PASSWORD_HASH,
    F_APP_METADATA,
    F_USER_METADATA,
    F_MFA_FACTORS,
    F_IDENTITIES,
    F_MULTIFACTOR,
    F_GUARDIAN,
    F_COUNT
} field_t;

static const char *const field_names[F_COUNT] = {
    "user_id",        "email",
    "email_verified", "username",
    "given_name",     "family_name",
    "name",           "nickname",
    "picture",        "phone_number",
    "phone_verified", "blocked",
    "password_hash",  "custom_password_hash",
    "app_metadata",   "user_metadata",
    "mfa_factors",    "identities",
    "multifactor",    "guardian_authenticators",
};

/* One transformation in progress. */
typedef struct {
    jdoc_t *doc;
    const xf_opts_t *opts;
    xf_user_t *out;
    buf_t dst;                   /* the import object being built */
    uint32_t f[F_COUNT];         /* value node per field, 0: absent */
    unsigned char sent[F_COUNT]; /* the field is in the output */
    const char *import_id;       /* user_id without its auth0| */
    const char *file_hash;       /* from the hash index, or NULL */
    const char *email;           /* decoded, once checked */
    char first_rewrite[160];     /* path of the first rewritten key */
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
static const field_t name_fields[] = { F_GIVEN_NAME, F_FAMILY_NAME, F_NAME,
                                       F_NICKNAME, F_PICTURE };

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

/* ---- case folding ---- */

static unsigned fold_cp(unsigned cp)
{
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 0x20;
    if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) ||
        (cp >= 0x14A && cp <= 0x177))
        return cp | 1;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return cp & 1 ? cp + 1 : cp;
    if (cp == 0x178)
        return 0xFF;
    if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
        return cp + 0x20;
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 0x50;
    return cp;
}

char *transform_fold(const char *s, size_t n)
{
    char *d = xstrndup(s, n);
    unsigned char *p = (unsigned char *)d;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 'A' && p[i] <= 'Z') {
            p[i] = (unsigned char)(p[i] + 32);
            continue;
        }
        if (p[i] < 0xC2 || p[i] > 0xDF || i + 1 >= n ||
            (p[i + 1] & 0xC0) != 0x80)
            continue;
        unsigned cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
        unsigned lo = fold_cp(cp);
        p[i] = (unsigned char)(0xC0 | (lo >> 6));
        p[i + 1] = (unsigned char)(0x80 | (lo & 0x3F));
        i++;
    }
    return d;
}

/* ---- reading the record ---- */

static int field_of(const char *key, size_t n)
{
    for (int i = 0; i < F_COUNT; i++)
        if (field_names[i][0] == key[0] && strlen(field_names[i]) == n &&
            memcmp(field_names[i], key, n) == 0)
            return i;
    return -1;
}

/* The bytes of a key: raw when it has no escapes, else decoded. */
static const char *key_bytes(jdoc_t *d, uint32_t k, size_t *n)
{
    const jd_node_t *node = jdoc_node(d, k);
    if (node->escaped)
        return jdoc_str(d, k, n);
    *n = node->len - 2;
    return jdoc_text(d) + node->off + 1;
}

/* Notes the value node of every known top-level field; null is absent. */
static void index_fields(xf_t *x)
{
    uint32_t k = jdoc_first(0);
    for (uint32_t m = 0; m < jdoc_node(x->doc, 0)->count; m++) {
        size_t n;
        const char *key = key_bytes(x->doc, k, &n);
        int f = n >= 4 && n <= 23 ? field_of(key, n) : -1;
        if (f >= 0 && jdoc_type(x->doc, k + 1) != JD_NULL)
            x->f[f] = k + 1;
        k = jdoc_next_member(x->doc, k);
    }
}

static int type_of(const xf_t *x, field_t f)
{
    return x->f[f] ? jdoc_type(x->doc, x->f[f]) : -1;
}

/* The decoded string of field f (NULL unless it is a string). */
static const char *str_of(xf_t *x, field_t f, size_t *n)
{
    return type_of(x, f) == JD_STRING ? jdoc_str(x->doc, x->f[f], n) : NULL;
}

/* Array size of node v, 0 for other types or absent. */
static size_t array_size(const xf_t *x, uint32_t v)
{
    return v && jdoc_type(x->doc, v) == JD_ARRAY ? jdoc_node(x->doc, v)->count
                                                 : 0;
}

/* ---- output ---- */

static void put_key(xf_t *x, field_t f)
{
    buf_append(&x->dst, x->dst.len > 1 ? ",\"" : "\"", x->dst.len > 1 ? 2 : 1);
    buf_puts(&x->dst, field_names[f]);
    buf_append(&x->dst, "\":", 2);
    x->sent[f] = 1;
}

/* Appends the source bytes of node v. */
static void put_raw(xf_t *x, uint32_t v)
{
    const jd_node_t *n = jdoc_node(x->doc, v);
    buf_append(&x->dst, jdoc_text(x->doc) + n->off, n->len);
}

static void put_field(xf_t *x, field_t f)
{
    put_key(x, f);
    put_raw(x, x->f[f]);
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

static const char *provider_class(xf_t *x, const char *provider, uint32_t first)
{
    if (strcmp(provider, "email") == 0 || strcmp(provider, "sms") == 0)
        return "passwordless";
    uint32_t social = first ? jdoc_get(x->doc, first, "isSocial") : 0;
    if (social && jdoc_type(x->doc, social) == JD_TRUE)
        return "social";
    if (social && jdoc_type(x->doc, social) == JD_FALSE)
        return "enterprise";
    return "social or enterprise";
}

static int defer(xf_t *x, const char *provider, uint32_t first)
{
    x->out->kind = XF_DEFERRED;
    snprintf(x->out->reason, sizeof x->out->reason,
             "primary identity is %s (provider %s): not importable, "
             "recreated at first login",
             provider_class(x, provider, first), printable_provider(provider));
    return -1;
}

/* Provider of identities[0] into provider; also notes its connection. */
static int first_identity(xf_t *x, uint32_t first, char *provider, size_t size)
{
    uint32_t p = jdoc_get(x->doc, first, "provider");
    size_t n = 0;
    const char *s = p ? jdoc_str(x->doc, p, &n) : NULL;
    if (!s || n == 0)
        return invalid(x->out, "identities[0].provider",
                       "primary identity has no provider");
    snprintf(provider, size, "%s", s);
    uint32_t c = jdoc_get(x->doc, first, "connection");
    const char *cs = c ? jdoc_str(x->doc, c, &n) : NULL;
    if (cs && n)
        x->out->connection = xstrndup(cs, n);
    x->out->linked_identities = array_size(x, x->f[F_IDENTITIES]) - 1;
    return 0;
}

/* Provider of the primary identity: identities[0], else the user_id
 * prefix up to its first '|'. */
static int primary_provider(xf_t *x, char *provider, size_t size,
                            uint32_t *first)
{
    int t = type_of(x, F_IDENTITIES);
    if (t >= 0 && t != JD_ARRAY)
        return invalid(x->out, "identities", "identities is not an array");
    *first =
        array_size(x, x->f[F_IDENTITIES]) ? jdoc_first(x->f[F_IDENTITIES]) : 0;
    if (*first)
        return first_identity(x, *first, provider, size);
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
    size_t n;
    const char *email = str_of(x, F_EMAIL, &n);
    if (email && n)
        x->out->email_key = transform_fold(email, n);
    x->out->mfa_reenrol = array_size(x, x->f[F_MULTIFACTOR]) > 0 ||
                          array_size(x, x->f[F_GUARDIAN]) > 0;
}

static int classify(xf_t *x)
{
    if (jdoc_type(x->doc, 0) != JD_OBJECT)
        return invalid(x->out, "", "record is not a JSON object");
    index_fields(x);
    if (!x->f[F_USER_ID])
        return invalid(x->out, "user_id", "user_id is missing");
    size_t n;
    const char *uid = str_of(x, F_USER_ID, &n);
    if (!uid)
        return invalid(x->out, "user_id", "user_id is not a string");
    x->out->source_id = xstrndup(uid, n);
    note_facts(x);
    char provider[64];
    uint32_t first = 0;
    if (primary_provider(x, provider, sizeof provider, &first) < 0)
        return -1;
    if (strcmp(provider, "auth0") != 0)
        return defer(x, provider, first);
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
    int t = type_of(x, F_EMAIL);
    if (t >= 0 && t != JD_STRING)
        return invalid(x->out, "email", "email is not a string");
    size_t n;
    const char *s = str_of(x, F_EMAIL, &n);
    if (!s || n == 0)
        return invalid(x->out, "email", "email is missing or empty");
    if (validate_email_format(s) < 0)
        return invalid(x->out, "email", "email is not a valid address");
    x->email = s;
    put_field(x, F_EMAIL);
    return 0;
}

/* Coerces the exported forms of email_verified to a boolean. Always sent:
 * an import without it leaves the address unverified, so stating false is
 * the same as the default and keeps the output explicit. */
static int coerce_verified(xf_t *x, int *out)
{
    uint32_t v = x->f[F_EMAIL_VERIFIED];
    int t = type_of(x, F_EMAIL_VERIFIED);
    *out = t == JD_TRUE;
    if (t < 0 || t == JD_TRUE || t == JD_FALSE)
        return 0;
    const char *s = str_of(x, F_EMAIL_VERIFIED, NULL);
    if (s && (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0)) {
        *out = strcasecmp(s, "true") == 0;
        return 0;
    }
    int64_t n = jdoc_int(x->doc, v);
    if (t == JD_INT && (n == 0 || n == 1)) {
        *out = (int)n;
        return 0;
    }
    return -1;
}

static int take_email_verified(xf_t *x)
{
    int verified;
    if (coerce_verified(x, &verified) < 0)
        return invalid(x->out, "email_verified",
                       "email_verified is not a boolean, \"true\"/\"false\" "
                       "or 1/0");
    put_key(x, F_EMAIL_VERIFIED);
    buf_puts(&x->dst, verified ? "true" : "false");
    return 0;
}

static void put_user_id(xf_t *x)
{
    const jd_node_t *n = jdoc_node(x->doc, x->f[F_USER_ID]);
    buf_append(&x->dst, ",\"user_id\":", 11);
    if (!n->escaped) {
        /* "auth0|id" in the source: the quote, then the bytes after the
         * prefix up to and with the closing quote. */
        buf_append(&x->dst, "\"", 1);
        buf_append(&x->dst, jdoc_text(x->doc) + n->off + 7, n->len - 7);
    } else {
        jdoc_put_string(&x->dst, x->import_id, strlen(x->import_id));
    }
}

/* Checks an optional string field; null and "" are dropped. Returns 1
 * when it is to be sent, 0 when dropped, -1 when the type is wrong. */
static int check_string(xf_t *x, field_t f)
{
    int t = type_of(x, f);
    if (t < 0)
        return 0;
    if (t != JD_STRING)
        return invalid(x->out, field_names[f], "%s is not a string",
                       field_names[f]);
    return jdoc_node(x->doc, x->f[f])->len > 2;
}

static int take_string(xf_t *x, field_t f)
{
    int rc = check_string(x, f);
    if (rc > 0)
        put_field(x, f);
    return rc;
}

static int take_bool(xf_t *x, field_t f)
{
    int t = type_of(x, f);
    if (t < 0)
        return 0;
    if (t != JD_TRUE && t != JD_FALSE)
        return invalid(x->out, field_names[f], "%s is not a boolean",
                       field_names[f]);
    put_field(x, f);
    return 1;
}

static int username_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("@`^$!-#.+'~_", c) != NULL;
}

static int take_username(xf_t *x)
{
    int rc = check_string(x, F_USERNAME);
    if (rc <= 0)
        return rc;
    size_t n;
    const char *s = str_of(x, F_USERNAME, &n);
    if (n > XF_USERNAME_MAX_LIMIT)
        return invalid(x->out, "username",
                       "username is longer than %d characters",
                       XF_USERNAME_MAX_LIMIT);
    for (size_t i = 0; i < n; i++)
        if (!username_char_ok((unsigned char)s[i]))
            return invalid(x->out, "username",
                           "username has a character outside letters, "
                           "digits and the symbols Auth0 allows");
    if (validate_email_format(s) == 0)
        return invalid(x->out, "username",
                       "username must not be an e-mail address");
    x->out->username = xstrndup(s, n);
    x->out->username_key = transform_fold(s, n);
    put_field(x, F_USERNAME);
    return 0;
}

static int take_phone(xf_t *x)
{
    int rc = check_string(x, F_PHONE_NUMBER);
    if (rc <= 0)
        return rc;
    size_t n;
    const char *s = str_of(x, F_PHONE_NUMBER, &n);
    if (n < 2 || n > 16 || s[0] != '+' || strspn(s + 1, "0123456789") != n - 1)
        return invalid(x->out, "phone_number",
                       "phone_number is not E.164 (+ and 1 to 15 digits)");
    put_field(x, F_PHONE_NUMBER);
    return 0;
}

static int take_names(xf_t *x)
{
    for (size_t i = 0; i < sizeof name_fields / sizeof *name_fields; i++)
        if (take_string(x, name_fields[i]) < 0)
            return -1;
    return 0;
}

/* ---- metadata ---- */

/* One step of the way down from a metadata root: a key node, or an
 * array index when key is 0. */
typedef struct {
    uint32_t key;
    size_t index;
} crumb_t;

/* The JSON path of the current place, for reasons; keys holding '@' may
 * be e-mail addresses and are shown as "<key>". */
static void compose_path(xf_t *x, field_t root, const crumb_t *c, int n,
                         char *out, size_t size)
{
    size_t len = (size_t)snprintf(out, size, "%s", field_names[root]);
    for (int i = 0; i < n && len < size; i++) {
        int w;
        if (c[i].key) {
            const char *k = jdoc_str(x->doc, c[i].key, NULL);
            w = snprintf(out + len, size - len, ".%s",
                         strchr(k, '@') ? "<key>" : k);
        } else {
            w = snprintf(out + len, size - len, "[%zu]", c[i].index);
        }
        len += w > 0 ? (size_t)w : 0;
    }
}

static int meta_fail(xf_t *x, field_t root, const crumb_t *c, int n,
                     const char *reason)
{
    char path[XF_PATH_BYTES];
    compose_path(x, root, c, n, path, sizeof path);
    return invalid(x->out, path, "%s", reason);
}

static int is_reserved(const char *k, size_t n)
{
    for (const char *const *r = reserved_app_keys; *r; r++)
        if (strlen(*r) == n && memcmp(*r, k, n) == 0)
            return 1;
    return 0;
}

/* What a key needs: 0 nothing, 1 '.'/'$' replaced, 2 the src_ prefix. */
static int key_problem(xf_t *x, uint32_t k, int app_root)
{
    size_t n;
    const char *s = key_bytes(x->doc, k, &n);
    if (memchr(s, '.', n) || memchr(s, '$', n))
        return 1;
    return app_root && is_reserved(s, n) ? 2 : 0;
}

typedef struct {
    field_t root;
    crumb_t crumbs[XF_MAX_DEPTH + 2];
    size_t rewrites; /* keys that need rewriting */
    int first_depth; /* crumbs of the first one, for the warning */
    char first[XF_PATH_BYTES];
} walk_t;

static int walk(xf_t *x, walk_t *w, uint32_t v, int depth, int app_root);

static int walk_key(xf_t *x, walk_t *w, uint32_t k, int depth, int app_root)
{
    w->crumbs[depth].key = k;
    int problem = key_problem(x, k, app_root);
    if (problem && !x->opts->rewrite_metadata_keys)
        return meta_fail(x, w->root, w->crumbs, depth + 1,
                         problem == 1 ? "metadata key contains '.' or '$'"
                                      : "app_metadata key is reserved by "
                                        "Auth0");
    if (problem && w->rewrites++ == 0)
        compose_path(x, w->root, w->crumbs, depth + 1, w->first,
                     sizeof w->first);
    return walk(x, w, k + 1, depth + 1, 0);
}

/* Walks metadata depth-first in document order; the first bad key wins. */
static int walk(xf_t *x, walk_t *w, uint32_t v, int depth, int app_root)
{
    if (depth > XF_MAX_DEPTH)
        return meta_fail(x, w->root, w->crumbs, depth,
                         "metadata nested deeper than 128 levels");
    int t = jdoc_type(x->doc, v);
    uint32_t c = jdoc_first(v);
    uint32_t count = jdoc_node(x->doc, v)->count;
    if (t == JD_OBJECT) {
        for (uint32_t m = 0; m < count; m++, c = jdoc_next_member(x->doc, c))
            if (walk_key(x, w, c, depth, app_root) < 0)
                return -1;
    } else if (t == JD_ARRAY) {
        for (uint32_t i = 0; i < count; i++, c = jdoc_next_element(x->doc, c)) {
            w->crumbs[depth].key = 0;
            w->crumbs[depth].index = i;
            if (walk(x, w, c, depth + 1, 0) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- metadata rewriting ---- */

/* The rewritten name of key k into out. */
static void rewrite_key(xf_t *x, uint32_t k, int app_root, buf_t *out)
{
    size_t n;
    const char *s = jdoc_str(x->doc, k, &n);
    buf_reset(out);
    if (app_root && is_reserved(s, n))
        buf_puts(out, "src_");
    size_t start = out->len;
    buf_append(out, s, n);
    for (size_t i = start; i < out->len; i++)
        if (out->data[i] == '.' || out->data[i] == '$')
            out->data[i] = '_';
}

/* Final names of one object's keys, to find collisions. */
typedef struct {
    char **names;
    size_t n;
} names_t;

static int names_add(names_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return -1;
    s->names[s->n++] = xstrdup(name);
    return 0;
}

static void names_free(names_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
}

static int emit(xf_t *x, walk_t *w, uint32_t v, int depth, int app_root);

static int emit_object(xf_t *x, walk_t *w, uint32_t v, int depth, int app_root)
{
    uint32_t count = jdoc_node(x->doc, v)->count, k = jdoc_first(v);
    names_t seen = { xcalloc(count + 1, sizeof(char *)), 0 };
    buf_t name;
    buf_init(&name);
    int rc = 0;
    buf_append(&x->dst, "{", 1);
    for (uint32_t m = 0; m < count && rc == 0;
         m++, k = jdoc_next_member(x->doc, k)) {
        w->crumbs[depth].key = k;
        rewrite_key(x, k, app_root, &name);
        if (names_add(&seen, name.data) < 0) {
            rc = meta_fail(x, w->root, w->crumbs, depth + 1,
                           "metadata key rewritten to a name the object "
                           "already has");
            break;
        }
        if (m)
            buf_append(&x->dst, ",", 1);
        jdoc_put_string(&x->dst, name.data, name.len);
        buf_append(&x->dst, ":", 1);
        rc = emit(x, w, k + 1, depth + 1, 0);
    }
    buf_append(&x->dst, "}", 1);
    buf_free(&name);
    names_free(&seen);
    return rc;
}

/* Writes metadata with its keys rewritten; scalars are copied. */
static int emit(xf_t *x, walk_t *w, uint32_t v, int depth, int app_root)
{
    int t = jdoc_type(x->doc, v);
    if (t == JD_OBJECT)
        return emit_object(x, w, v, depth, app_root);
    if (t != JD_ARRAY) {
        put_raw(x, v);
        return 0;
    }
    uint32_t count = jdoc_node(x->doc, v)->count, c = jdoc_first(v);
    buf_append(&x->dst, "[", 1);
    for (uint32_t i = 0; i < count; i++, c = jdoc_next_element(x->doc, c)) {
        w->crumbs[depth].key = 0;
        w->crumbs[depth].index = i;
        if (i)
            buf_append(&x->dst, ",", 1);
        if (emit(x, w, c, depth + 1, 0) < 0)
            return -1;
    }
    buf_append(&x->dst, "]", 1);
    return 0;
}

static void note_rewrites(xf_t *x, const walk_t *w)
{
    if (x->out->rewritten == 0)
        snprintf(x->first_rewrite, sizeof x->first_rewrite, "%.159s", w->first);
    x->out->rewritten += w->rewrites;
}

static int take_metadata(xf_t *x, field_t f)
{
    int t = type_of(x, f);
    if (t < 0)
        return 0;
    if (t != JD_OBJECT)
        return invalid(x->out, field_names[f], "%s is not an object",
                       field_names[f]);
    walk_t w;
    w.root = f;
    w.rewrites = 0;
    int app = f == F_APP_METADATA;
    int rc = walk(x, &w, x->f[f], 0, app);
    if (rc == 0 && w.rewrites == 0) {
        put_field(x, f);
    } else if (rc == 0) {
        put_key(x, f);
        rc = emit(x, &w, x->f[f], 0, app);
        if (rc == 0)
            note_rewrites(x, &w);
    }
    return rc;
}

/* ---- password ---- */

static void put_custom(xf_t *x, const char *algorithm, const char *hash)
{
    put_key(x, F_CUSTOM_PASSWORD_HASH);
    buf_printf(&x->dst,
               "{\"algorithm\":\"%s\",\"hash\":{\"value\":", algorithm);
    jdoc_put_string(&x->dst, hash, strlen(hash));
    buf_puts(&x->dst, ",\"encoding\":\"utf8\"}}");
    x->out->custom_hash = 1;
    x->out->has_password = 1;
}

/* A PHC string of argon2 or pbkdf2 (the other self-describing forms a
 * hash file may hold) into custom_password_hash, once plausible. */
static int attach_phc(xf_t *x, const char *hash, const char *path)
{
    const char *algo = strncmp(hash, "$argon2", 7) == 0    ? "argon2"
                       : strncmp(hash, "$pbkdf2-", 8) == 0 ? "pbkdf2"
                                                           : NULL;
    if (!algo)
        return invalid(x->out, path, "unsupported password hash format");
    json_t *c = json_pack("{s:s,s:{s:s,s:s}}", "algorithm", algo, "hash",
                          "value", hash, "encoding", "utf8");
    char where[128], msg[128];
    int rc = c ? validate_hash_encoding(c, where, sizeof where, msg, sizeof msg)
               : -1;
    json_decref(c);
    if (rc < 0)
        return invalid(x->out, path, "unsupported password hash format: %s",
                       c ? msg : "not UTF-8");
    put_custom(x, algo, hash);
    return 0;
}

/* Puts a bcrypt hash where Auth0 takes it: $2a$/$2b$ with 10 rounds in
 * password_hash (the only form that field accepts), other bcrypt forms
 * Auth0 verifies ($2y$, any valid cost) in custom_password_hash; argon2
 * and pbkdf2 PHC strings go to custom_password_hash too. */
static int attach_hash(xf_t *x, const char *hash, const char *path)
{
    char variant;
    int cost;
    if (validate_bcrypt_parse(hash, &variant, &cost) < 0)
        return attach_phc(x, hash, path);
    if (!variant || !strchr("aby", variant) || cost < 4 || cost > 31)
        return invalid(x->out, path, "unsupported password hash format");
    if (variant != 'y' && cost == 10) {
        put_key(x, F_PASSWORD_HASH);
        jdoc_put_string(&x->dst, hash, strlen(hash));
        x->out->has_password = 1;
    } else {
        put_custom(x, "bcrypt", hash);
    }
    return 0;
}

/* The subtree of node v as a jansson value (it parsed once already). */
static json_t *subtree_json(xf_t *x, uint32_t v)
{
    const jd_node_t *n = jdoc_node(x->doc, v);
    return json_loadb(jdoc_text(x->doc) + n->off, n->len,
                      JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

static int take_custom_hash(xf_t *x)
{
    char path[128], msg[128];
    json_t *cph = subtree_json(x, x->f[F_CUSTOM_PASSWORD_HASH]);
    int rc = validate_hash_encoding(cph, path, sizeof path, msg, sizeof msg);
    json_decref(cph);
    if (rc < 0)
        return invalid(x->out, path, "custom_password_hash: %s", msg);
    put_field(x, F_CUSTOM_PASSWORD_HASH);
    x->out->has_password = 1;
    x->out->custom_hash = 1;
    return 0;
}

/* A hash can come from the hash file or, in operator-made files, from the
 * record itself; two sources for one user are refused rather than one
 * chosen silently. */
static int take_password(xf_t *x)
{
    int ph = x->f[F_PASSWORD_HASH] != 0,
        cph = x->f[F_CUSTOM_PASSWORD_HASH] != 0;
    if (type_of(x, F_PASSWORD_HASH) == JD_STRING &&
        jdoc_node(x->doc, x->f[F_PASSWORD_HASH])->len == 2)
        ph = 0;
    if (ph && cph)
        return invalid(x->out, "custom_password_hash",
                       "record has both password_hash and "
                       "custom_password_hash");
    if (x->file_hash && (ph || cph))
        return invalid(x->out, ph ? "password_hash" : "custom_password_hash",
                       "record carries a password hash and the hash file "
                       "has one too");
    if (cph)
        return take_custom_hash(x);
    if (ph && type_of(x, F_PASSWORD_HASH) != JD_STRING)
        return invalid(x->out, "password_hash",
                       "password_hash is not a string");
    if (ph)
        return attach_hash(x, str_of(x, F_PASSWORD_HASH, NULL),
                           "password_hash");
    if (x->file_hash)
        return attach_hash(x, x->file_hash, "password_hash");
    return 0;
}

/* ---- assembly ---- */

/* Builds the import object in a fixed key order. */
static int build(xf_t *x)
{
    buf_append(&x->dst, "{", 1);
    if (take_email(x) < 0 || take_email_verified(x) < 0)
        return -1;
    put_user_id(x);
    if (take_username(x) < 0 || take_names(x) < 0 || take_phone(x) < 0 ||
        take_bool(x, F_PHONE_VERIFIED) < 0 || take_bool(x, F_BLOCKED) < 0 ||
        take_password(x) < 0 || take_metadata(x, F_APP_METADATA) < 0 ||
        take_metadata(x, F_USER_METADATA) < 0)
        return -1;
    if (x->f[F_MFA_FACTORS])
        put_field(x, F_MFA_FACTORS);
    buf_append(&x->dst, "}", 1);
    return 0;
}

/* Appends a field name; once the next name would not leave room for the
 * "..." marker, the marker ends the list. */
static void dropped_add(xf_user_t *out, size_t *len, const char *name, size_t n)
{
    char *d = out->dropped;
    size_t size = sizeof out->dropped, at = *len;
    if (at >= 3 && memcmp(d + at - 3, "...", 3) == 0)
        return;
    if (at)
        d[at++] = ',';
    if (at + n + 4 < size) {
        memcpy(d + at, name, n);
        at += n;
    } else {
        memcpy(d + at, "...", 3);
        at += 3;
    }
    d[at] = '\0';
    *len = at;
}

/* Every source member that is not sent, in source order. */
static void collect_dropped(xf_t *x)
{
    size_t len = 0;
    uint32_t k = jdoc_first(0);
    for (uint32_t m = 0; m < jdoc_node(x->doc, 0)->count; m++) {
        size_t n;
        const char *key = key_bytes(x->doc, k, &n);
        int f = n ? field_of(key, n) : -1;
        if (f != F_USER_ID && (f < 0 || !x->sent[f]))
            dropped_add(x->out, &len, key, n);
        k = jdoc_next_member(x->doc, k);
    }
}

/* The fields whose rules were not checked on the way go through the
 * schema validator, in output order, beside the (valid) e-mail. */
static int check_schema(xf_t *x)
{
    if (!(x->sent[F_CUSTOM_PASSWORD_HASH] && x->f[F_CUSTOM_PASSWORD_HASH]) &&
        !x->sent[F_MFA_FACTORS])
        return 0;
    json_t *u = json_pack("{s:s}", "email", x->email);
    /* A bcrypt hash placed by attach_hash is valid by construction. */
    if (x->sent[F_CUSTOM_PASSWORD_HASH] && x->f[F_CUSTOM_PASSWORD_HASH])
        json_object_set_new(u, "custom_password_hash",
                            subtree_json(x, x->f[F_CUSTOM_PASSWORD_HASH]));
    if (x->sent[F_MFA_FACTORS])
        json_object_set_new(u, "mfa_factors",
                            subtree_json(x, x->f[F_MFA_FACTORS]));
    char code[48], path[128], msg[160];
    int rc = validate_import_user(u, code, sizeof code, path, sizeof path, msg,
                                  sizeof msg);
    json_decref(u);
    if (rc < 0)
        return invalid(x->out, path, "import schema check failed: %s: %s", code,
                       msg);
    return 0;
}

static int finish(xf_t *x)
{
    if (check_schema(x) < 0)
        return -1;
    x->out->json = x->dst.data;
    x->out->json_len = x->dst.len;
    buf_init(&x->dst);
    x->out->kind = XF_IMPORT;
    collect_dropped(x);
    char *w = x->out->warning;
    size_t size = sizeof x->out->warning, len = 0;
    if (x->out->rewritten)
        len = (size_t)snprintf(w, size,
                               "metadata keys rewritten: %zu (first at %s)",
                               x->out->rewritten, x->first_rewrite);
    if (x->out->json_len > XF_PROFILE_SOFT_BYTES && len < size)
        snprintf(w + len, size - len,
                 "%sprofile is %zu bytes, over Auth0's advisory %d",
                 len ? "; " : "", x->out->json_len, XF_PROFILE_SOFT_BYTES);
    return 0;
}

int transform_doc(jdoc_t *doc, const xf_opts_t *opts, xf_user_t *out)
{
    static const xf_opts_t none = { NULL, 0 };
    memset(out, 0, sizeof *out);
    xf_t *x = xcalloc(1, sizeof *x);
    x->doc = doc;
    x->opts = opts ? opts : &none;
    x->out = out;
    if (classify(x) == 0) {
        /* The output is never much longer than the record. */
        const jd_node_t *root = jdoc_node(doc, 0);
        x->dst.cap = root->len + 256;
        x->dst.data = xmalloc(x->dst.cap);
        x->dst.data[0] = '\0';
        if (build(x) == 0)
            finish(x);
    }
    buf_free(&x->dst);
    free(x);
    return 0;
}

int transform_user(const json_t *src, const xf_opts_t *opts, xf_user_t *out)
{
    char *text = src ? json_dumps(src, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    jdoc_t *doc = jdoc_new();
    if (!text || jdoc_parse(doc, text, strlen(text)) < 0) {
        memset(out, 0, sizeof *out);
        invalid(out, "", "record is not a JSON object");
    } else {
        transform_doc(doc, opts, out);
    }
    jdoc_destroy(&doc);
    free(text);
    return 0;
}

int transform_apply_rules(xf_user_t *u, const xf_rules_t *rules)
{
    if (u->kind != XF_IMPORT || !rules)
        return 0;
    size_t n = u->username ? strlen(u->username) : 0;
    if (!u->username && rules->requires_username)
        invalid(u, "username",
                "the target connection requires a username and the record "
                "has none");
    else if (u->username &&
             ((int)n < rules->username_min || (int)n > rules->username_max))
        invalid(u, "username",
                "username is %zu characters; the target connection allows "
                "%d to %d",
                n, rules->username_min, rules->username_max);
    if (u->kind == XF_IMPORT)
        return 0;
    free(u->json);
    u->json = NULL;
    u->json_len = 0;
    return -1;
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
