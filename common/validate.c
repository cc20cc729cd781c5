/* validate: a hand-written checker for the one schema a0migrate sends, the
 * official bulk-import user schema, plus the rules Auth0 documents beside
 * it (bcrypt prefixes and cost for password_hash, per-algorithm rules of
 * custom_password_hash, the two hash fields being exclusive). It owns no
 * state. Checks run in a fixed order and stop at the first failure, so the
 * same object always yields the same code and path. */
#include "validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PATH_MAX_BYTES 256

/* Where a failure is reported. */
typedef struct {
    char *code;
    size_t code_size;
    char *path;
    size_t path_size;
    char *msg;
    size_t msg_size;
} verr_t;

typedef int (*check_fn)(const json_t *v, const char *path, verr_t *e);

/* One property of an object schema. */
typedef struct {
    const char *name;
    check_fn check;
} prop_t;

static void copy_out(char *dst, size_t size, const char *src)
{
    if (!dst || size == 0)
        return;
    snprintf(dst, size, "%s", src);
}

static int fail(verr_t *e, const char *code, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static int fail(verr_t *e, const char *code, const char *path, const char *fmt,
                ...)
{
    copy_out(e->code, e->code_size, code);
    copy_out(e->path, e->path_size, path);
    if (e->msg && e->msg_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, e->msg_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Long paths are cut short (the parts bounded so the whole fits in
 * PATH_MAX_BYTES), which only shortens messages. */
static void path_key(char *out, const char *base, const char *key)
{
    if (*base)
        snprintf(out, PATH_MAX_BYTES, "%.190s.%.60s", base, key);
    else
        snprintf(out, PATH_MAX_BYTES, "%.250s", key);
}

static void path_index(char *out, const char *base, size_t i)
{
    snprintf(out, PATH_MAX_BYTES, "%.220s[%zu]", base, i);
}

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
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Type check for one of the schema's type names. */
/* A JSON number with no fractional part: JSON Schema counts 64.0 as an
 * integer, and so does Auth0's JavaScript. */
static int integral(const json_t *v)
{
    if (json_is_integer(v))
        return 1;
    double d = json_real_value(v);
    return json_is_real(v) && d > -9.2e18 && d < 9.2e18 &&
           !(fabs(d - trunc(d)) > 0.0);
}

/* The value of an integral number (see integral), else 0. */
static json_int_t int_value(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    double d = json_real_value(v);
    return integral(v) ? (json_int_t)d : 0;
}

static int want(const json_t *v, const char *type, const char *path, verr_t *e)
{
    const char *have = type_name(v);
    if (strcmp(have, type) == 0)
        return 0;
    if (strcmp(type, "integer") == 0 && integral(v))
        return 0;
    return fail(e, "INVALID_TYPE", path, "Expected type %s but found type %s",
                type, have);
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static int want_enum(const json_t *v, const char *const *list, const char *path,
                     verr_t *e)
{
    if (want(v, "string", path, e) < 0)
        return -1;
    if (in_list(json_string_value(v), list))
        return 0;
    return fail(e, "ENUM_MISMATCH", path,
                "Value is not one of the allowed "
                "values");
}

/* Checks the members of obj against props: unknown names fail when
 * closed, known ones run their check, in the object's own key order. */
static int check_members(const json_t *obj, const prop_t *props, int closed,
                         const char *path, verr_t *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const prop_t *p = props;
        while (p->name && strcmp(p->name, key) != 0)
            p++;
        char sub[PATH_MAX_BYTES];
        path_key(sub, path, key);
        if (!p->name && closed)
            return fail(e, "OBJECT_ADDITIONAL_PROPERTIES", sub,
                        "Additional property is not allowed");
        if (p->name && p->check && p->check(v, sub, e) < 0)
            return -1;
    }
    return 0;
}

static int check_required(const json_t *obj, const char *const *names,
                          const char *path, verr_t *e)
{
    for (; *names; names++) {
        if (json_object_get(obj, *names))
            continue;
        char sub[PATH_MAX_BYTES];
        path_key(sub, path, *names);
        return fail(e, "OBJECT_REQUIRED", sub, "Missing required property");
    }
    return 0;
}

/* ---- formats and patterns ---- */

static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c >= 0x80 ||
           strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int local_part_ok(const char *s, size_t n)
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

static int label_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c >= 0x80;
}

static int label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!label_char_ok((unsigned char)s[i]))
            return 0;
    return 1;
}

