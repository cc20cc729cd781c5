/* validate: owns the bulk-import schema as C tables and the checks Auth0
 * applies beyond it. The tables mirror
 * specs/auth0-bulk-import-user.schema.json property by property; length
 * limits come from the user profile documentation. Error paths use the
 * dotted form Auth0 reports (custom_password_hash.hash.encoding,
 * mfa_factors[0].totp.secret) and messages read "Error in <path> property -
 * <detail>". */
#include "validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define REDACTED "*****"

typedef enum {
    T_STRING,
    T_BOOL,
    T_INT,
    T_OBJECT,
    T_ARRAY,
} vtype_t;

typedef enum {
    CHECK_NONE,
    CHECK_PATTERN,
    CHECK_FORMAT,
} check_kind_t;

typedef struct vobj vobj_t;

typedef struct {
    const char *name;
    vtype_t type;
    const char *const *enums;
    int (*check)(const char *s);
    check_kind_t check_kind;
    const char *check_desc; /* the pattern or the format name */
    int secret;             /* never quote the value */
    size_t min_len, max_len;
    const vobj_t *obj; /* schema of an object value or array item */
    size_t min_items, max_items;
} vprop_t;

struct vobj {
    const vprop_t *props; /* ends with a NULL name */
    const char *const *required;
    int closed;       /* additionalProperties: false */
    size_t max_props; /* 0 = unbounded */
};

typedef struct {
    const validate_opts_t *opts;
    json_t *errs;
} vctx_t;

/* --- checks of string values -------------------------------------- */

static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c >= 0x80 ||
           strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

static int valid_local(const char *s, size_t n)
{
    if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' ? s[i + 1] == '.' : !is_atext(c))
            return 0;
    }
    return 1;
}

static int valid_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c >= 0x80))
            return 0;
    }
    return 1;
}

static int valid_tld(const char *s, size_t n)
{
    if (n < 2)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 1;
    return 0;
}

static int valid_domain(const char *s)
{
    size_t labels = 0;
    const char *last = s;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (!valid_label(s, n))
            return 0;
        labels++;
        last = s;
        if (!dot)
            break;
        s = dot + 1;
    }
    return labels >= 2 && valid_tld(last, strlen(last));
}

int validate_email(const char *s)
{
    size_t len = strlen(s);
    const char *at = strrchr(s, '@');
    if (len > 254 || !at)
        return 0;
    return valid_local(s, (size_t)(at - s)) && valid_domain(at + 1);
}

static int check_email(const char *s)
{
    return validate_email(s);
}

static int all_in(const char *s, size_t min, size_t max, const char *set)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    return strspn(s, set) == n;
}

#define DIGITS "0123456789"
#define B32    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define BCRYPT64 \
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define BCRYPT_PATTERN "^\\$2[ab]\\$10\\$[./A-Za-z0-9]{53}$"

static int check_phone(const char *s)
{
    return s[0] == '+' && all_in(s + 1, 1, 15, DIGITS);
}

static int check_totp(const char *s)
{
    return all_in(s, 1, (size_t)-1, B32);
}

static int check_bcrypt(const char *s)
{
    if (strncmp(s, "$2a$10$", 7) != 0 && strncmp(s, "$2b$10$", 7) != 0)
        return 0;
    return all_in(s + 7, 53, 53, BCRYPT64);
}

/* --- the schema ----------------------------------------------------- */

static const char *const algorithms[] = { "argon2", "bcrypt", "hmac",
                                          "ldap",   "md4",    "md5",
                                          "sha1",   "sha256", "sha512",
                                          "pbkdf2", "scrypt", NULL };
static const char *const encodings[] = { "base64", "hex", "utf8", NULL };
static const char *const digests[] = { "md4",    "md5",    "ripemd160",
                                       "sha1",   "sha224", "sha256",
                                       "sha384", "sha512", "whirlpool",
                                       NULL };
static const char *const positions[] = { "prefix", "suffix", NULL };
static const char *const pw_encodings[] = { "ascii", "utf8",   "utf16le",
                                            "ucs2",  "latin1", "binary",
                                            NULL };
