/* Unit tests for validate: each rule of the bulk-import user schema with
 * the code and path it yields, the e-mail format table, the bcrypt parser,
 * and, when the shared specs are present, a drift check of the validator
 * against the official schema file (property set, types, enums,
 * patterns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "validate.h"

#define BCRYPT_BODY "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

typedef struct {
    const char *json; /* the user object */
    const char *code; /* NULL: valid */
    const char *path;
} case_t;

static void run_case(const case_t *c)
{
    json_error_t je;
    json_t *u = json_loads(c->json, JSON_DECODE_ANY, &je);
    if (!u)
        fail_msg("bad test JSON %s: %s", c->json, je.text);
    char code[48], path[128], msg[160];
    int rc = validate_import_user(u, code, sizeof code, path, sizeof path, msg,
                                  sizeof msg);
    json_decref(u);
    if (!c->code) {
        if (rc != 0)
            fail_msg("%s: unexpected %s at '%s': %s", c->json, code, path, msg);
        assert_string_equal(code, "");
        return;
    }
    if (rc != -1 || strcmp(code, c->code) != 0 || strcmp(path, c->path) != 0)
        fail_msg("%s: got rc %d %s at '%s' (%s), want %s at '%s'", c->json, rc,
                 code, path, msg, c->code, c->path);
    assert_true(msg[0] != '\0');
}

static void run_cases(const case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i]);
}

#define E "\"email\":\"u1@example.test\""