/* The top-level label: alphabetic (UTF-8 letters allowed) of 2+ bytes, or
 * an ASCII-compatible "xn--" label. */
static int tld_ok(const char *s, size_t n)
{
    if (n >= 5 && strncmp(s, "xn--", 4) == 0)
        return 1;
    if (n < 2)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80))
            return 0;
    }
    return 1;
}

static int domain_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (!label_ok(s + start, i - start))
            return 0;
        if (i == n && !tld_ok(s + start, i - start))
            return 0;
        labels++;
        start = i + 1;
    }
    return labels >= 2;
}

int validate_email_format(const char *s)
{
    if (!s)
        return -1;
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n > 254 || !at || strchr(at + 1, '@'))
        return -1;
    size_t local = (size_t)(at - s);
    if (!local_part_ok(s, local) || !domain_ok(at + 1, n - local - 1))
        return -1;
    return 0;
}

static int is_bcrypt_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '/';
}

int validate_bcrypt_parse(const char *s, char *variant, int *cost)
{
    if (!s || strncmp(s, "$2", 2) != 0)
        return -1;
    const char *p = s + 2;
    char v = '\0';
    if (*p && strchr("abxy", *p))
        v = *p++;
    if (p[0] != '$' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
        p[3] != '$')
        return -1;
    int c = (p[1] - '0') * 10 + (p[2] - '0');
    p += 4;
    size_t n = strlen(p);
    if (n != 53)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!is_bcrypt_char((unsigned char)p[i]))
            return -1;
    if (variant)
        *variant = v;
    if (cost)
        *cost = c;
    return 0;
}

static int want_email(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "string", path, e) < 0)
        return -1;
    if (validate_email_format(json_string_value(v)) == 0)
        return 0;
    return fail(e, "FORMAT", path,
                "Object didn't pass validation for format email");
}

/* Full-string match of ^\+[0-9]{1,15}$. */
static int phone_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 16 || s[0] != '+')
        return 0;
    return strspn(s + 1, "0123456789") == n - 1;
}

/* ---- root properties ---- */

static int check_string(const json_t *v, const char *path, verr_t *e)
{
    return want(v, "string", path, e);
}

static int check_bool(const json_t *v, const char *path, verr_t *e)
{
    return want(v, "boolean", path, e);
}

static int check_object(const json_t *v, const char *path, verr_t *e)
{
    return want(v, "object", path, e);
}

static int check_email(const json_t *v, const char *path, verr_t *e)
{
    return want_email(v, path, e);
}

/* password_hash accepts bcrypt $2a$/$2b$ with 10 rounds only. */
static int check_password_hash(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "string", path, e) < 0)
        return -1;
    char variant;
    int cost;
    if (validate_bcrypt_parse(json_string_value(v), &variant, &cost) == 0 &&
        (variant == 'a' || variant == 'b') && cost == 10)
        return 0;
    return fail(e, "PATTERN", path,
                "String does not match pattern of a bcrypt $2a$/$2b$ hash "
                "with 10 rounds");
}

/* ---- custom_password_hash ---- */

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

static int check_algorithm(const json_t *v, const char *path, verr_t *e)
{
    return want_enum(v, algorithms, path, e);
}

static int check_encoding(const json_t *v, const char *path, verr_t *e)
{
    return want_enum(v, encodings, path, e);
}

static int check_digest(const json_t *v, const char *path, verr_t *e)
{
    return want_enum(v, digests, path, e);
}

static int check_position(const json_t *v, const char *path, verr_t *e)
{
    return want_enum(v, positions, path, e);
}