static const char *const req_value[] = { "value", NULL };
static const char *const req_secret[] = { "secret", NULL };
static const char *const req_hash[] = { "algorithm", "hash", NULL };
static const char *const req_email[] = { "email", NULL };

static const vprop_t key_props[] = {
    { .name = "value", .type = T_STRING, .secret = 1 },
    { .name = "encoding", .type = T_STRING, .enums = encodings },
    { .name = NULL },
};
static const vobj_t key_obj = { key_props, req_value, 0, 0 };

static const vprop_t hash_props[] = {
    { .name = "value", .type = T_STRING, .secret = 1 },
    { .name = "encoding", .type = T_STRING, .enums = encodings },
    { .name = "digest", .type = T_STRING, .enums = digests },
    { .name = "key", .type = T_OBJECT, .obj = &key_obj },
    { .name = NULL },
};
static const vobj_t hash_obj = { hash_props, NULL, 0, 0 };

static const vprop_t salt_props[] = {
    { .name = "value", .type = T_STRING, .secret = 1 },
    { .name = "encoding", .type = T_STRING, .enums = encodings },
    { .name = "position", .type = T_STRING, .enums = positions },
    { .name = NULL },
};
static const vobj_t salt_obj = { salt_props, req_value, 0, 0 };

static const vprop_t password_props[] = {
    { .name = "encoding", .type = T_STRING, .enums = pw_encodings },
    { .name = NULL },
};
static const vobj_t password_obj = { password_props, NULL, 0, 0 };

static const vprop_t custom_props[] = {
    { .name = "algorithm", .type = T_STRING, .enums = algorithms },
    { .name = "hash", .type = T_OBJECT, .obj = &hash_obj },
    { .name = "salt", .type = T_OBJECT, .obj = &salt_obj },
    { .name = "password", .type = T_OBJECT, .obj = &password_obj },
    { .name = "keylen", .type = T_INT },
    { .name = "cost", .type = T_INT },
    { .name = "blockSize", .type = T_INT },
    { .name = "parallelization", .type = T_INT },
    { .name = NULL },
};
static const vobj_t custom_obj = { custom_props, req_hash, 1, 0 };

static const vprop_t totp_props[] = {
    { .name = "secret",
      .type = T_STRING,
      .check = check_totp,
      .check_kind = CHECK_PATTERN,
      .check_desc = "^[A-Z2-7]+$",
      .secret = 1 },
    { .name = NULL },
};
static const vobj_t totp_obj = { totp_props, req_secret, 1, 0 };

static const vprop_t phone_factor_props[] = {
    { .name = "value",
      .type = T_STRING,
      .check = check_phone,
      .check_kind = CHECK_PATTERN,
      .check_desc = "^\\+[0-9]{1,15}$" },
    { .name = NULL },
};
static const vobj_t phone_factor_obj = { phone_factor_props, req_value, 1, 0 };

static const vprop_t email_factor_props[] = {
    { .name = "value",
      .type = T_STRING,
      .check = check_email,
      .check_kind = CHECK_FORMAT,
      .check_desc = "email" },
    { .name = NULL },
};
static const vobj_t email_factor_obj = { email_factor_props, req_value, 1, 0 };

static const vprop_t factor_props[] = {
    { .name = "totp", .type = T_OBJECT, .obj = &totp_obj },
    { .name = "phone", .type = T_OBJECT, .obj = &phone_factor_obj },
    { .name = "email", .type = T_OBJECT, .obj = &email_factor_obj },
    { .name = NULL },
};
static const vobj_t factor_obj = { factor_props, NULL, 1, 1 };