static void test_root(void **state)
{
    (void)state;
    static const case_t cases[] = {
        { "{" E "}", NULL, NULL },
        { "{" E ",\"email_verified\":true,\"phone_number\":\"+15550000001\","
          "\"phone_verified\":false,\"user_id\":\"abc\",\"username\":\"u\","
          "\"given_name\":\"G\",\"family_name\":\"F\",\"name\":\"N\","
          "\"nickname\":\"n\",\"picture\":\"https://p.test/x.png\","
          "\"blocked\":false,\"app_metadata\":{\"a\":1},"
          "\"user_metadata\":{},"
          "\"password_hash\":\"$2b$10$" BCRYPT_BODY "\","
          "\"mfa_factors\":[{\"totp\":{\"secret\":\"JBSWY3DPEHPK3PXP\"}},"
          "{\"phone\":{\"value\":\"+15550000001\"}},"
          "{\"email\":{\"value\":\"m@example.test\"}}]}",
          NULL, NULL },
        { "[]", "INVALID_TYPE", "" },
        { "{}", "OBJECT_REQUIRED", "email" },
        { "{\"email_verified\":true}", "OBJECT_REQUIRED", "email" },
        { "{" E ",\"identities\":[]}", "OBJECT_ADDITIONAL_PROPERTIES",
          "identities" },
        { "{" E ",\"created_at\":\"x\"}", "OBJECT_ADDITIONAL_PROPERTIES",
          "created_at" },
        { "{\"email\":5}", "INVALID_TYPE", "email" },
        { "{\"email\":\"u1@\"}", "FORMAT", "email" },
        { "{" E ",\"email_verified\":\"true\"}", "INVALID_TYPE",
          "email_verified" },
        { "{" E ",\"phone_verified\":1}", "INVALID_TYPE", "phone_verified" },
        { "{" E ",\"blocked\":null}", "INVALID_TYPE", "blocked" },
        { "{" E ",\"user_id\":42}", "INVALID_TYPE", "user_id" },
        { "{" E ",\"username\":[]}", "INVALID_TYPE", "username" },
        { "{" E ",\"given_name\":{}}", "INVALID_TYPE", "given_name" },
        { "{" E ",\"family_name\":1.5}", "INVALID_TYPE", "family_name" },
        { "{" E ",\"name\":true}", "INVALID_TYPE", "name" },
        { "{" E ",\"nickname\":null}", "INVALID_TYPE", "nickname" },
        { "{" E ",\"picture\":7}", "INVALID_TYPE", "picture" },
        { "{" E ",\"phone_number\":15550000001}", "INVALID_TYPE",
          "phone_number" },
        { "{" E ",\"app_metadata\":[]}", "INVALID_TYPE", "app_metadata" },
        { "{" E ",\"user_metadata\":\"x\"}", "INVALID_TYPE", "user_metadata" },
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

static void test_password_hash(void **state)
{
    (void)state;
    static const case_t cases[] = {
        { "{" E ",\"password_hash\":\"$2a$10$" BCRYPT_BODY "\"}", NULL, NULL },
        { "{" E ",\"password_hash\":\"$2y$10$" BCRYPT_BODY "\"}", "PATTERN",
          "password_hash" },
        { "{" E ",\"password_hash\":\"$2b$12$" BCRYPT_BODY "\"}", "PATTERN",
          "password_hash" },
        { "{" E ",\"password_hash\":\"$2b$10$short\"}", "PATTERN",
          "password_hash" },
        { "{" E ",\"password_hash\":\"$2b$10$" BCRYPT_BODY "x\"}", "PATTERN",
          "password_hash" },
        { "{" E ",\"password_hash\":\"$2b$10$" BCRYPT_BODY "\","
          "\"custom_password_hash\":{\"algorithm\":\"sha512\",\"hash\":"
          "{\"value\":\"00\",\"encoding\":\"hex\"}}}",
          "NOT_PASSED", "custom_password_hash" },
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

#define C(body) "{" E ",\"custom_password_hash\":" body "}"

static void test_custom_password_hash_shapes(void **state)
{
    (void)state;
    static const case_t cases[] = {
        { C("[]"), "INVALID_TYPE", "custom_password_hash" },
        { C("{\"hash\":{\"value\":\"x\"}}"), "OBJECT_REQUIRED",
          "custom_password_hash.algorithm" },
        { C("{\"algorithm\":\"md5\"}"), "OBJECT_REQUIRED",
          "custom_password_hash.hash" },
        { C("{\"algorithm\":\"rot13\",\"hash\":{\"value\":\"x\"}}"),
          "ENUM_MISMATCH", "custom_password_hash.algorithm" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\"},"
            "\"iterations\":5}"),
          "OBJECT_ADDITIONAL_PROPERTIES", "custom_password_hash.iterations" },
        { C("{\"algorithm\":\"md5\",\"hash\":\"x\"}"), "INVALID_TYPE",
          "custom_password_hash.hash" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\","
            "\"encoding\":\"base32\"}}"),
          "ENUM_MISMATCH", "custom_password_hash.hash.encoding" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":5}}"), "INVALID_TYPE",
          "custom_password_hash.hash.value" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"encoding\":\"hex\"}}"),
          "OBJECT_REQUIRED", "custom_password_hash.hash.value" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\"},"
            "\"salt\":{\"position\":\"prefix\"}}"),
          "OBJECT_REQUIRED", "custom_password_hash.salt.value" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\"},"
            "\"salt\":{\"value\":\"s\",\"position\":\"middle\"}}"),
          "ENUM_MISMATCH", "custom_password_hash.salt.position" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\"},"
            "\"salt\":{\"value\":\"s\",\"encoding\":\"rot\"}}"),
          "ENUM_MISMATCH", "custom_password_hash.salt.encoding" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\"},"
            "\"password\":{\"encoding\":\"utf32\"}}"),
          "ENUM_MISMATCH", "custom_password_hash.password.encoding" },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"x\"},"
            "\"keylen\":\"64\"}"),
          "INVALID_TYPE", "custom_password_hash.keylen" },
        { C("{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"x\","
            "\"encoding\":\"hex\",\"digest\":\"sha3\",\"key\":"
            "{\"value\":\"k\"}}}"),
          "ENUM_MISMATCH", "custom_password_hash.hash.digest" },
        { C("{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"x\","
            "\"encoding\":\"hex\",\"digest\":\"sha256\",\"key\":{}}}"),
          "OBJECT_REQUIRED", "custom_password_hash.hash.key.value" },
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