static int check_pw_encoding(const json_t *v, const char *path, verr_t *e)
{
    return want_enum(v, pw_encodings, path, e);
}

static int check_integer(const json_t *v, const char *path, verr_t *e)
{
    return want(v, "integer", path, e);
}

static const prop_t key_props[] = { { "value", check_string },
                                    { "encoding", check_encoding },
                                    { NULL, NULL } };
static const char *const value_required[] = { "value", NULL };

static int check_key(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "object", path, e) < 0 ||
        check_members(v, key_props, 0, path, e) < 0)
        return -1;
    return check_required(v, value_required, path, e);
}

static const prop_t hash_props[] = { { "value", check_string },
                                     { "encoding", check_encoding },
                                     { "digest", check_digest },
                                     { "key", check_key },
                                     { NULL, NULL } };

static int check_hash(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "object", path, e) < 0)
        return -1;
    return check_members(v, hash_props, 0, path, e);
}

static const prop_t salt_props[] = { { "value", check_string },
                                     { "encoding", check_encoding },
                                     { "position", check_position },
                                     { NULL, NULL } };

static int check_salt(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "object", path, e) < 0 ||
        check_members(v, salt_props, 0, path, e) < 0)
        return -1;
    return check_required(v, value_required, path, e);
}

static const prop_t password_props[] = { { "encoding", check_pw_encoding },
                                         { NULL, NULL } };

static int check_password(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "object", path, e) < 0)
        return -1;
    return check_members(v, password_props, 0, path, e);
}

static const prop_t custom_props[] = { { "algorithm", check_algorithm },
                                       { "hash", check_hash },
                                       { "salt", check_salt },
                                       { "password", check_password },
                                       { "keylen", check_integer },
                                       { "cost", check_integer },
                                       { "blockSize", check_integer },
                                       { "parallelization", check_integer },
                                       { NULL, NULL } };
static const char *const custom_required[] = { "algorithm", "hash", NULL };

static const char *const utf8_only[] = { "utf8", NULL };
static const char *const hex_base64[] = { "hex", "base64", NULL };

/* What each algorithm allows beyond the schema's shapes. */
typedef struct {
    const char *name;
    const char *const *encodings; /* allowed hash.encoding values */
    int salt_allowed;
    const char *value_prefix; /* hash.value must start so, or NULL */
} algo_rule_t;

static const algo_rule_t algo_rules[] = {
    { "argon2", utf8_only, 0, "$argon2" },
    { "bcrypt", utf8_only, 1, "$2" },
    { "hmac", hex_base64, 1, NULL },
    { "ldap", utf8_only, 0, "{" },
    { "md4", hex_base64, 1, NULL },
    { "md5", hex_base64, 1, NULL },
    { "sha1", hex_base64, 1, NULL },
    { "sha256", hex_base64, 1, NULL },
    { "sha512", hex_base64, 1, NULL },
    { "pbkdf2", utf8_only, 0, "$pbkdf2-" },
    { "scrypt", hex_base64, 1, NULL },
};

static const algo_rule_t *algo_rule(const char *name)
{
    for (size_t i = 0; i < sizeof algo_rules / sizeof *algo_rules; i++)
        if (strcmp(algo_rules[i].name, name) == 0)
            return &algo_rules[i];
    return NULL;
}

/* LDAP values carry an RFC 2307 scheme; crypt is not accepted. */
static int ldap_scheme_ok(const char *s)
{
    static const char *const schemes[] = {
        "{MD5}",    "{SMD5}",    "{SHA}",    "{SSHA}",
        "{SHA256}", "{SSHA256}", "{SHA384}", "{SSHA384}",
        "{SHA512}", "{SSHA512}", NULL
    };
    for (const char *const *p = schemes; *p; p++)
        if (strncasecmp(s, *p, strlen(*p)) == 0)
            return 1;
    return 0;
}