static const vprop_t user_props[] = {
    { .name = "email",
      .type = T_STRING,
      .check = check_email,
      .check_kind = CHECK_FORMAT,
      .check_desc = "email" },
    { .name = "email_verified", .type = T_BOOL },
    { .name = "phone_number",
      .type = T_STRING,
      .check = check_phone,
      .check_kind = CHECK_PATTERN,
      .check_desc = "^\\+[0-9]{1,15}$" },
    { .name = "phone_verified", .type = T_BOOL },
    { .name = "user_id", .type = T_STRING, .min_len = 1, .max_len = 255 },
    { .name = "username", .type = T_STRING, .min_len = 1, .max_len = 128 },
    { .name = "given_name", .type = T_STRING, .max_len = 150 },
    { .name = "family_name", .type = T_STRING, .max_len = 150 },
    { .name = "name", .type = T_STRING, .max_len = 300 },
    { .name = "nickname", .type = T_STRING, .max_len = 300 },
    { .name = "picture", .type = T_STRING },
    { .name = "blocked", .type = T_BOOL },
    { .name = "password_hash",
      .type = T_STRING,
      .check = check_bcrypt,
      .check_kind = CHECK_PATTERN,
      .check_desc = BCRYPT_PATTERN,
      .secret = 1 },
    { .name = "custom_password_hash", .type = T_OBJECT, .obj = &custom_obj },
    { .name = "app_metadata", .type = T_OBJECT },
    { .name = "user_metadata", .type = T_OBJECT },
    { .name = "mfa_factors",
      .type = T_ARRAY,
      .obj = &factor_obj,
      .min_items = 1,
      .max_items = 10 },
    { .name = NULL },
};
static const vobj_t user_obj = { user_props, req_email, 1, 0 };

static const char *const reserved_app_keys[] = {
    "__tenant",
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
    NULL,
};

/* --- error reporting ------------------------------------------------ */

/* Records an error located at path; the message names msg_path, which is
 * the enclosing object for errors about an object's keys. */