static void test_custom_password_hash_algorithms(void **state)
{
    (void)state;
    static const case_t cases[] = {
        { C("{\"algorithm\":\"bcrypt\",\"hash\":{\"value\":\"$2y$"
            "12$" BCRYPT_BODY "\",\"encoding\":\"utf8\"}}"),
          NULL, NULL },
        { C("{\"algorithm\":\"bcrypt\",\"hash\":{\"value\":\"$2x$"
            "10$" BCRYPT_BODY "\"}}"),
          "PATTERN", "custom_password_hash.hash.value" },
        { C("{\"algorithm\":\"bcrypt\",\"hash\":{\"value\":\"$2b$"
            "10$" BCRYPT_BODY "\",\"encoding\":\"hex\"}}"),
          "NOT_PASSED", "custom_password_hash.hash.encoding" },
        { C("{\"algorithm\":\"argon2\",\"hash\":{\"value\":"
            "\"$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\","
            "\"encoding\":\"utf8\"}}"),
          NULL, NULL },
        { C("{\"algorithm\":\"argon2\",\"hash\":{\"value\":\"$argon2i$x\"},"
            "\"salt\":{\"value\":\"s\"}}"),
          "NOT_PASSED", "custom_password_hash.salt" },
        { C("{\"algorithm\":\"argon2\",\"hash\":{\"value\":\"plain\"}}"),
          "PATTERN", "custom_password_hash.hash.value" },
        { C("{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00ff\","
            "\"encoding\":\"hex\",\"digest\":\"sha256\",\"key\":"
            "{\"value\":\"k\",\"encoding\":\"utf8\"}}}"),
          NULL, NULL },
        { C("{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00ff\","
            "\"encoding\":\"hex\",\"key\":{\"value\":\"k\"}}}"),
          "OBJECT_REQUIRED", "custom_password_hash.hash.digest" },
        { C("{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00ff\","
            "\"encoding\":\"hex\",\"digest\":\"sha256\"}}"),
          "OBJECT_REQUIRED", "custom_password_hash.hash.key" },
        { C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"00\","
            "\"encoding\":\"hex\",\"digest\":\"md5\"}}"),
          "NOT_PASSED", "custom_password_hash.hash.digest" },
        { C("{\"algorithm\":\"sha256\",\"hash\":{\"value\":\"00\","
            "\"encoding\":\"utf8\"}}"),
          "NOT_PASSED", "custom_password_hash.hash.encoding" },
        { C("{\"algorithm\":\"sha512\",\"hash\":{\"value\":\"AA==\","
            "\"encoding\":\"base64\"},\"salt\":{\"value\":\"s\","
            "\"position\":\"suffix\"},\"password\":{\"encoding\":"
            "\"utf16le\"}}"),
          NULL, NULL },
        { C("{\"algorithm\":\"ldap\",\"hash\":{\"value\":\"{SSHA}abc\"}}"),
          NULL, NULL },
        { C("{\"algorithm\":\"ldap\",\"hash\":{\"value\":\"{CRYPT}abc\"}}"),
          "PATTERN", "custom_password_hash.hash.value" },
        { C("{\"algorithm\":\"pbkdf2\",\"hash\":{\"value\":"
            "\"$pbkdf2-sha512$i=100000,l=64$c2FsdA$aGFzaA\"}}"),
          NULL, NULL },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\","
            "\"encoding\":\"hex\"},\"keylen\":64,\"cost\":16384,"
            "\"blockSize\":8,\"parallelization\":1}"),
          NULL, NULL },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"}}"),
          "OBJECT_REQUIRED", "custom_password_hash.keylen" },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},"
            "\"keylen\":0}"),
          "MINIMUM", "custom_password_hash.keylen" },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},"
            "\"keylen\":64,\"cost\":1000}"),
          "NOT_PASSED", "custom_password_hash.cost" },
        /* JSON Schema counts a number without a fraction as an integer
         * (the differential check found 64.0 refused). */
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},"
            "\"keylen\":64.0,\"cost\":1.6384e4,\"blockSize\":8.0}"),
          NULL, NULL },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},"
            "\"keylen\":64.5}"),
          "INVALID_TYPE", "custom_password_hash.keylen" },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},"
            "\"keylen\":8,\"cost\":1000.0}"),
          "NOT_PASSED", "custom_password_hash.cost" },
        { C("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},"
            "\"keylen\":0.0}"),
          "MINIMUM", "custom_password_hash.keylen" },
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