static int hash_value_ok(const algo_rule_t *r, const char *value)
{
    if (strcmp(r->name, "bcrypt") == 0) {
        char variant;
        int cost;
        return validate_bcrypt_parse(value, &variant, &cost) == 0 && variant &&
               strchr("aby", variant) && cost >= 4 && cost <= 31;
    }
    if (strcmp(r->name, "ldap") == 0)
        return ldap_scheme_ok(value);
    return !r->value_prefix ||
           strncmp(value, r->value_prefix, strlen(r->value_prefix)) == 0;
}

static int check_hmac_parts(const json_t *c, const char *path, verr_t *e)
{
    const json_t *hash = json_object_get(c, "hash");
    char sub[PATH_MAX_BYTES];
    path_key(sub, path, "hash");
    static const char *const hmac_required[] = { "digest", "key", NULL };
    return check_required(hash, hmac_required, sub, e);
}

static int check_scrypt_parts(const json_t *c, const char *path, verr_t *e)
{
    static const char *const scrypt_required[] = { "keylen", NULL };
    return check_required(c, scrypt_required, path, e);
}

/* hash.digest and hash.key belong to hmac alone. */
static int check_hmac_only(const json_t *c, const char *algo, const char *path,
                           verr_t *e)
{
    const json_t *hash = json_object_get(c, "hash");
    if (strcmp(algo, "hmac") == 0)
        return check_hmac_parts(c, path, e);
    const char *bad = json_object_get(hash, "digest") ? "digest"
                      : json_object_get(hash, "key")  ? "key"
                                                      : NULL;
    if (!bad)
        return 0;
    char sub[PATH_MAX_BYTES];
    snprintf(sub, sizeof sub, "%s.hash.%s", path, bad);
    return fail(e, "NOT_PASSED", sub, "Only allowed with algorithm hmac");
}

static int check_hash_value(const json_t *c, const algo_rule_t *r,
                            const char *path, verr_t *e)
{
    const json_t *hash = json_object_get(c, "hash");
    char sub[PATH_MAX_BYTES];
    path_key(sub, path, "hash");
    static const char *const need_value[] = { "value", NULL };
    if (check_required(hash, need_value, sub, e) < 0)
        return -1;
    path_key(sub, path, "hash.value");
    if (!hash_value_ok(r, json_string_value(json_object_get(hash, "value"))))
        return fail(e, "PATTERN", sub,
                    "Hash value is not in the format "
                    "algorithm %s requires",
                    r->name);
    const json_t *enc = json_object_get(hash, "encoding");
    path_key(sub, path, "hash.encoding");
    if (enc && !in_list(json_string_value(enc), r->encodings))
        return fail(e, "NOT_PASSED", sub,
                    "Encoding not allowed for algorithm %s", r->name);
    return 0;
}

static int check_scrypt_numbers(const json_t *c, const char *path, verr_t *e)
{
    static const char *const positive[] = { "keylen", "blockSize",
                                            "parallelization", NULL };
    char sub[PATH_MAX_BYTES];
    for (const char *const *p = positive; *p; p++) {
        const json_t *v = json_object_get(c, *p);
        path_key(sub, path, *p);
        if (v && int_value(v) <= 0)
            return fail(e, "MINIMUM", sub, "Value must be greater than 0");
    }
    const json_t *cost = json_object_get(c, "cost");
    json_int_t n = int_value(cost);
    path_key(sub, path, "cost");
    if (cost && (n <= 1 || (n & (n - 1)) != 0))
        return fail(e, "NOT_PASSED", sub,
                    "Cost must be a power of two greater than 1");
    return 0;
}

/* Per-algorithm rules, run after the shapes have passed. */
static int check_algorithm_rules(const json_t *c, const char *path, verr_t *e)
{
    const char *algo = json_string_value(json_object_get(c, "algorithm"));
    const algo_rule_t *r = algo_rule(algo);
    char sub[PATH_MAX_BYTES];
    if (check_hash_value(c, r, path, e) < 0 ||
        check_hmac_only(c, algo, path, e) < 0)
        return -1;
    path_key(sub, path, "salt");
    if (!r->salt_allowed && json_object_get(c, "salt"))
        return fail(e, "NOT_PASSED", sub, "Salt not allowed for algorithm %s",
                    algo);
    if (strcmp(algo, "scrypt") == 0 && check_scrypt_parts(c, path, e) < 0)
        return -1;
    return check_scrypt_numbers(c, path, e);
}