static void add_err_in(vctx_t *cx, const char *code, const char *path,
                       const char *msg_path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_err_in(vctx_t *cx, const char *code, const char *path,
                       const char *msg_path, const char *fmt, ...)
{
    char detail[512], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (*msg_path)
        snprintf(msg, sizeof msg, "Error in %s property - %s", msg_path,
                 detail);
    else
        snprintf(msg, sizeof msg, "%s", detail);
    json_array_append_new(cx->errs, json_pack("{s:s, s:s, s:s}", "code", code,
                                              "message", msg, "path", path));
}

#define add_err(cx, code, path, ...) \
    add_err_in((cx), (code), (path), (path), __VA_ARGS__)

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static const char *const vtype_names[] = { "string", "boolean", "integer",
                                           "object", "array" };

static int integral(const json_t *v)
{
    double d = json_real_value(v);
    return isfinite(d) && !(d > floor(d)) && !(d < floor(d));
}

static int type_ok(vtype_t t, const json_t *v)
{
    switch (t) {
    case T_STRING:
        return json_is_string(v);
    case T_BOOL:
        return json_is_boolean(v);
    case T_INT:
        /* JSON Schema counts 1.0 as an integer, and so does Auth0. */
        return json_is_integer(v) || (json_is_real(v) && integral(v));
    case T_OBJECT:
        return json_is_object(v);
    case T_ARRAY:
        return json_is_array(v);
    }
    return 0;
}

/* Paths longer than the buffer are cut; they only label errors. */
static void fmt_path(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fmt_path(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static void join_path(char *out, size_t n, const char *base, const char *key)
{
    if (*base)
        fmt_path(out, n, "%s.%s", base, key);
    else
        fmt_path(out, n, "%s", key);
}

/* --- the walker ----------------------------------------------------- */

static void check_object(vctx_t *cx, const vobj_t *o, const json_t *v,
                         const char *path);

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

/* Length in characters, as JSON Schema and Auth0 count it. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void check_string(vctx_t *cx, const vprop_t *p, const char *s,
                         const char *path)
{
    size_t len = chars(s);
    if (p->enums && !in_list(p->enums, s)) {
        add_err(cx, "ENUM_MISMATCH", path, "No enum match for: \"%.100s\"", s);
        return;
    }
    if (len < p->min_len) {
        add_err(cx, "MIN_LENGTH", path,
                "String is too short (%zu chars), minimum %zu", len,
                p->min_len);
        return;
    }
    if (p->max_len && len > p->max_len) {
        add_err(cx, "MAX_LENGTH", path,
                "String is too long (%zu chars), maximum %zu", len, p->max_len);
        return;
    }
    if (!p->check || p->check(s))
        return;
    const char *shown = p->secret ? REDACTED : s;
    if (p->check_kind == CHECK_PATTERN)
        add_err(cx, "PATTERN", path, "String does not match pattern %s: %.100s",
                p->check_desc, shown);
    else
        add_err(cx, cx->opts->format_code, path,
                "Object didn't pass validation for format %s: %.100s",
                p->check_desc, shown);
}

static void check_array(vctx_t *cx, const vprop_t *p, const json_t *v,
                        const char *path)
{
    size_t n = json_array_size(v);
    if (n < p->min_items) {
        add_err(cx, "ARRAY_LENGTH_SHORT", path,
                "Array is too short (%zu), minimum %zu", n, p->min_items);
        return;
    }
    if (p->max_items && n > p->max_items) {
        add_err(cx, "ARRAY_LENGTH_LONG", path,
                "Array is too long (%zu), maximum %zu", n, p->max_items);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char sub[512];
        const json_t *item = json_array_get(v, i);
        fmt_path(sub, sizeof sub, "%s[%zu]", path, i);
        if (!json_is_object(item))
            add_err(cx, "INVALID_TYPE", sub,
                    "Expected type object but found type %s", type_name(item));
        else
            check_object(cx, p->obj, item, sub);
    }
}

static void check_value(vctx_t *cx, const vprop_t *p, const json_t *v,
                        const char *path)
{
    if (!type_ok(p->type, v)) {
        add_err(cx, "INVALID_TYPE", path, "Expected type %s but found type %s",
                vtype_names[p->type], type_name(v));
        return;
    }
    if (p->type == T_STRING)
        check_string(cx, p, json_string_value(v), path);
    else if (p->type == T_OBJECT && p->obj)
        check_object(cx, p->obj, v, path);
    else if (p->type == T_ARRAY)
        check_array(cx, p, v, path);
}

static const vprop_t *find_prop(const vobj_t *o, const char *key)
{
    for (const vprop_t *p = o->props; p->name; p++)
        if (strcmp(p->name, key) == 0)
            return p;
    return NULL;
}

static void check_object(vctx_t *cx, const vobj_t *o, const json_t *v,
                         const char *path)
{
    char sub[512];
    for (const char *const *r = o->required; r && *r; r++) {
        if (json_object_get(v, *r))
            continue;
        join_path(sub, sizeof sub, path, *r);
        add_err_in(cx, "OBJECT_REQUIRED", sub, path,
                   "Missing required property: %s", *r);
    }
    if (o->max_props && json_object_size(v) > o->max_props)
        add_err(cx, "OBJECT_PROPERTIES_MAXIMUM", path,
                "Too many properties defined (%zu), maximum %zu",
                json_object_size(v), o->max_props);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        const vprop_t *p = find_prop(o, key);
        join_path(sub, sizeof sub, path, key);
        if (p)
            check_value(cx, p, val, sub);
        else if (o->closed)
            add_err_in(cx, cx->opts->additional_code, sub, path,
                       "Additional properties not allowed: %.100s", key);
    }
}

/* --- rules outside the schema --------------------------------------- */

static void check_meta_keys(vctx_t *cx, const json_t *v, const char *path)
{
    char sub[512];
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            fmt_path(sub, sizeof sub, "%s[%zu]", path, i);
            check_meta_keys(cx, json_array_get(v, i), sub);
        }
        return;
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        join_path(sub, sizeof sub, path, key);
        if (strpbrk(key, ".$"))
            add_err(cx, "NOT_PASSED", sub,
                    "Fields with \"%c\" are not allowed in metadata "
                    "field names",
                    strchr(key, '.') ? '.' : '$');
        else if (json_is_object(val) || json_is_array(val))
            check_meta_keys(cx, val, sub);
    }
}

static void check_reserved(vctx_t *cx, const json_t *app)
{
    char sub[512];
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)app, key, val)
    {
        if (!in_list(reserved_app_keys, key))
            continue;
        join_path(sub, sizeof sub, "app_metadata", key);
        add_err(cx, "NOT_PASSED", sub,
                "%s is a reserved attribute and cannot be set in "
                "app_metadata",
                key);
    }
}

static const char *hash_encoding_rule(const char *alg)
{
    if (strcmp(alg, "argon2") == 0 || strcmp(alg, "bcrypt") == 0 ||
        strcmp(alg, "ldap") == 0 || strcmp(alg, "pbkdf2") == 0)
        return "utf8";
    return "hex|base64";
}