#define M(body) "{" E ",\"mfa_factors\":" body "}"

static void test_mfa_factors(void **state)
{
    (void)state;
    static const case_t cases[] = {
        { M("[{\"totp\":{\"secret\":\"JBSWY3DPEHPK3PXP\"}}]"), NULL, NULL },
        { M("{}"), "INVALID_TYPE", "mfa_factors" },
        { M("[]"), "ARRAY_LENGTH_SHORT", "mfa_factors" },
        { M("[{},{},{},{},{},{},{},{},{},{},{}]"), "ARRAY_LENGTH_LONG",
          "mfa_factors" },
        { M("[{\"phone\":{\"value\":\"+15550000001\"}},"
            "{\"totp\":{\"secret\":\"jbswy3dpehpk3pnp====\"}}]"),
          "PATTERN", "mfa_factors[1].totp.secret" },
        { M("[{\"totp\":{\"secret\":\"\"}}]"), "PATTERN",
          "mfa_factors[0].totp.secret" },
        { M("[{\"totp\":{}}]"), "OBJECT_REQUIRED",
          "mfa_factors[0].totp.secret" },
        { M("[{\"totp\":{\"secret\":\"AB\",\"issuer\":\"x\"}}]"),
          "OBJECT_ADDITIONAL_PROPERTIES", "mfa_factors[0].totp.issuer" },
        { M("[{\"phone\":{\"value\":\"+1\"},\"email\":{\"value\":"
            "\"a@b.test\"}}]"),
          "OBJECT_PROPERTIES_MAXIMUM", "mfa_factors[0]" },
        { M("[{\"push\":{}}]"), "OBJECT_ADDITIONAL_PROPERTIES",
          "mfa_factors[0].push" },
        { M("[\"totp\"]"), "INVALID_TYPE", "mfa_factors[0]" },
        { M("[{\"phone\":{\"value\":\"5550000001\"}}]"), "PATTERN",
          "mfa_factors[0].phone.value" },
        { M("[{\"phone\":{\"value\":\"+1234567890123456\"}}]"), "PATTERN",
          "mfa_factors[0].phone.value" },
        { M("[{\"email\":{\"value\":\"nope\"}}]"), "FORMAT",
          "mfa_factors[0].email.value" },
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

static void test_email_format(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a@b.co",
        "first.last+tag@sub.example.test",
        "o'brien@example.test",
        "u1@xn--exmple-cua.test",
        "u1@ex\xC3\xA4mple.test", /* exämple */
        "\xC3\xBC"
        "1@example.test", /* ü1 */
        "u1@example.xn--p1ai",
        "User12.Mixed@Example.test",
        "x@a-b.c-d.test",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234"
        "@example.test",
    };
    static const char *const bad[] = {
        "u1@",
        "@example.test",
        "u1",
        "",
        "a@@b.test",
        "a@b@c.test",
        " u1@example.test",
        "u1@example.test ",
        "a b@example.test",
        "\"quoted\"@example.test",
        "a..b@example.test",
        ".a@example.test",
        "a.@example.test",
        "a@example",
        "a@-x.test",
        "a@x-.test",
        "a@x..test",
        "a@.x.test",
        "a@x.test.",
        "a@x.t",
        "a@x.123",
        "a@x_y.test",
        "a@[192.0.2.1]",
        ("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12345"
         "@example.test"),
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (validate_email_format(good[i]) != 0)
            fail_msg("rejected good address #%zu", i);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (validate_email_format(bad[i]) != -1)
            fail_msg("accepted bad address #%zu", i);
    assert_int_equal(validate_email_format(NULL), -1);

    /* Length limits: 254 in all, 63 per label. */
    char label[64];
    memset(label, 'l', 63);
    label[63] = '\0';
    char *ok = xasprintf("a@%s.%s.%s.test", label, label, label);
    assert_int_equal(strlen(ok), 2 + 3 * 64 + 4);
    assert_int_equal(validate_email_format(ok), 0);
    char *long_label = xasprintf("a@%sl.test", label);
    assert_int_equal(validate_email_format(long_label), -1);
    char x55[57];
    memset(x55, 'x', 56);
    x55[55] = '\0';
    char *at254 = xasprintf("a@%s.%s.%s.%s.test", label, label, label, x55);
    assert_int_equal(strlen(at254), 254);
    assert_int_equal(validate_email_format(at254), 0);
    x55[55] = 'x';
    x55[56] = '\0';
    char *at255 = xasprintf("a@%s.%s.%s.%s.test", label, label, label, x55);
    assert_int_equal(strlen(at255), 255);
    assert_int_equal(validate_email_format(at255), -1);
    free(ok);
    free(long_label);
    free(at254);
    free(at255);
}

static void test_bcrypt_parse(void **state)
{
    (void)state;
    char v = '?';
    int cost = -1;
    assert_int_equal(validate_bcrypt_parse("$2b$10$" BCRYPT_BODY, &v, &cost),
                     0);
    assert_int_equal(v, 'b');
    assert_int_equal(cost, 10);
    assert_int_equal(validate_bcrypt_parse("$2y$12$" BCRYPT_BODY, &v, &cost),
                     0);
    assert_int_equal(v, 'y');
    assert_int_equal(cost, 12);
    assert_int_equal(validate_bcrypt_parse("$2$05$" BCRYPT_BODY, &v, &cost), 0);
    assert_int_equal(v, '\0');
    assert_int_equal(cost, 5);
    assert_int_equal(validate_bcrypt_parse("$2c$10$" BCRYPT_BODY, &v, &cost),
                     -1);
    assert_int_equal(validate_bcrypt_parse("$2b$1$" BCRYPT_BODY, &v, &cost),
                     -1);
    assert_int_equal(
        validate_bcrypt_parse("$2b$10$" BCRYPT_BODY "=", &v, &cost), -1);
    assert_int_equal(validate_bcrypt_parse("$2b$10$abc!", &v, &cost), -1);
    assert_int_equal(validate_bcrypt_parse("$1$abc$def", &v, &cost), -1);
    assert_int_equal(validate_bcrypt_parse(NULL, &v, &cost), -1);
}

typedef struct {
    const char *cph; /* custom_password_hash object */
    int ok;
    const char *path;
} enc_case_t;

#define VP     "custom_password_hash.hash.value"
#define SALT16 "c2FsdHNhbHRzYWx0c2FsdA"
#define H32    "ThGV3wIN5Z4NZaM6QnnxGD565OXZgOMJ+LVa3/LmHD4"
#define H64                                                     \
    "Vg1+RWvyZpP/EI5DHBG64p+KamURb/ItXJ2SI9Cn+0pLb+erAnYnsGTbV" \
    "scQf+9sIIWicaHZzeM8wTFDf0naNw"
#define ARGON(v) "{\"algorithm\":\"argon2\",\"hash\":{\"value\":\"" v "\"}}"
#define PBKDF(v) "{\"algorithm\":\"pbkdf2\",\"hash\":{\"value\":\"" v "\"}}"
#define LDAP(v)  "{\"algorithm\":\"ldap\",\"hash\":{\"value\":\"" v "\"}}"
#define HMAC(v, enc, extra)                            \
    "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"" v \
    "\",\"encoding\":\"" enc "\",\"digest\":\"sha256\",\"key\":{" extra "}}}"

typedef struct {
    const char *cph;
    const char *path; /* NULL: plausible */
    const char *msg;
} plaus_case_t;

/* PHC strings of argon2 and pbkdf2, LDAP values, hmac digests and keys,
 * salts: each value must be able to be what it claims. */
static void test_hash_plausibility(void **state)
{
    (void)state;

    static const plaus_case_t cases[] = {
        { ARGON("$argon2id$v=19$m=65536,t=2,p=1$" SALT16 "$" H32), NULL, NULL },
        { ARGON("$argon2i$m=4096,t=3,p=1$" SALT16 "$" H32), NULL, NULL },
        { ARGON("$argon2id$v=19$m=65536,t=2,p=1$" SALT16), VP,
          "Value is not a PHC string $argon2id$v=19$m=..,t=..,p=..$salt$hash" },
        { ARGON("$argon2x$v=19$m=65536,t=2,p=1$" SALT16 "$" H32), VP,
          "Argon2 variant is not argon2i, argon2d or argon2id" },
        { ARGON("$argon2id$v=18$m=65536,t=2,p=1$" SALT16 "$" H32), VP,
          "Argon2 version is not v=16 or v=19" },
        { ARGON("$argon2id$v=19$m=65536,t=2$" SALT16 "$" H32), VP,
          "Argon2 parameters are not m=..,t=..,p=.. with positive numbers" },
        { ARGON("$argon2id$v=19$m=65536,t=0,p=1$" SALT16 "$" H32), VP,
          "Argon2 parameters are not m=..,t=..,p=.. with positive numbers" },
        { ARGON("$argon2id$v=19$m=65536,t=2,p=1,x=4$" SALT16 "$" H32), VP,
          "Argon2 parameters are not m=..,t=..,p=.. with positive numbers" },
        { ARGON("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$" H32), VP,
          "Argon2 salt or hash is not base64 of a plausible size" },
        { ARGON("$argon2id$v=19$m=65536,t=2,p=1$" SALT16 "$***"), VP,
          "Argon2 salt or hash is not base64 of a plausible size" },
        { PBKDF("$pbkdf2-sha512$i=100000,l=64$" SALT16 "$" H64), NULL, NULL },
        { PBKDF("$pbkdf2-sha256$i=1000,l=32$" SALT16 "$" H32), NULL, NULL },
        { PBKDF("$pbkdf2-sha512$" SALT16 "$" H64), NULL, NULL },
        { PBKDF("$pbkdf2-sha256$i=1000,l=32$" SALT16 "$" H64), VP,
          "PBKDF2 hash length does not match l (default 64)" },
        { PBKDF("$pbkdf2-sha256$" SALT16 "$" H32), VP,
          "PBKDF2 hash length does not match l (default 64)" },
        { PBKDF("$pbkdf2-sha256$i=x,l=32$" SALT16 "$" H32), VP,
          "PBKDF2 parameters are not i=..,l=.. with positive numbers" },
        { PBKDF("$pbkdf2-SHA256$i=1000,l=32$" SALT16 "$" H32), VP,
          "PBKDF2 digest name is not a digest name" },
        { PBKDF("$pbkdf2$i=1000,l=32$" SALT16 "$" H32), VP,
          "Value is not a PHC string $pbkdf2-<digest>$i=..,l=..$salt$hash" },
        { PBKDF("$pbkdf2-sha256$i=1000,l=32$" SALT16 "$" H32 "$x"), VP,
          "Value is not a PHC string $pbkdf2-<digest>$i=..,l=..$salt$hash" },
        { LDAP("{SSHA}K/qCHdTzr1rftXNEV4Ob7XsySBlzYWx0"), NULL, NULL },
        { LDAP("{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="), NULL, NULL },
        { LDAP("{SSHA}GpHWL3ymc5liWkNopqtdSjuqYHM="), VP,
          "LDAP value length does not match its scheme" },
        { LDAP("{MD5}GpHWL3ymc5liWkNopqtdSjuqYHM="), VP,
          "LDAP value length does not match its scheme" },
        { LDAP("{SHA}not base64!"), VP,
          "LDAP value is not base64 after its scheme" },
        { HMAC("8fe4c11451281c094a6578e6ddbf5eed8fe4c11451281c094a6578e6ddbf5ee"
               "d",
               "hex", "\"value\":\"k\""),
          NULL, NULL },
        { HMAC("8fe4c11451281c094a6578e6ddbf5eed", "hex", "\"value\":\"k\""),
          VP, "Value length does not match the digest size" },
        { HMAC(H32, "base64", "\"value\":\"0g\",\"encoding\":\"hex\""),
          "custom_password_hash.hash.key.value", "Value is not hex" },
        { "{\"algorithm\":\"md5\",\"hash\":{\"value\":"
          "\"8fe4c11451281c094a6578e6ddbf5eed\",\"encoding\":\"hex\"},"
          "\"salt\":{\"value\":\"#!\",\"encoding\":\"base64\","
          "\"position\":\"prefix\"}}",
          "custom_password_hash.salt.value", "Value is not base64" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_error_t je;
        json_t *c = json_loads(cases[i].cph, 0, &je);
        if (!c)
            fail_msg("case %zu: bad JSON: %s", i, je.text);
        char path[128] = "", msg[128] = "";
        int rc = validate_hash_encoding(c, path, sizeof path, msg, sizeof msg);
        json_decref(c);
        if (rc != (cases[i].path ? -1 : 0))
            fail_msg("case %zu: rc %d at %s: %s", i, rc, path, msg);
        if (cases[i].path) {
            assert_string_equal(path, cases[i].path);
            assert_string_equal(msg, cases[i].msg);
        }
    }
}

static void test_hash_encoding(void **state)
{
    (void)state;
    /* sha256("hello world") is 32 bytes: 64 hex digits, 44 base64
     * characters with padding, 43 without. */
    static const enc_case_t cases[] = {
        { "{\"algorithm\":\"sha256\",\"hash\":{\"value\":"
          "\"uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=\",\"encoding\":"
          "\"base64\"}}",
          1, NULL },
        { "{\"algorithm\":\"sha256\",\"hash\":{\"value\":"
          "\"uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek\",\"encoding\":"
          "\"base64\"}}",
          1, NULL },
        { "{\"algorithm\":\"sha256\",\"hash\":{\"value\":"
          "\"uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvze=\",\"encoding\":"
          "\"base64\"}}",
          0, "custom_password_hash.hash.value" },
        { "{\"algorithm\":\"sha256\",\"hash\":{\"value\":\"a=b=\","
          "\"encoding\":\"base64\"}}",
          0, "custom_password_hash.hash.value" },
        { "{\"algorithm\":\"sha512\",\"hash\":{\"value\":\"00ff\","
          "\"encoding\":\"HEX\"}}",
          1, NULL },
        { "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"0g\","
          "\"encoding\":\"hex\"}}",
          0, "custom_password_hash.hash.value" },
        { "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00ff\","
          "\"encoding\":\"hex\"}}",
          1, NULL },
        { "{\"algorithm\":\"bcrypt\",\"hash\":{\"value\":\"x\"},"
          "\"salt\":{\"value\":\"s\"}}",
          0, "custom_password_hash.salt.position" },
        { "[]", 1, NULL },
        { "{\"algorithm\":\"md5\",\"hash\":\"x\"}", 1, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *c = json_loads(cases[i].cph, JSON_DECODE_ANY, NULL);
        assert_non_null(c);
        char path[128] = "", msg[128] = "";
        int rc = validate_hash_encoding(c, path, sizeof path, msg, sizeof msg);
        json_decref(c);
        if (rc != (cases[i].ok ? 0 : -1))
            fail_msg("case %zu: rc %d at %s: %s", i, rc, path, msg);
        if (!cases[i].ok)
            assert_string_equal(path, cases[i].path);
    }
}

/* ---- drift check against the official schema ---- */

static json_t *load_schema(void)
{
    const char *shared = getenv("A0_SHARED");
    if (!shared)
        return NULL;
    char *path =
        xasprintf("%s/specs/auth0-bulk-import-user.schema.json", shared);
    json_t *s = access(path, R_OK) == 0 ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    return s;
}

/* A value of some type other than the one the schema names. */
static json_t *wrong_value(const char *type)
{
    return strcmp(type, "string") == 0 ? json_integer(5) : json_string("s");
}

static void check_enum_accepted(const char *json_fmt, const json_t *values,
                                const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        char *doc = xasprintf(json_fmt, json_string_value(v));
        json_t *u = json_loads(doc, 0, NULL);
        assert_non_null(u);
        char code[48] = "", p[128] = "", msg[160];
        validate_import_user(u, code, sizeof code, p, sizeof p, msg,
                             sizeof msg);
        if (strcmp(code, "ENUM_MISMATCH") == 0 && strcmp(p, path) == 0)
            fail_msg("schema value %s refused at %s", json_string_value(v),
                     path);
        json_decref(u);
        free(doc);
    }
}

static void check_each_property_type(const json_t *props)
{
    const char *key;
    json_t *def;
    json_object_foreach((json_t *)props, key, def)
    {
        const char *type = json_string_value(json_object_get(def, "type"));
        assert_non_null(type);
        json_t *u = json_pack("{s:s}", "email", "u1@example.test");
        json_object_set_new(u, key, wrong_value(type));
        char code[48], path[128], msg[160];
        assert_int_equal(validate_import_user(u, code, sizeof code, path,
                                              sizeof path, msg, sizeof msg),
                         -1);
        if (strcmp(code, "INVALID_TYPE") != 0 || strcmp(path, key) != 0)
            fail_msg("property %s: got %s at %s", key, code, path);
        json_decref(u);
    }
}

static void test_matches_official_schema(void **state)
{
    (void)state;
    json_t *schema = load_schema();
    if (!schema)
        skip();
    const json_t *props = json_object_get(schema, "properties");
    assert_int_equal(json_object_size(props), 17);
    assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
    const json_t *req = json_object_get(schema, "required");
    assert_int_equal(json_array_size(req), 1);
    assert_string_equal(json_string_value(json_array_get(req, 0)), "email");
    check_each_property_type(props);

    const json_t *cph = json_object_get(
        json_object_get(props, "custom_password_hash"), "properties");
    const json_t *hashp =
        json_object_get(json_object_get(cph, "hash"), "properties");
    const json_t *saltp =
        json_object_get(json_object_get(cph, "salt"), "properties");
    const json_t *pwp =
        json_object_get(json_object_get(cph, "password"), "properties");
    check_enum_accepted(
        C("{\"algorithm\":\"%s\",\"hash\":{\"value\":\"x\"}}"),
        json_object_get(json_object_get(cph, "algorithm"), "enum"),
        "custom_password_hash.algorithm");
    check_enum_accepted(
        C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\",\"encoding\":"
          "\"%s\"}}"),
        json_object_get(json_object_get(hashp, "encoding"), "enum"),
        "custom_password_hash.hash.encoding");
    check_enum_accepted(
        C("{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"x\",\"digest\":"
          "\"%s\"}}"),
        json_object_get(json_object_get(hashp, "digest"), "enum"),
        "custom_password_hash.hash.digest");
    check_enum_accepted(
        C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\"},\"salt\":"
          "{\"value\":\"s\",\"position\":\"%s\"}}"),
        json_object_get(json_object_get(saltp, "position"), "enum"),
        "custom_password_hash.salt.position");
    check_enum_accepted(
        C("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"x\"},\"password\":"
          "{\"encoding\":\"%s\"}}"),
        json_object_get(json_object_get(pwp, "encoding"), "enum"),
        "custom_password_hash.password.encoding");

    const json_t *items =
        json_object_get(json_object_get(props, "mfa_factors"), "items");
    const json_t *fp = json_object_get(items, "properties");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(
                json_object_get(json_object_get(fp, "totp"), "properties"),
                "secret"),
            "pattern")),
        "^[A-Z2-7]+$");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(
                json_object_get(json_object_get(fp, "phone"), "properties"),
                "value"),
            "pattern")),
        "^\\+[0-9]{1,15}$");
    assert_int_equal(
        json_integer_value(json_object_get(items, "maxProperties")), 1);
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_custom_password_hash_shapes),
        cmocka_unit_test(test_custom_password_hash_algorithms),
        cmocka_unit_test(test_mfa_factors),
        cmocka_unit_test(test_email_format),
        cmocka_unit_test(test_bcrypt_parse),
        cmocka_unit_test(test_hash_encoding),
        cmocka_unit_test(test_hash_plausibility),
        cmocka_unit_test(test_matches_official_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