static int check_custom_hash(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "object", path, e) < 0 ||
        check_members(v, custom_props, 1, path, e) < 0 ||
        check_required(v, custom_required, path, e) < 0)
        return -1;
    return check_algorithm_rules(v, path, e);
}

/* ---- custom_password_hash plausibility ---- */

/* Digest size in bytes of a digest or fixed-size algorithm name, else 0. */
static size_t digest_bytes(const char *algo)
{
    static const struct {
        const char *name;
        size_t bytes;
    } sizes[] = { { "md4", 16 },    { "md5", 16 },    { "ripemd160", 20 },
                  { "sha1", 20 },   { "sha224", 28 }, { "sha256", 32 },
                  { "sha384", 48 }, { "sha512", 64 }, { "whirlpool", 64 } };

    for (size_t i = 0; algo && i < sizeof sizes / sizeof *sizes; i++)
        if (strcmp(sizes[i].name, algo) == 0)
            return sizes[i].bytes;
    return 0;
}

static int all_of(const char *s, const char *set)
{
    return strspn(s, set) == strlen(s);
}

#define HEX_DIGITS "0123456789abcdefABCDEF"
#define B64_DIGITS \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
#define PHC_B64 \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/* Decoded size of n bytes of base64 text from alphabet set (padding
 * optional), or -1 when it is not base64. */
static long base64_span(const char *s, size_t n, const char *set)
{
    size_t pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    size_t body = n - pad;
    for (size_t i = 0; i < body; i++)
        if (!s[i] || !strchr(set, s[i]))
            return -1;
    if (body % 4 == 1 || (pad && n % 4 != 0))
        return -1;
    return (long)(body * 3 / 4);
}

static long base64_bytes(const char *s)
{
    return base64_span(s, strlen(s), B64_DIGITS);
}

static const char *const VALUE_PATH = "custom_password_hash.hash.value";

/* Checks value against encoding; want is the expected decoded size or 0
 * when unknown. */
static int encoding_fits(const char *value, const char *encoding, size_t want,
                         const char *path, verr_t *e)
{
    size_t n = strlen(value);
    if (strcmp(encoding, "hex") == 0) {
        if (!all_of(value, HEX_DIGITS) || n % 2)
            return fail(e, "NOT_PASSED", path, "Value is not hex");
        if (want && n != 2 * want)
            return fail(e, "NOT_PASSED", path,
                        "Value length does not match the digest size");
        return 0;
    }
    if (strcmp(encoding, "base64") != 0)
        return 0;
    if (want && n == 2 * want && all_of(value, HEX_DIGITS))
        return fail(e, "NOT_PASSED", path,
                    "Value looks hex but is declared "
                    "base64");
    long bytes = base64_bytes(value);
    if (bytes < 0)
        return fail(e, "NOT_PASSED", path, "Value is not base64");
    if (want && (size_t)bytes != want)
        return fail(e, "NOT_PASSED", path,
                    "Value length does not match the digest size");
    return 0;
}

/* ---- PHC strings: $id[$v=..][$param=value,...][$salt[$hash]] ---- */

typedef struct {
    const char *field[6]; /* the '$'-separated fields after the first */
    size_t len[6];
    size_t n;
} phc_t;

static int phc_split(const char *s, phc_t *p)
{
    p->n = 0;
    if (*s != '$')
        return -1;
    for (s++; p->n < 6;) {
        const char *end = strchr(s, '$');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == 0)
            return -1;
        p->field[p->n] = s;
        p->len[p->n++] = len;
        if (!end)
            return 0;
        s = end + 1;
    }
    return -1;
}

/* The value of name=digits in a "a=1,b=2" field: -1 when absent, -2 when
 * not a positive decimal number. Names that are not single letters of
 * known make *unknown true. */
