/* conformance_gen: generates bulk-import user records, deterministically,
 * and prints the local validator's verdict on each, for
 * check_schema.py to compare with the official JSON schema.
 *
 *   conformance_gen [COUNT] [SEED]
 *
 * About a quarter of the records are valid in varied ways; every other one
 * is a valid record broken in exactly one way. Each line is
 *   CLASS<TAB>LABEL<TAB>VERDICT<TAB>CODE<TAB>PATH<TAB>RECORD
 * where CLASS is "valid", "schema" (a defect the schema itself describes)
 * or "rule" (a defect only Auth0's documented rules beside the schema
 * describe, which the schema must let through), VERDICT is 1 when
 * validate_import_user accepts the record, and CODE and PATH are its
 * first complaint ("-" when none). The hash-like values are shaped like
 * hashes, not hashes of any password. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 20);
}

static uint32_t below(uint32_t n)
{
    return next() % n;
}

#define PICK(a) (a)[below(sizeof(a) / sizeof *(a))]

#define BCRYPT_BODY "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

static const char *const good_emails[] = {
    "u1@example.test",
    "first.last@example.test",
    "a+tag@sub.example.test",
    "x_y-z@ex-ample.co",
    "UPPER@EXAMPLE.TEST",
    "o'brien@example.test",
    "\xC3\xBCser@example.test",
    "u@ex\xC3\xA4mple.test",
    "u@xn--exmple-cua.test",
    "u@d.xn--p1ai",
    "1234567890123456789012345678901234567890123456789012345678901234@x.io",
    "{}!#$%&*/=?^`|~@example.test",
};

static const char *const bad_emails[] = {
    "plainaddress",
    "two@@example.test",
    "a@b@example.test",
    "@example.test",
    "u@",
    "u@localhost",
    "u@example.t",
    "u@example.123",
    "u@-example.test",
    "u@example-.test",
    "u@exa_mple.test",
    ".u@example.test",
    "u.@example.test",
    "u..v@example.test",
    "u v@example.test",
    "u@example.test ",
    " u@example.test",
    "\"quoted\"@example.test",
    "u@example..test",
    "u@.example.test",
    "u@example.test.",
    ("12345678901234567890123456789012345678901234567890123456789012345"
     "@x.io"),
    ("u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "test"),
    "u(comment)@example.test",
    "u@[192.0.2.1]",
    "",
};

/* An address of more than 254 bytes whose parts are each fine. */
static json_t *long_email(void)
{
    char s[300];
    strcpy(s, "u@");
    for (int i = 0; i < 5; i++)
        strcat(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
    strcat(s, "test");
    return json_string(s);
}

/* ---- valid parts ---- */

static json_t *valid_custom_hash(void)
{
    static const char *const forms[] = {
        "{\"algorithm\":\"bcrypt\",\"hash\":{\"value\":\"$2y$12$" BCRYPT_BODY
        "\",\"encoding\":\"utf8\"}}",
        "{\"algorithm\":\"md5\",\"hash\":{\"value\":\"00ff\",\"encoding\":"
        "\"hex\"},\"salt\":{\"value\":\"s\",\"position\":\"suffix\"}}",
        "{\"algorithm\":\"sha256\",\"hash\":{\"value\":\"AA==\",\"encoding\":"
        "\"base64\"},\"password\":{\"encoding\":\"utf16le\"}}",
        "{\"algorithm\":\"sha1\",\"hash\":{\"value\":\"00\"}}",
        "{\"algorithm\":\"sha512\",\"hash\":{\"value\":\"00\",\"encoding\":"
        "\"hex\"},\"salt\":{\"value\":\"c2FsdA==\",\"encoding\":\"base64\","
        "\"position\":\"prefix\"}}",
        "{\"algorithm\":\"md4\",\"hash\":{\"value\":\"00\",\"encoding\":"
        "\"hex\"}}",
        "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00ff\",\"encoding\":"
        "\"hex\",\"digest\":\"sha256\",\"key\":{\"value\":\"k\","
        "\"encoding\":\"utf8\"}}}",
        "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"AA==\",\"encoding\":"
        "\"base64\",\"digest\":\"whirlpool\",\"key\":{\"value\":\"00\"}}}",
        "{\"algorithm\":\"argon2\",\"hash\":{\"value\":\"$argon2id$v=19$"
        "m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\",\"encoding\":\"utf8\"}}",
        "{\"algorithm\":\"ldap\",\"hash\":{\"value\":\"{SSHA}abc\"}}",
        "{\"algorithm\":\"pbkdf2\",\"hash\":{\"value\":\"$pbkdf2-sha512$"
        "i=100000,l=64$c2FsdA$aGFzaA\"}}",
        "{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\",\"encoding\":"
        "\"hex\"},\"keylen\":64,\"cost\":16384,\"blockSize\":8,"
        "\"parallelization\":1}",
        "{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},\"keylen\":32}",
        /* Integral reals are integers to JSON Schema. */
        "{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},"
        "\"keylen\":64.0,\"cost\":1.6384e4,\"blockSize\":8.0}",
    };
    return json_loads(PICK(forms), 0, NULL);
}

static json_t *valid_factor(void)
{
    switch (below(3)) {
    case 0:
        return json_pack("{s:{s:s}}", "totp", "secret",
                         PICK(((const char *const[]){
                             "JBSWY3DPEHPK3PNP", "A",
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" })));
    case 1:
        return json_pack("{s:{s:s}}", "phone", "value",
                         PICK(((const char *const[]){ "+1", "+15550000001",
                                                      "+123456789012345" })));
    default:
        return json_pack("{s:{s:s}}", "email", "value", PICK(good_emails));
    }
}

static json_t *valid_metadata(void)
{
    static const char *const forms[] = {
        "{}",
        "{\"plan\":\"pro\",\"roles\":[\"a\",\"b\"]}",
        "{\"n\":1,\"f\":1.5,\"b\":true,\"z\":null,\"o\":{\"p\":[{}]}}",
        "{\"a.b\":1,\"$c\":2}",
        "{\"clientID\":\"x\"}",
    };
    return json_loads(PICK(forms), 0, NULL);
}

/* Optional string fields and their valid values. */
static const char *const string_fields[] = { "phone_number", "user_id",
                                             "username",     "given_name",
                                             "family_name",  "name",
                                             "nickname",     "picture" };

static json_t *valid_record(void)
{
    json_t *u = json_pack("{s:s}", "email", PICK(good_emails));
    for (size_t i = 0; i < sizeof string_fields / sizeof *string_fields; i++)
        if (below(3) == 0)
            json_object_set_new(u, string_fields[i],
                                json_string(below(2) ? "v" : ""));
    static const char *const bools[] = { "email_verified", "phone_verified",
                                         "blocked" };
    for (size_t i = 0; i < 3; i++)
        if (below(2))
            json_object_set_new(u, bools[i], json_boolean(below(2)));
    switch (below(3)) {
    case 0:
        json_object_set_new(u, "password_hash",
                            json_string(below(2) ? "$2a$10$" BCRYPT_BODY
                                                 : "$2b$10$" BCRYPT_BODY));
        break;
    case 1:
        json_object_set_new(u, "custom_password_hash", valid_custom_hash());
        break;
    default:
        break;
    }
    if (below(2))
        json_object_set_new(u, "app_metadata", valid_metadata());
    if (below(2))
        json_object_set_new(u, "user_metadata", valid_metadata());
    if (below(2)) {
        json_t *f = json_array();
        for (uint32_t n = 1 + below(10); n > 0; n--)
            json_array_append_new(f, valid_factor());
        json_object_set_new(u, "mfa_factors", f);
    }
    return u;
}

/* ---- one defect each ---- */

typedef struct {
    const char *cls;   /* "schema" or "rule" */
    const char *label; /* what was broken */
} defect_t;

static json_t *wrong_type(const char *not_this)
{
    json_t *all[] = { json_integer(5), json_real(1.5),   json_true(),
                      json_null(),     json_string("s"), json_array(),
                      json_object() };
    static const char *const names[] = { "integer", "number", "boolean", "null",
                                         "string",  "array",  "object" };
    size_t n = sizeof all / sizeof *all, pick = below((uint32_t)n);
    while (strcmp(names[pick], not_this) == 0)
        pick = (pick + 1) % n;
    for (size_t i = 0; i < n; i++)
        if (i != pick)
            json_decref(all[i]);
    return all[pick];
}

/* The custom_password_hash of u, made valid first. */
static json_t *cph_of(json_t *u, const char *form)
{
    json_t *c = json_loads(form, 0, NULL);
    json_object_del(u, "password_hash");
    json_object_set_new(u, "custom_password_hash", c);
    return c;
}

#define MD5_CPH "{\"algorithm\":\"md5\",\"hash\":{\"value\":\"00\"}}"
#define HMAC_CPH                                                       \
    "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00\",\"encoding\":" \
    "\"hex\",\"digest\":\"sha1\",\"key\":{\"value\":\"k\"}}}"

static defect_t break_root(json_t *u, uint32_t k)
{
    static const char *const extra[] = { "identities", "created_at", "foo",
                                         "Email", "user_metadata2" };
    static const char *const bools[] = { "email_verified", "phone_verified",
                                         "blocked" };
    const char *f;
    switch (k) {
    case 0:
        json_object_del(u, "email");
        return (defect_t){ "schema", "email missing" };
    case 1:
        json_object_set_new(u, "email", wrong_type("string"));
        return (defect_t){ "schema", "email wrong type" };
    case 2:
        json_object_set_new(u, "email", json_string(PICK(bad_emails)));
        return (defect_t){ "schema", "email bad format" };
    case 3:
        json_object_set_new(u, "email", long_email());
        return (defect_t){ "schema", "email over 254 bytes" };
    case 4:
        f = PICK(bools);
        json_object_set_new(u, f, wrong_type("boolean"));
        return (defect_t){ "schema", "boolean field wrong type" };
    case 5:
        f = PICK(string_fields);
        json_object_set_new(u, f, wrong_type("string"));
        return (defect_t){ "schema", "string field wrong type" };
    case 6:
        f = below(2) ? "app_metadata" : "user_metadata";
        json_object_set_new(u, f, wrong_type("object"));
        return (defect_t){ "schema", "metadata wrong type" };
    case 7:
        json_object_set_new(u, PICK(extra), json_string("x"));
        return (defect_t){ "schema", "additional root property" };
    default:
        json_object_del(u, "custom_password_hash");
        json_object_set_new(u, "password_hash", wrong_type("string"));
        return (defect_t){ "schema", "password_hash wrong type" };
    }
}

static defect_t break_cph_shape(json_t *u, uint32_t k)
{
    json_t *c = cph_of(u, k < 9 ? MD5_CPH : HMAC_CPH);
    json_t *h = json_object_get(c, "hash");
    switch (k) {
    case 0:
        json_object_set_new(u, "custom_password_hash", wrong_type("object"));
        return (defect_t){ "schema", "custom hash wrong type" };
    case 1:
        json_object_del(c, "algorithm");
        return (defect_t){ "schema", "custom hash without algorithm" };
    case 2:
        json_object_del(c, "hash");
        return (defect_t){ "schema", "custom hash without hash" };
    case 3:
        json_object_set_new(c, "algorithm",
                            json_string(PICK(((const char *const[]){
                                "MD5", "sha384", "crypt", "" }))));
        return (defect_t){ "schema", "algorithm not in the enum" };
    case 4:
        json_object_set_new(c, "hash", wrong_type("object"));
        return (defect_t){ "schema", "hash wrong type" };
    case 5:
        json_object_set_new(h, "encoding", json_string("base32"));
        return (defect_t){ "schema", "hash.encoding not in the enum" };
    case 6:
        json_object_set_new(c, "salt",
                            json_pack("{s:s}", "position", "prefix"));
        return (defect_t){ "schema", "salt without value" };
    case 7:
        json_object_set_new(
            c, "salt",
            json_pack("{s:s,s:s}", "value", "s", "position", "middle"));
        return (defect_t){ "schema", "salt.position not in the enum" };
    case 8:
        json_object_set_new(c, below(2) ? "extra" : "Algorithm", json_true());
        return (defect_t){ "schema", "custom hash additional property" };
    case 9:
        json_object_set_new(h, "digest", json_string("sha3-256"));
        return (defect_t){ "schema", "hash.digest not in the enum" };
    case 10:
        json_object_set_new(h, "key", json_pack("{s:s}", "encoding", "hex"));
        return (defect_t){ "schema", "hash.key without value" };
    case 11:
        json_object_set_new(json_object_get(h, "key"), "encoding",
                            json_string("latin1"));
        return (defect_t){ "schema", "key.encoding not in the enum" };
    case 12:
        json_object_set_new(c, "password",
                            json_pack("{s:s}", "encoding", "utf-8"));
        return (defect_t){ "schema", "password.encoding not in the enum" };
    default:
        json_object_set_new(
            c,
            PICK(((const char *const[]){ "keylen", "cost", "blockSize",
                                         "parallelization" })),
            below(2) ? json_string("8") : json_real(1.5));
        return (defect_t){ "schema", "scrypt number wrong type" };
    }
}

static defect_t break_mfa(json_t *u, uint32_t k)
{
    json_t *f = json_array();
    json_array_append_new(f, valid_factor());
    json_object_set_new(u, "mfa_factors", f);
    json_t *item = NULL;
    switch (k) {
    case 0:
        json_object_set_new(u, "mfa_factors", wrong_type("array"));
        return (defect_t){ "schema", "mfa_factors wrong type" };
    case 1:
        json_array_clear(f);
        return (defect_t){ "schema", "mfa_factors empty" };
    case 2:
        for (int i = 0; i < 10; i++)
            json_array_append_new(f, valid_factor());
        return (defect_t){ "schema", "mfa_factors over 10" };
    case 3:
        json_array_append_new(f, wrong_type("object"));
        return (defect_t){ "schema", "factor wrong type" };
    case 4:
        item = json_pack("{s:{s:s},s:{s:s}}", "totp", "secret", "A", "phone",
                         "value", "+1");
        json_array_append_new(f, item);
        return (defect_t){ "schema", "factor with two kinds" };
    case 5:
        json_array_append_new(f, json_pack("{s:{s:s}}", "sms", "value", "+1"));
        return (defect_t){ "schema", "factor of unknown kind" };
    case 6:
        json_array_append_new(f, json_pack("{s:{}}", "totp"));
        return (defect_t){ "schema", "totp without secret" };
    case 7:
        json_array_append_new(
            f, json_pack("{s:{s:s}}", "totp", "secret",
                         PICK(((const char *const[]){
                             "jbswy3dp", "JBSW====", "ABC1", "" }))));
        return (defect_t){ "schema", "totp secret pattern" };
    case 8:
        json_array_append_new(
            f, json_pack(
                   "{s:{s:s}}", "phone", "value",
                   PICK(((const char *const[]){
                       "15550000001", "+1234567890123456", "+1 555", "+" }))));
        return (defect_t){ "schema", "phone value pattern" };
    case 9:
        json_array_append_new(
            f, json_pack("{s:{s:s}}", "email", "value", PICK(bad_emails)));
        return (defect_t){ "schema", "email factor format" };
    case 10:
        json_array_append_new(f, json_pack("{s:{s:s,s:b}}", "phone", "value",
                                           "+1", "primary", 1));
        return (defect_t){ "schema", "factor additional property" };
    default:
        json_array_append_new(f, json_pack("{s:{s:i}}", "email", "value", 1));
        return (defect_t){ "schema", "email factor wrong type" };
    }
}

/* Defects only the documented rules beside the schema describe. */
static defect_t break_rule(json_t *u, uint32_t k)
{
    static const char *const cph[] = {
        "{\"algorithm\":\"bcrypt\",\"hash\":{\"value\":\"$2b$10$" BCRYPT_BODY
        "\",\"encoding\":\"hex\"}}",
        "{\"algorithm\":\"bcrypt\",\"hash\":{\"value\":\"$2x$10$" BCRYPT_BODY
        "\"}}",
        "{\"algorithm\":\"argon2\",\"hash\":{\"value\":\"plain\"}}",
        "{\"algorithm\":\"argon2\",\"hash\":{\"value\":\"$argon2i$x\"},"
        "\"salt\":{\"value\":\"s\"}}",
        "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00\",\"encoding\":"
        "\"hex\",\"key\":{\"value\":\"k\"}}}",
        "{\"algorithm\":\"hmac\",\"hash\":{\"value\":\"00\",\"encoding\":"
        "\"hex\",\"digest\":\"sha1\"}}",
        "{\"algorithm\":\"md5\",\"hash\":{\"value\":\"00\",\"digest\":"
        "\"md5\"}}",
        "{\"algorithm\":\"sha256\",\"hash\":{\"value\":\"00\",\"encoding\":"
        "\"utf8\"}}",
        "{\"algorithm\":\"ldap\",\"hash\":{\"value\":\"{CRYPT}abc\"}}",
        "{\"algorithm\":\"pbkdf2\",\"hash\":{\"value\":\"pbkdf2-sha1\"}}",
        "{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"}}",
        "{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},\"keylen\":0}",
        "{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"00\"},\"keylen\":8,"
        "\"cost\":1000}",
        "{\"algorithm\":\"md5\",\"hash\":{\"value\":\"00\",\"key\":"
        "{\"value\":\"k\"}}}",
    };
    if (k < sizeof cph / sizeof *cph) {
        cph_of(u, cph[k]);
        return (defect_t){ "rule", "custom hash algorithm rule" };
    }
    json_object_del(u, "custom_password_hash");
    if (k == sizeof cph / sizeof *cph) {
        json_object_set_new(u, "password_hash",
                            json_string("$2b$10$" BCRYPT_BODY));
        json_object_set_new(u, "custom_password_hash",
                            json_loads(MD5_CPH, 0, NULL));
        return (defect_t){ "rule", "both hash fields" };
    }
    json_object_set_new(
        u, "password_hash",
        json_string(PICK(((const char *const[]){
            "$2y$10$" BCRYPT_BODY, "$2b$12$" BCRYPT_BODY, "$2a$04$" BCRYPT_BODY,
            "$2$10$" BCRYPT_BODY, "plain", "" }))));
    return (defect_t){ "rule", "password_hash not bcrypt $2a$/$2b$ cost 10" };
}

static defect_t break_one(json_t **u, uint32_t i)
{
    switch (i % 5) {
    case 0:
        return break_root(*u, below(9));
    case 1:
        return break_cph_shape(*u, below(14));
    case 2:
        return break_mfa(*u, below(12));
    case 3:
        return break_rule(*u, below(16));
    default:
        if (below(10) == 0) {
            json_decref(*u);
            *u = wrong_type("object");
            return (defect_t){ "schema", "record not an object" };
        }
        return break_root(*u, below(9));
    }
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 3000;
    if (argc > 2)
        rng ^= strtoull(argv[2], NULL, 10) * 0x9E3779B97F4A7C15ULL;
    for (unsigned long i = 0; i < n; i++) {
        json_t *u = valid_record();
        defect_t d = { "valid", "valid" };
        if (i % 4 != 0)
            d = break_one(&u, (uint32_t)i);
        char code[48], path[256], msg[200];
        int ok = validate_import_user(u, code, sizeof code, path, sizeof path,
                                      msg, sizeof msg) == 0;
        char *text = json_dumps(u, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s\t%s\t%d\t%s\t%s\t%s\n", d.cls, d.label, ok, ok ? "-" : code,
               ok ? "-" : path, text);
        free(text);
        json_decref(u);
    }
    return 0;
}