static void check_custom_hash(vctx_t *cx, const json_t *c)
{
    const char *alg = json_string_value(json_object_get(c, "algorithm"));
    const json_t *hash = json_object_get(c, "hash");
    if (!alg || !in_list(algorithms, alg) || !json_is_object(hash))
        return;
    const char *enc = json_string_value(json_object_get(hash, "encoding"));
    const char *rule = hash_encoding_rule(alg);
    if (enc && !strstr(rule, enc))
        add_err(cx, "NOT_PASSED", "custom_password_hash.hash.encoding",
                "encoding %s is not supported by algorithm %s (use %s)", enc,
                alg, rule);
    if (strcmp(alg, "hmac") == 0 &&
        (!json_object_get(hash, "digest") || !json_object_get(hash, "key")))
        add_err(cx, "NOT_PASSED", "custom_password_hash.hash",
                "algorithm hmac requires hash.digest and hash.key");
    if (strcmp(alg, "scrypt") == 0 && !json_object_get(c, "keylen"))
        add_err(cx, "NOT_PASSED", "custom_password_hash.keylen",
                "algorithm scrypt requires keylen");
    if (!json_object_get(hash, "value"))
        add_err_in(cx, "OBJECT_REQUIRED", "custom_password_hash.hash.value",
                   "custom_password_hash.hash",
                   "Missing required property: value");
}

static void check_rules(vctx_t *cx, const json_t *user)
{
    const json_t *app = json_object_get(user, "app_metadata");
    const json_t *meta = json_object_get(user, "user_metadata");
    const json_t *custom = json_object_get(user, "custom_password_hash");
    if (json_object_get(user, "password_hash") && custom)
        add_err(cx, "NOT_PASSED", "custom_password_hash",
                "password_hash and custom_password_hash are mutually "
                "exclusive");
    if (json_is_object(app)) {
        check_reserved(cx, app);
        check_meta_keys(cx, app, "app_metadata");
    }
    if (json_is_object(meta))
        check_meta_keys(cx, meta, "user_metadata");
    if (json_is_object(custom))
        check_custom_hash(cx, custom);
}

json_t *validate_user(const json_t *user, const validate_opts_t *opts)
{
    vctx_t cx = { opts, json_array() };
    if (!json_is_object(user)) {
        add_err(&cx, "INVALID_TYPE", "",
                "Expected type object but found type %s", type_name(user));
        return cx.errs;
    }
    check_object(&cx, &user_obj, user, "");
    check_rules(&cx, user);
    return cx.errs;
}

json_t *validate_username(const json_t *user, const validate_opts_t *opts,
                          int required, size_t min, size_t max)
{
    vctx_t cx = { opts, json_array() };
    const char *s = json_string_value(json_object_get(user, "username"));
    if (!s && required)
        add_err_in(&cx, "OBJECT_REQUIRED", "username", "",
                   "Missing required property: username");
    if (!s)
        return cx.errs;
    size_t len = chars(s);
    if (len < min)
        add_err(&cx, "MIN_LENGTH", "username",
                "String is too short (%zu chars), minimum %zu", len, min);
    else if (len > max)
        add_err(&cx, "MAX_LENGTH", "username",
                "String is too long (%zu chars), maximum %zu", len, max);
    return cx.errs;
}

/* --- redaction ------------------------------------------------------ */

static void redact_at(json_t *obj, const char *key)
{
    if (json_is_object(obj) && json_object_get(obj, key))
        json_object_set_new(obj, key, json_string(REDACTED));
}

json_t *validate_redact(const json_t *user)
{
    json_t *copy = json_deep_copy(user);
    if (!json_is_object(copy))
        return copy;
    redact_at(copy, "password_hash");
    json_t *custom = json_object_get(copy, "custom_password_hash");
    json_t *hash = json_object_get(custom, "hash");
    redact_at(hash, "value");
    redact_at(json_object_get(hash, "key"), "value");
    redact_at(json_object_get(custom, "salt"), "value");
    json_t *factors = json_object_get(copy, "mfa_factors");
    for (size_t i = 0; i < json_array_size(factors); i++)
        redact_at(json_object_get(json_array_get(factors, i), "totp"),
                  "secret");
    return copy;
}