static long phc_param(const char *f, size_t len, char name, const char *known,
                      int *unknown)
{
    long found = -1;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && f[end] != ',')
            end++;
        if (end - i < 3 || f[i + 1] != '=' || !strchr(known, f[i]))
            *unknown = 1;
        else if (f[i] == name)
            found = 0;
        for (size_t k = i + 2; found >= 0 && f[i] == name && k < end; k++) {
            if (f[k] < '0' || f[k] > '9' || found > 100000000L)
                return -2;
            found = found * 10 + (f[k] - '0');
        }
        if (f[i] == name && found == 0)
            return -2;
        i = end + 1;
    }
    return found;
}

static int argon2_phc(const char *v, verr_t *e)
{
    phc_t p;
    int ok = phc_split(v, &p) == 0;
    int has_v =
        ok && p.n > 1 && p.len[1] > 2 && strncmp(p.field[1], "v=", 2) == 0;
    if (!ok || p.n != (has_v ? 5u : 4u))
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "Value is not a PHC string "
                    "$argon2id$v=19$m=..,t=..,p=..$salt$hash");
    size_t i = has_v ? 2 : 1;
    if (!((p.len[0] == 7 && strncmp(p.field[0], "argon2i", 7) == 0) ||
          (p.len[0] == 7 && strncmp(p.field[0], "argon2d", 7) == 0) ||
          (p.len[0] == 8 && strncmp(p.field[0], "argon2id", 8) == 0)))
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "Argon2 variant is not argon2i, argon2d or argon2id");
    if (has_v && !(p.len[1] == 4 && (strncmp(p.field[1], "v=19", 4) == 0 ||
                                     strncmp(p.field[1], "v=16", 4) == 0)))
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "Argon2 version is not v=16 or v=19");
    int unknown = 0;
    if (phc_param(p.field[i], p.len[i], 'm', "mtp", &unknown) < 1 ||
        phc_param(p.field[i], p.len[i], 't', "mtp", &unknown) < 1 ||
        phc_param(p.field[i], p.len[i], 'p', "mtp", &unknown) < 1 || unknown)
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "Argon2 parameters are not m=..,t=..,p=.. with positive "
                    "numbers");
    long salt = base64_span(p.field[i + 1], p.len[i + 1], PHC_B64);
    long hash = base64_span(p.field[i + 2], p.len[i + 2], PHC_B64);
    if (salt < 8 || hash < 4)
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "Argon2 salt or hash is not base64 of a plausible size");
    return 0;
}

static int pbkdf2_phc(const char *v, verr_t *e)
{
    phc_t p;
    if (phc_split(v, &p) < 0 || p.n < 3 || p.n > 4 || p.len[0] < 8 ||
        strncmp(p.field[0], "pbkdf2-", 7) != 0)
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "Value is not a PHC string "
                    "$pbkdf2-<digest>$i=..,l=..$salt$hash");
    for (size_t k = 7; k < p.len[0]; k++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", p.field[0][k]))
            return fail(e, "NOT_PASSED", VALUE_PATH,
                        "PBKDF2 digest name is not a digest name");
    size_t i = p.n == 4 ? 2 : 1;
    int unknown = 0;
    long iter =
        p.n == 4 ? phc_param(p.field[1], p.len[1], 'i', "il", &unknown) : -1;
    long keylen =
        p.n == 4 ? phc_param(p.field[1], p.len[1], 'l', "il", &unknown) : -1;
    if (iter == -2 || keylen == -2 || unknown)
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "PBKDF2 parameters are not i=..,l=.. with positive "
                    "numbers");
    long salt = base64_span(p.field[i], p.len[i], PHC_B64);
    long hash = base64_span(p.field[i + 1], p.len[i + 1], PHC_B64);
    if (salt < 1 || hash < 1)
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "PBKDF2 salt or hash is not base64");
    if (hash != (keylen > 0 ? keylen : 64))
        return fail(e, "NOT_PASSED", VALUE_PATH,
                    "PBKDF2 hash length does not match l (default 64)");
    return 0;
}

/* {SCHEME}base64: the digest size of the scheme, more with a salt. */
static int ldap_value(const char *v, verr_t *e)
{
    static const struct {
        const char *scheme;
        size_t bytes;
        int salted;
    } schemes[] = { { "{MD5}", 16, 0 },    { "{SMD5}", 16, 1 },
                    { "{SHA}", 20, 0 },    { "{SSHA}", 20, 1 },
                    { "{SHA256}", 32, 0 }, { "{SSHA256}", 32, 1 },
                    { "{SHA384}", 48, 0 }, { "{SSHA384}", 48, 1 },
                    { "{SHA512}", 64, 0 }, { "{SSHA512}", 64, 1 } };

    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        size_t sl = strlen(schemes[i].scheme);
        if (strncasecmp(v, schemes[i].scheme, sl) != 0)
            continue;
        long bytes = base64_bytes(v + sl);
        if (bytes < 0)
            return fail(e, "NOT_PASSED", VALUE_PATH,
                        "LDAP value is not base64 after its scheme");
        if (schemes[i].salted ? (size_t)bytes <= schemes[i].bytes
                              : (size_t)bytes != schemes[i].bytes)
            return fail(e, "NOT_PASSED", VALUE_PATH,
                        "LDAP value length does not match its scheme");
        return 0;
    }
    return 0;
}

/* key.value and salt.value against their own encodings. */
static int part_encoding(const json_t *part, const char *path, verr_t *e)
{
    const char *value = json_string_value(json_object_get(part, "value"));
    const char *enc = json_string_value(json_object_get(part, "encoding"));
    if (!value || !enc)
        return 0;
    return encoding_fits(value, enc, 0, path, e);
}

/* Per algorithm: the value against its declared form. */
static int value_fits(const json_t *cph, const char *algo, const char *value,
                      verr_t *e)
{
    const json_t *hash = json_object_get(cph, "hash");
    const char *enc = json_string_value(json_object_get(hash, "encoding"));
    if (strcmp(algo, "argon2") == 0)
        return argon2_phc(value, e);
    if (strcmp(algo, "pbkdf2") == 0)
        return pbkdf2_phc(value, e);
    if (strcmp(algo, "ldap") == 0)
        return ldap_value(value, e);
    if (strcmp(algo, "hmac") == 0 &&
        part_encoding(json_object_get(hash, "key"),
                      "custom_password_hash.hash.key.value", e) < 0)
        return -1;
    if (!enc)
        return 0;
    size_t want =
        digest_bytes(strcmp(algo, "hmac") == 0
                         ? json_string_value(json_object_get(hash, "digest"))
                         : algo);
    json_int_t keylen = int_value(json_object_get(cph, "keylen"));
    if (strcmp(algo, "scrypt") == 0)
        want = keylen > 0 ? (size_t)keylen : 0;
    return encoding_fits(value, enc, want, VALUE_PATH, e);
}

int validate_hash_encoding(const json_t *cph, char *path, size_t path_size,
                           char *msg, size_t msg_size)
{
    verr_t e = { NULL, 0, path, path_size, msg, msg_size };
    const char *algo = json_string_value(json_object_get(cph, "algorithm"));
    const json_t *hash = json_object_get(cph, "hash");
    const char *value = json_string_value(json_object_get(hash, "value"));
    const json_t *salt = json_object_get(cph, "salt");
    if (json_is_object(salt) && !json_object_get(salt, "position"))
        return fail(&e, "NOT_PASSED", "custom_password_hash.salt.position",
                    "Salt position must be stated, not left to the default");
    if (json_is_object(salt) &&
        part_encoding(salt, "custom_password_hash.salt.value", &e) < 0)
        return -1;
    if (!algo || !value)
        return 0;
    return value_fits(cph, algo, value, &e);
}

/* ---- mfa_factors ---- */

static int check_totp_secret(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "string", path, e) < 0)
        return -1;
    const char *s = json_string_value(v);
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == strlen(s))
        return 0;
    return fail(e, "PATTERN", path,
                "String does not match pattern "
                "^[A-Z2-7]+$");
}

static int check_phone_value(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "string", path, e) < 0)
        return -1;
    if (phone_ok(json_string_value(v)))
        return 0;
    return fail(e, "PATTERN", path,
                "String does not match pattern "
                "^\\+[0-9]{1,15}$");
}

static const prop_t totp_props[] = { { "secret", check_totp_secret },
                                     { NULL, NULL } };
static const prop_t phone_props[] = { { "value", check_phone_value },
                                      { NULL, NULL } };
static const prop_t email_props[] = { { "value", check_email },
                                      { NULL, NULL } };
static const char *const secret_required[] = { "secret", NULL };

static int check_factor_part(const json_t *v, const prop_t *props,
                             const char *const *required, const char *path,
                             verr_t *e)
{
    if (want(v, "object", path, e) < 0 ||
        check_members(v, props, 1, path, e) < 0)
        return -1;
    return check_required(v, required, path, e);
}

static int check_totp(const json_t *v, const char *path, verr_t *e)
{
    return check_factor_part(v, totp_props, secret_required, path, e);
}

static int check_phone_factor(const json_t *v, const char *path, verr_t *e)
{
    return check_factor_part(v, phone_props, value_required, path, e);
}

static int check_email_factor(const json_t *v, const char *path, verr_t *e)
{
    return check_factor_part(v, email_props, value_required, path, e);
}

static const prop_t factor_props[] = { { "totp", check_totp },
                                       { "phone", check_phone_factor },
                                       { "email", check_email_factor },
                                       { NULL, NULL } };

static int check_factor(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "object", path, e) < 0)
        return -1;
    if (json_object_size(v) > 1)
        return fail(e, "OBJECT_PROPERTIES_MAXIMUM", path,
                    "Too many properties defined, maximum 1");
    return check_members(v, factor_props, 1, path, e);
}

static int check_mfa_factors(const json_t *v, const char *path, verr_t *e)
{
    if (want(v, "array", path, e) < 0)
        return -1;
    size_t n = json_array_size(v);
    if (n < 1)
        return fail(e, "ARRAY_LENGTH_SHORT", path,
                    "Array is too short, minimum 1");
    if (n > 10)
        return fail(e, "ARRAY_LENGTH_LONG", path,
                    "Array is too long, maximum 10");
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX_BYTES];
        path_index(sub, path, i);
        if (check_factor(json_array_get(v, i), sub, e) < 0)
            return -1;
    }
    return 0;
}

/* ---- root ---- */

static const prop_t root_props[] = {
    { "email", check_email },
    { "email_verified", check_bool },
    { "phone_number", check_string },
    { "phone_verified", check_bool },
    { "user_id", check_string },
    { "username", check_string },
    { "given_name", check_string },
    { "family_name", check_string },
    { "name", check_string },
    { "nickname", check_string },
    { "picture", check_string },
    { "blocked", check_bool },
    { "password_hash", check_password_hash },
    { "custom_password_hash", check_custom_hash },
    { "app_metadata", check_object },
    { "user_metadata", check_object },
    { "mfa_factors", check_mfa_factors },
    { NULL, NULL },
};
static const char *const root_required[] = { "email", NULL };

int validate_import_user(const json_t *u, char *code, size_t code_size,
                         char *path, size_t path_size, char *msg,
                         size_t msg_size)
{
    verr_t e = { code, code_size, path, path_size, msg, msg_size };
    if (!u)
        return fail(&e, "INVALID_TYPE", "", "Expected type object");
    if (want(u, "object", "", &e) < 0 ||
        check_required(u, root_required, "", &e) < 0 ||
        check_members(u, root_props, 1, "", &e) < 0)
        return -1;
    if (json_object_get(u, "password_hash") &&
        json_object_get(u, "custom_password_hash"))
        return fail(&e, "NOT_PASSED", "custom_password_hash",
                    "password_hash and custom_password_hash are mutually "
                    "exclusive");
    copy_out(code, code_size, "");
    copy_out(path, path_size, "");
    copy_out(msg, msg_size, "");
    return 0;
}
