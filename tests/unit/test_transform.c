/* Unit tests for transform: exact import objects for each rule (id prefix,
 * kept and dropped fields, email_verified coercion, value rules, metadata
 * keys, password-hash placement), the deferred and invalid classes with
 * their reasons and paths, the record-level cases of the public bug
 * reports (BR-xx), and the outcome of every record of the shared sample
 * export (tests/data/README.md explains each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashes.h"
#include "pack.h"
#include "reader.h"
#include "transform.h"
#include "util.h"
#include "validate.h"

#define BODY   "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
#define MD5HEX "5eb63bbbe01eeed093cb22bb8f5acdc3"
#define SHA256HEX \
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define ID "\"user_id\":\"auth0|abc\""
#define EM "\"email\":\"u1@example.test\""
#define DB                                                                  \
    "\"identities\":[{\"connection\":\"Username-Password-Authentication\"," \
    "\"user_id\":\"abc\",\"provider\":\"auth0\",\"isSocial\":false}]"
/* Start of every minimal import object built from ID and EM. */
#define OUT_HEAD "{\"email\":\"u1@example.test\",\"email_verified\":false,"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/a0xform.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static void run(const char *src, const hashes_t *h, xf_user_t *u)
{
    json_error_t je;
    json_t *j = json_loads(src, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", src, je.text);
    xf_opts_t opts = { h, 0 };
    assert_int_equal(transform_user(j, &opts, u), 0);
    json_decref(j);
}

/* The import object must equal want and pass the validator again. */
static void expect_import_h(const char *src, const hashes_t *h,
                            const char *want, xf_user_t *u)
{
    run(src, h, u);
    if (u->kind != XF_IMPORT)
        fail_msg("%s: kind %d, path '%s': %s", src, u->kind, u->path,
                 u->reason);
    assert_string_equal(u->json, want);
    assert_int_equal(u->json_len, strlen(want));
    json_t *j = json_loads(u->json, 0, NULL);
    assert_int_equal(validate_import_user(j, NULL, 0, NULL, 0, NULL, 0), 0);
    json_decref(j);
}

static void expect_import(const char *src, const char *want)
{
    xf_user_t u;
    expect_import_h(src, NULL, want, &u);
    xf_user_clear(&u);
}

static void expect_invalid_h(const char *src, const hashes_t *h,
                             const char *path, const char *reason)
{
    xf_user_t u;
    run(src, h, &u);
    if (u.kind != XF_INVALID)
        fail_msg("%s: kind %d, want invalid at %s", src, u.kind, path);
    assert_string_equal(u.path, path);
    assert_string_equal(u.reason, reason);
    assert_null(u.json);
    assert_null(strchr(u.reason, '@'));
    assert_null(strstr(u.reason, "$2"));
    xf_user_clear(&u);
}

static void expect_invalid(const char *src, const char *path,
                           const char *reason)
{
    expect_invalid_h(src, NULL, path, reason);
}

/* Like expect_invalid, for schema failures whose message is the
 * validator's: only the prefix with the code is compared. */
static void expect_schema_invalid(const char *src, const char *path,
                                  const char *code)
{
    xf_user_t u;
    run(src, NULL, &u);
    assert_int_equal(u.kind, XF_INVALID);
    assert_string_equal(u.path, path);
    char *prefix = xasprintf("import schema check failed: %s: ", code);
    if (strncmp(u.reason, prefix, strlen(prefix)) != 0)
        fail_msg("reason '%s' does not start with '%s'", u.reason, prefix);
    free(prefix);
    xf_user_clear(&u);
}

static void expect_deferred(const char *src, const char *connection,
                            const char *reason)
{
    xf_user_t u;
    run(src, NULL, &u);
    assert_int_equal(u.kind, XF_DEFERRED);
    assert_string_equal(u.reason, reason);
    if (connection)
        assert_string_equal(u.connection, connection);
    else
        assert_null(u.connection);
    assert_null(u.json);
    assert_null(strchr(u.reason, '@'));
    xf_user_clear(&u);
}

/* ---- fields ---- */

static const char full_export[] =
    "{\"logins_count\":3,\"email\":\"Jane.Doe@Example.test\","
    "\"identities\":[{\"connection\":\"Username-Password-Authentication\","
    "\"user_id\":\"abc\",\"provider\":\"auth0\",\"isSocial\":false},"
    "{\"connection\":\"github\",\"user_id\":\"77\",\"provider\":\"github\","
    "\"isSocial\":true}],"
    "\"user_metadata\":{\"theme\":\"dark\"},\"name\":\"Jane Doe\","
    "\"user_id\":\"auth0|abc\",\"created_at\":\"2024-01-01T00:00:00.000Z\","
    "\"given_name\":\"Jane\",\"family_name\":\"Doe\",\"nickname\":\"jd\","
    "\"picture\":\"https://p.test/j.png\",\"phone_number\":\"+15550000001\","
    "\"phone_verified\":true,\"blocked\":false,\"username\":\"Jane_Doe\","
    "\"email_verified\":\"TRUE\",\"app_metadata\":{\"plan\":\"pro\"},"
    "\"updated_at\":\"2024-01-02T00:00:00.000Z\","
    "\"last_login\":\"2024-01-03T00:00:00.000Z\",\"last_ip\":\"192.0.2.1\","
    "\"last_password_reset\":\"2024-01-01T00:00:00.000Z\","
    "\"multifactor\":[\"guardian\"],"
    "\"multifactor_last_modified\":\"2024-01-01T00:00:00.000Z\","
    "\"blocked_for\":[],\"guardian_authenticators\":[],\"locale\":\"en\","
    "\"gender\":\"f\"}";

static const char full_import[] =
    "{\"email\":\"Jane.Doe@Example.test\",\"email_verified\":true,"
    "\"user_id\":\"abc\",\"username\":\"Jane_Doe\",\"given_name\":\"Jane\","
    "\"family_name\":\"Doe\",\"name\":\"Jane Doe\",\"nickname\":\"jd\","
    "\"picture\":\"https://p.test/j.png\",\"phone_number\":\"+15550000001\","
    "\"phone_verified\":true,\"blocked\":false,"
    "\"app_metadata\":{\"plan\":\"pro\"},"
    "\"user_metadata\":{\"theme\":\"dark\"}}";

static void test_full_export_record(void **state)
{
    (void)state;
    xf_user_t u;
    expect_import_h(full_export, NULL, full_import, &u);
    assert_string_equal(u.source_id, "auth0|abc");
    assert_string_equal(u.connection, "Username-Password-Authentication");
    assert_string_equal(u.email_key, "jane.doe@example.test");
    assert_string_equal(u.username, "Jane_Doe");
    assert_string_equal(u.username_key, "jane_doe");
    assert_string_equal(u.dropped,
                        "logins_count,identities,created_at,updated_at,"
                        "last_login,last_ip,last_password_reset,multifactor,"
                        "multifactor_last_modified,blocked_for,"
                        "guardian_authenticators,locale,gender");
    assert_int_equal(u.has_password, 0);
    assert_int_equal(u.custom_hash, 0);
    assert_int_equal(u.linked_identities, 1);
    assert_int_equal(u.mfa_reenrol, 1);
    assert_string_equal(u.reason, "");
    assert_string_equal(u.path, "");
    assert_string_equal(u.warning, "");
    xf_user_clear(&u);
    assert_null(u.json);
    assert_null(u.source_id);
    xf_user_clear(NULL);
}

static void test_key_order_is_fixed(void **state)
{
    (void)state;
    expect_import("{\"nickname\":\"n\",\"blocked\":true," EM "," ID "}",
                  OUT_HEAD "\"user_id\":\"abc\",\"nickname\":\"n\","
                           "\"blocked\":true}");
    expect_import("{" ID ",\"blocked\":true,\"nickname\":\"n\"," EM "}",
                  OUT_HEAD "\"user_id\":\"abc\",\"nickname\":\"n\","
                           "\"blocked\":true}");
}

static void test_null_and_empty_fields_are_dropped(void **state)
{
    (void)state;
    xf_user_t u;
    expect_import_h("{" ID "," EM ",\"given_name\":\"\",\"family_name\":null,"
                    "\"name\":\"N\",\"nickname\":\"\",\"picture\":null,"
                    "\"username\":\"\",\"phone_number\":null,"
                    "\"phone_verified\":null,\"blocked\":null,"
                    "\"app_metadata\":null,\"user_metadata\":null,"
                    "\"email_verified\":null}",
                    NULL, OUT_HEAD "\"user_id\":\"abc\",\"name\":\"N\"}", &u);
    assert_string_equal(u.dropped,
                        "given_name,family_name,nickname,picture,username,"
                        "phone_number,phone_verified,blocked,app_metadata,"
                        "user_metadata");
    assert_null(u.username);
    assert_null(u.connection);
    xf_user_clear(&u);
}

static void test_field_types(void **state)
{
    (void)state;
    expect_invalid("{" ID "," EM ",\"given_name\":5}", "given_name",
                   "given_name is not a string");
    expect_invalid("{" ID "," EM ",\"name\":[\"a\"]}", "name",
                   "name is not a string");
    expect_invalid("{" ID "," EM ",\"picture\":{}}", "picture",
                   "picture is not a string");
    expect_invalid("{" ID "," EM ",\"blocked\":\"true\"}", "blocked",
                   "blocked is not a boolean");
    expect_invalid("{" ID "," EM ",\"phone_verified\":1}", "phone_verified",
                   "phone_verified is not a boolean");
    expect_invalid("{" ID "," EM ",\"username\":7}", "username",
                   "username is not a string");
    expect_invalid("{" ID "," EM ",\"user_metadata\":[]}", "user_metadata",
                   "user_metadata is not an object");
    expect_invalid("{" ID "," EM ",\"app_metadata\":\"x\"}", "app_metadata",
                   "app_metadata is not an object");
    expect_invalid("{" ID "," EM ",\"identities\":{}}", "identities",
                   "identities is not an array");
    expect_invalid("{" ID "," EM ",\"identities\":[{\"provider\":1}]}",
                   "identities[0].provider",
                   "primary identity has no provider");
    expect_invalid("{" ID "," EM ",\"identities\":[\"auth0\"]}",
                   "identities[0].provider",
                   "primary identity has no provider");
}

static void test_not_an_object(void **state)
{
    (void)state;
    xf_user_t u;
    json_t *arr = json_array();
    xf_opts_t opts = { NULL, 0 };
    transform_user(arr, &opts, &u);
    assert_int_equal(u.kind, XF_INVALID);
    assert_string_equal(u.reason, "record is not a JSON object");
    json_decref(arr);
    xf_user_clear(&u);
}

/* ---- user_id (BR-02) ---- */

static void test_user_id_prefix(void **state)
{
    (void)state;
    xf_user_t u;
    /* A source id left by an earlier botched import is legal data: it is
     * sent as auth0|x and the target ends with auth0|auth0|x, as now. */
    expect_import_h("{\"user_id\":\"auth0|auth0|x\"," EM "}", NULL,
                    OUT_HEAD "\"user_id\":\"auth0|x\"}", &u);
    assert_string_equal(u.source_id, "auth0|auth0|x");
    xf_user_clear(&u);

    expect_import_h("{\"user_id\":\"auth0|a|b:c@d e\"," EM "}", NULL,
                    OUT_HEAD "\"user_id\":\"a|b:c@d e\"}", &u);
    assert_string_equal(u.source_id, "auth0|a|b:c@d e");
    xf_user_clear(&u);

    expect_import("{\"user_id\":\"auth0|5f0000000000000000000001\"," EM "}",
                  OUT_HEAD "\"user_id\":\"5f0000000000000000000001\"}");

    expect_invalid("{" EM "}", "user_id", "user_id is missing");
    expect_invalid("{\"user_id\":null," EM "}", "user_id",
                   "user_id is missing");
    expect_invalid("{\"user_id\":12345," EM "}", "user_id",
                   "user_id is not a string");
    expect_invalid("{\"user_id\":\"auth0|\"," EM "}", "user_id",
                   "user_id is empty after auth0|");
    expect_invalid("{\"user_id\":\"12345\"," EM "}", "user_id",
                   "user_id has no provider prefix and the record has no "
                   "identities");
    /* A database identity whose user_id lacks the prefix is refused, not
     * guessed at. */
    expect_invalid("{\"user_id\":\"legacy|abc\"," EM "," DB "}", "user_id",
                   "database user's user_id lacks the auth0| prefix");
}

/* The strip happens once per source record. A transformed object fed back
 * in (no prefix, no identities) is refused rather than stripped again;
 * an id that still starts with auth0| after one strip cannot be told from
 * a source id, which is why retries resend stored batch bytes and never
 * re-run the transform on them. */
static void test_transform_is_not_reapplied(void **state)
{
    (void)state;
    xf_user_t u;
    run("{\"user_id\":\"auth0|5f00\"," EM "}", NULL, &u);
    assert_int_equal(u.kind, XF_IMPORT);
    char *again = xstrdup(u.json);
    xf_user_clear(&u);
    expect_invalid(again, "user_id",
                   "user_id has no provider prefix and the record has no "
                   "identities");
    free(again);
}

/* ---- classification (BR-24) ---- */

static void test_deferred_primaries(void **state)
{
    (void)state;
    expect_deferred("{\"user_id\":\"google-oauth2|1044\"," EM ",\"identities\":"
                    "[{\"provider\":\"google-oauth2\",\"user_id\":\"1044\","
                    "\"connection\":\"google-oauth2\",\"isSocial\":true}]}",
                    "google-oauth2",
                    "primary identity is social (provider google-oauth2): not "
                    "importable, recreated at first login");
    /* BR-24: a Facebook user with a numeric identity id and no e-mail. */
    expect_deferred("{\"user_id\":\"facebook|10000000010\",\"identities\":"
                    "[{\"provider\":\"facebook\",\"connection\":\"facebook\","
                    "\"user_id\":10000000010,\"isSocial\":true}],"
                    "\"name\":\"N1\"}",
                    "facebook",
                    "primary identity is social (provider facebook): not "
                    "importable, recreated at first login");
    expect_deferred("{\"user_id\":\"samlp|corp-idp|u1@corp.example.test\","
                    "\"identities\":[{\"provider\":\"samlp\",\"connection\":"
                    "\"corp-idp\",\"user_id\":\"corp-idp|u1@corp.example."
                    "test\",\"isSocial\":false}]}",
                    "corp-idp",
                    "primary identity is enterprise (provider samlp): not "
                    "importable, recreated at first login");
    expect_deferred("{\"user_id\":\"email|61f0\"," EM ",\"identities\":"
                    "[{\"provider\":\"email\",\"connection\":\"email\","
                    "\"user_id\":\"61f0\",\"isSocial\":false}]}",
                    "email",
                    "primary identity is passwordless (provider email): not "
                    "importable, recreated at first login");
    /* Without identities the provider is the user_id up to its first '|'. */
    expect_deferred("{\"user_id\":\"sms|61f1\",\"phone_number\":\"+1555\"}",
                    NULL,
                    "primary identity is passwordless (provider sms): not "
                    "importable, recreated at first login");
    expect_deferred("{\"user_id\":\"samlp|corp|u1@x.test\"," EM "}", NULL,
                    "primary identity is social or enterprise (provider "
                    "samlp): not importable, recreated at first login");
    expect_deferred("{\"user_id\":\"we ird@x|1\"," EM "}", NULL,
                    "primary identity is social or enterprise (provider "
                    "(unnamed)): not importable, recreated at first login");
    /* An auth0 user whose id carries another provider's prefix still
     * follows identities[0]. */
    expect_deferred("{\"user_id\":\"auth0|x\"," EM ",\"identities\":"
                    "[{\"provider\":\"github\",\"connection\":\"github\","
                    "\"isSocial\":true}]}",
                    "github",
                    "primary identity is social (provider github): not "
                    "importable, recreated at first login");
}

static void test_deferred_keeps_keys(void **state)
{
    (void)state;
    xf_user_t u;
    run("{\"user_id\":\"google-oauth2|1\",\"email\":\"A@B.test\","
        "\"multifactor\":[\"guardian\"],\"identities\":[{\"provider\":"
        "\"google-oauth2\",\"connection\":\"google-oauth2\"}]}",
        NULL, &u);
    assert_int_equal(u.kind, XF_DEFERRED);
    assert_string_equal(u.source_id, "google-oauth2|1");
    assert_string_equal(u.email_key, "a@b.test");
    assert_int_equal(u.mfa_reenrol, 1);
    assert_string_equal(u.dropped, "");
    xf_user_clear(&u);
}

/* ---- email and email_verified (BR-12) ---- */

typedef struct {
    const char *value; /* JSON text, or NULL for absent */
    int want;          /* 1 true, 0 false, -1 invalid */
} verified_case_t;

static void test_email_verified_coercion(void **state)
{
    (void)state;
    static const verified_case_t cases[] = {
        { "true", 1 },      { "false", 0 },      { "\"true\"", 1 },
        { "\"TRUE\"", 1 },  { "\"True\"", 1 },   { "\"false\"", 0 },
        { "\"FaLsE\"", 0 }, { "1", 1 },          { "0", 0 },
        { "null", 0 },      { NULL, 0 },         { "\"yes\"", -1 },
        { "\"1\"", -1 },    { "\"\"", -1 },      { "2", -1 },
        { "-1", -1 },       { "1.0", -1 },       { "[]", -1 },
        { "{}", -1 },       { "\"true \"", -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *src = cases[i].value
                        ? xasprintf("{" ID "," EM ",\"email_verified\":%s}",
                                    cases[i].value)
                        : xasprintf("{" ID "," EM "}");
        if (cases[i].want < 0) {
            expect_invalid(src, "email_verified",
                           "email_verified is not a boolean, "
                           "\"true\"/\"false\" or 1/0");
        } else {
            char *want = xasprintf("{\"email\":\"u1@example.test\","
                                   "\"email_verified\":%s,"
                                   "\"user_id\":\"abc\"}",
                                   cases[i].want ? "true" : "false");
            expect_import(src, want);
            free(want);
        }
        free(src);
    }
}

static void test_email_rules(void **state)
{
    (void)state;
    expect_invalid("{" ID "}", "email", "email is missing or empty");
    expect_invalid("{" ID ",\"email\":null}", "email",
                   "email is missing or empty");
    expect_invalid("{" ID ",\"email\":\"\"}", "email",
                   "email is missing or empty");
    expect_invalid("{" ID ",\"email\":42}", "email", "email is not a string");

    /* BR-12 and its twins. */
    static const char *const bad[] = { "u1@", " u1@example.test",
                                       "u1@example.test ", "u1@example",
                                       "u1@@example.test" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *src = xasprintf("{" ID ",\"email\":\"%s\"}", bad[i]);
        expect_invalid(src, "email", "email is not a valid address");
        free(src);
    }
    static const char *const good[] = { "u1@ex\xC3\xA4mple.test",
                                        ("\xC3\xBC"
                                         "1@example.test"),
                                        "u1@xn--exmple-cua.test" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char *src = xasprintf("{" ID ",\"email\":\"%s\"}", good[i]);
        char *want = xasprintf("{\"email\":\"%s\",\"email_verified\":false,"
                               "\"user_id\":\"abc\"}",
                               good[i]);
        expect_import(src, want);
        free(src);
        free(want);
    }
}

/* ---- value rules ---- */

static void test_phone_number(void **state)
{
    (void)state;
    expect_import("{" ID "," EM ",\"phone_number\":\"+123456789012345\"}",
                  OUT_HEAD "\"user_id\":\"abc\","
                           "\"phone_number\":\"+123456789012345\"}");
    expect_import("{" ID "," EM ",\"phone_number\":\"+1\"}",
                  OUT_HEAD "\"user_id\":\"abc\",\"phone_number\":\"+1\"}");
    static const char *const bad[] = { "+",           "+1234567890123456",
                                       "15550000001", "+1 555 0000",
                                       "+1-555",      "++1" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *src =
            xasprintf("{" ID "," EM ",\"phone_number\":\"%s\"}", bad[i]);
        expect_invalid(src, "phone_number",
                       "phone_number is not E.164 (+ and 1 to 15 digits)");
        free(src);
    }
}

static void test_username(void **state)
{
    (void)state;
    expect_import("{" ID "," EM ",\"username\":\"a@b\"}",
                  OUT_HEAD "\"user_id\":\"abc\",\"username\":\"a@b\"}");
    expect_import("{" ID "," EM ",\"username\":\"x`^$!-#.+'~_9\"}",
                  OUT_HEAD "\"user_id\":\"abc\","
                           "\"username\":\"x`^$!-#.+'~_9\"}");
    char u128[129], u129[130];
    memset(u128, 'u', 128);
    u128[128] = '\0';
    memset(u129, 'u', 129);
    u129[129] = '\0';
    char *src = xasprintf("{" ID "," EM ",\"username\":\"%s\"}", u128);
    char *want =
        xasprintf(OUT_HEAD "\"user_id\":\"abc\",\"username\":\"%s\"}", u128);
    expect_import(src, want);
    free(src);
    free(want);
    src = xasprintf("{" ID "," EM ",\"username\":\"%s\"}", u129);
    expect_invalid(src, "username", "username is longer than 128 characters");
    free(src);
    expect_invalid("{" ID "," EM ",\"username\":\"john doe\"}", "username",
                   "username has a character outside letters, digits and "
                   "the symbols Auth0 allows");
    expect_invalid("{" ID "," EM ",\"username\":\"j\xC3\xB6rg\"}", "username",
                   "username has a character outside letters, digits and "
                   "the symbols Auth0 allows");
    expect_invalid("{" ID "," EM ",\"username\":\"john@example.test\"}",
                   "username", "username must not be an e-mail address");
}

/* ---- metadata (BR-25) ---- */

static void test_metadata_keys(void **state)
{
    (void)state;
    static const char *dot = "metadata key contains '.' or '$'";
    expect_invalid("{" ID "," EM ",\"user_metadata\":{\"prefs\":{\"ok\":1,"
                   "\"a.b\":2}}}",
                   "user_metadata.prefs.a.b", dot);
    expect_invalid("{" ID "," EM ",\"user_metadata\":{\"list\":[1,"
                   "{\"x$y\":0}]}}",
                   "user_metadata.list[1].x$y", dot);
    expect_invalid("{" ID "," EM ",\"user_metadata\":{\"$set\":1}}",
                   "user_metadata.$set", dot);
    /* Keys that may be e-mail addresses are not echoed. */
    expect_invalid("{" ID "," EM ",\"user_metadata\":{\"contacts\":"
                   "{\"u2@example.test\":true}}}",
                   "user_metadata.contacts.<key>", dot);
    /* BR-25 minimal input: the namespaced key is found first. */
    expect_invalid("{" ID "," EM ",\"app_metadata\":{\"https://ns.example."
                   "test/roles\":[\"r\"],\"plan\":{\"$ref\":\"x\"}}}",
                   "app_metadata.https://ns.example.test/roles", dot);
    expect_invalid("{" ID "," EM ",\"app_metadata\":{\"plan\":"
                   "{\"$ref\":\"x\"}}}",
                   "app_metadata.plan.$ref", dot);
    static const char *const reserved[] = {
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
    };
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        char *src = xasprintf("{" ID "," EM ",\"app_metadata\":{\"ok\":1,"
                              "\"%s\":1}}",
                              reserved[i]);
        char *path = xasprintf("app_metadata.%s", reserved[i]);
        expect_invalid(src, path, "app_metadata key is reserved by Auth0");
        free(src);
        free(path);
    }
    /* Reserved names matter at the top of app_metadata only. */
    expect_import("{" ID "," EM ",\"app_metadata\":{\"x\":{\"clientID\":1}},"
                  "\"user_metadata\":{\"email\":\"e\"}}",
                  OUT_HEAD "\"user_id\":\"abc\",\"app_metadata\":{\"x\":"
                           "{\"clientID\":1}},\"user_metadata\":"
                           "{\"email\":\"e\"}}");
}

static void test_metadata_depth(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{" ID "," EM ",\"user_metadata\":{\"a\":");
    for (int i = 0; i < 130; i++)
        buf_puts(&b, "[");
    for (int i = 0; i < 130; i++)
        buf_puts(&b, "]");
    buf_puts(&b, "}}");
    xf_user_t u;
    run(b.data, NULL, &u);
    assert_int_equal(u.kind, XF_INVALID);
    assert_string_equal(u.reason, "metadata nested deeper than 128 levels");
    assert_true(strncmp(u.path, "user_metadata.a[0][0]", 21) == 0);
    xf_user_clear(&u);
    buf_free(&b);
}

/* ---- password hashes (BR-04, BR-05, BR-06) ---- */

static hashes_t *load_hash_file(void)
{
    static const char *const rows[][3] = {
        { "000000000000000000000001", NULL, "$2b$10$" BODY },
        { "000000000000000000000002", NULL, "$2a$10$" BODY },
        { "000000000000000000000003", NULL, "$2y$10$" BODY },
        { "000000000000000000000004", NULL, "$2b$12$" BODY },
        { "000000000000000000000005", "12345", "$2b$10$" BODY },
        { "000000000000000000000006", NULL, "$1$saltsalt$hashhashhash" },
        { "000000000000000000000007", NULL, "$2x$10$" BODY },
        { "000000000000000000000008", NULL, "$2b$03$" BODY },
        { "000000000000000000000009", NULL, "$2b$10$" BODY },
    };
    char *path = xasprintf("%s/hashes.ndjson", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        fprintf(f, "{\"_id\":{\"$oid\":\"%s\"},", rows[i][0]);
        if (rows[i][1])
            fprintf(f, "\"alt_id\":\"%s\",", rows[i][1]);
        fprintf(f, "\"passwordHash\":\"%s\"}\n", rows[i][2]);
    }
    assert_int_equal(fclose(f), 0);
    char *err = NULL;
    hashes_t *h = hashes_load(path, &err);
    assert_non_null(h);
    free(path);
    return h;
}

#define UID(n)    "{\"user_id\":\"auth0|00000000000000000000000" #n "\"," EM "}"
#define OUT_ID(n) OUT_HEAD "\"user_id\":\"00000000000000000000000" #n "\","
#define CUSTOM(h)                                                  \
    "\"custom_password_hash\":{\"algorithm\":\"bcrypt\",\"hash\":" \
    "{\"value\":\"" h "\",\"encoding\":\"utf8\"}}}"

static void expect_hash(const hashes_t *h, const char *src, const char *want,
                        int custom)
{
    xf_user_t u;
    expect_import_h(src, h, want, &u);
    assert_int_equal(u.has_password, 1);
    assert_int_equal(u.custom_hash, custom);
    xf_user_clear(&u);
}

static void test_hash_join(void **state)
{
    (void)state;
    hashes_t *h = load_hash_file();
    assert_int_equal(hashes_unused(h), 9);
    expect_hash(h, UID(1), OUT_ID(1) "\"password_hash\":\"$2b$10$" BODY "\"}",
                0);
    expect_hash(h, UID(2), OUT_ID(2) "\"password_hash\":\"$2a$10$" BODY "\"}",
                0);
    /* BR-06: $2y$ and other costs are bcrypt Auth0 verifies, but only
     * through custom_password_hash. */
    expect_hash(h, UID(3), OUT_ID(3) CUSTOM("$2y$10$" BODY), 1);
    expect_hash(h, UID(4), OUT_ID(4) CUSTOM("$2b$12$" BODY), 1);
    /* BR-04: the profile id is the alt_id of the hash row. */
    expect_hash(h, "{\"user_id\":\"auth0|12345\"," EM "}",
                OUT_HEAD "\"user_id\":\"12345\",\"password_hash\":"
                         "\"$2b$10$" BODY "\"}",
                0);
    expect_invalid_h(UID(6), h, "password_hash",
                     "unsupported password hash format");
    expect_invalid_h(UID(7), h, "password_hash",
                     "unsupported password hash format");
    expect_invalid_h(UID(8), h, "password_hash",
                     "unsupported password hash format");

    /* No row: imported without a hash. */
    xf_user_t u;
    expect_import_h("{\"user_id\":\"auth0|nohash\"," EM "}", h,
                    OUT_HEAD "\"user_id\":\"nohash\"}", &u);
    assert_int_equal(u.has_password, 0);
    xf_user_clear(&u);

    /* Deferred users are not matched; an invalid database user still
     * consumes its row, so "rows matching no user" stays exact. */
    expect_invalid_h("{\"user_id\":\"auth0|000000000000000000000009\"}", h,
                     "email", "email is missing or empty");
    assert_int_equal(hashes_unused(h), 0);
    hashes_destroy(&h);
}

static void test_hashes_in_the_record(void **state)
{
    (void)state;
    /* BR-05: both fields in one record. */
    expect_invalid("{" ID "," EM ",\"password_hash\":\"$2b$10$" BODY "\","
                   "\"custom_password_hash\":{\"algorithm\":\"sha512\","
                   "\"hash\":{\"value\":\"00\",\"encoding\":\"hex\"}}}",
                   "custom_password_hash",
                   "record has both password_hash and custom_password_hash");
    /* A record-borne bcrypt hash is placed like a hash-file one. */
    xf_user_t u;
    expect_import_h("{" ID "," EM ",\"password_hash\":\"$2y$10$" BODY "\"}",
                    NULL,
                    OUT_HEAD "\"user_id\":\"abc\"," CUSTOM("$2y$10$" BODY), &u);
    assert_int_equal(u.custom_hash, 1);
    assert_string_equal(u.dropped, "password_hash");
    xf_user_clear(&u);
    expect_import("{" ID "," EM ",\"custom_password_hash\":{\"algorithm\":"
                  "\"md5\",\"hash\":{\"value\":\"" MD5HEX "\",\"encoding\":"
                  "\"hex\"}}}",
                  OUT_HEAD "\"user_id\":\"abc\",\"custom_password_hash\":"
                           "{\"algorithm\":\"md5\",\"hash\":{\"value\":"
                           "\"" MD5HEX "\",\"encoding\":\"hex\"}}}");
    expect_schema_invalid("{" ID "," EM ",\"custom_password_hash\":"
                          "{\"algorithm\":\"md5\"}}",
                          "custom_password_hash.hash", "OBJECT_REQUIRED");
    expect_invalid("{" ID "," EM ",\"password_hash\":\"secret-plain\"}",
                   "password_hash", "unsupported password hash format");
    expect_invalid("{" ID "," EM ",\"password_hash\":5}", "password_hash",
                   "password_hash is not a string");

    /* One hash from the record and one from the file: refused. */
    hashes_t *h = load_hash_file();
    expect_invalid_h("{\"user_id\":\"auth0|000000000000000000000001\"," EM
                     ",\"password_hash\":\"$2b$10$" BODY "\"}",
                     h, "password_hash",
                     "record carries a password hash and the hash file has "
                     "one too");
    hashes_destroy(&h);
}

/* BR-08: a custom hash whose value cannot be what its encoding and
 * algorithm say would import fine and then fail every login. */
static void test_custom_hash_encoding(void **state)
{
    (void)state;
#define CPH(body) "{" ID "," EM ",\"custom_password_hash\":" body "}"
    static const char *value_path = "custom_password_hash.hash.value";
    expect_invalid(
        CPH("{\"algorithm\":\"sha256\",\"hash\":{\"value\":\"" SHA256HEX
            "\",\"encoding\":\"base64\"}}"),
        value_path,
        "custom_password_hash: Value looks hex but is declared "
        "base64");
    expect_invalid(CPH("{\"algorithm\":\"md5\",\"hash\":{\"value\":"
                       "\"XrY7u+Ae7tCTyyK7j1rNww==\",\"encoding\":\"hex\"}}"),
                   value_path, "custom_password_hash: Value is not hex");
    expect_invalid(CPH("{\"algorithm\":\"sha1\",\"hash\":{\"value\":"
                       "\"XrY7u+Ae7tCTyyK7j1rNww==\",\"encoding\":"
                       "\"base64\"}}"),
                   value_path,
                   "custom_password_hash: Value length does not match the "
                   "digest size");
    expect_invalid(CPH("{\"algorithm\":\"md5\",\"hash\":{\"value\":\"" MD5HEX
                       "\",\"encoding\":\"hex\"},\"salt\":{\"value\":"
                       "\"s\"}}"),
                   "custom_password_hash.salt.position",
                   "custom_password_hash: Salt position must be stated, not "
                   "left to the default");
    expect_invalid(CPH("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"" MD5HEX
                       "\",\"encoding\":\"hex\"},\"keylen\":64}"),
                   value_path,
                   "custom_password_hash: Value length does not match the "
                   "digest size");
    expect_import(CPH("{\"algorithm\":\"md5\",\"hash\":{\"value\":"
                      "\"XrY7u+Ae7tCTyyK7j1rNww==\",\"encoding\":\"base64\"},"
                      "\"salt\":{\"value\":\"s\",\"position\":\"suffix\"}}"),
                  OUT_HEAD "\"user_id\":\"abc\",\"custom_password_hash\":"
                           "{\"algorithm\":\"md5\",\"hash\":{\"value\":"
                           "\"XrY7u+Ae7tCTyyK7j1rNww==\",\"encoding\":"
                           "\"base64\"},\"salt\":{\"value\":\"s\","
                           "\"position\":\"suffix\"}}}");
    expect_import(CPH("{\"algorithm\":\"scrypt\",\"hash\":{\"value\":\"" MD5HEX
                      "\",\"encoding\":\"hex\"},\"keylen\":16}"),
                  OUT_HEAD "\"user_id\":\"abc\",\"custom_password_hash\":"
                           "{\"algorithm\":\"scrypt\",\"hash\":{\"value\":"
                           "\"" MD5HEX "\",\"encoding\":\"hex\"},"
                           "\"keylen\":16}}");
#undef CPH
}

/* ---- MFA factors (BR-31) ---- */

static void test_mfa_factors(void **state)
{
    (void)state;
    expect_schema_invalid("{" ID "," EM ",\"mfa_factors\":[{\"phone\":"
                          "{\"value\":\"+15550000001\"}},{\"totp\":"
                          "{\"secret\":\"jbswy3dpehpk3pnp====\"}}]}",
                          "mfa_factors[1].totp.secret", "PATTERN");
    expect_import("{" ID "," EM ",\"mfa_factors\":[{\"phone\":{\"value\":"
                  "\"+15550000001\"}},{\"totp\":{\"secret\":"
                  "\"JBSWY3DPEHPK3PNP\"}}]}",
                  OUT_HEAD "\"user_id\":\"abc\",\"mfa_factors\":[{\"phone\":"
                           "{\"value\":\"+15550000001\"}},{\"totp\":"
                           "{\"secret\":\"JBSWY3DPEHPK3PNP\"}}]}");
}

/* ---- duplicates (BR-11) ---- */

static void test_duplicate_keys(void **state)
{
    (void)state;
    xf_user_t a, b;
    run("{\"user_id\":\"auth0|1\",\"email\":\"u1@example.test\","
        "\"username\":\"Bob\"}",
        NULL, &a);
    run("{\"user_id\":\"auth0|2\",\"email\":\"U1@Example.test\","
        "\"username\":\"bob\"}",
        NULL, &b);
    assert_int_equal(a.kind, XF_IMPORT);
    assert_int_equal(b.kind, XF_IMPORT);
    assert_string_equal(a.email_key, b.email_key);
    assert_string_equal(a.email_key, "u1@example.test");
    assert_string_equal(a.username_key, b.username_key);
    assert_string_equal(a.username, "Bob");
    xf_user_clear(&a);
    xf_user_clear(&b);
}

/* ---- sizes (BR-15, appendix A) ---- */

static char *metadata_user(size_t bytes)
{
    char *pad = xmalloc(bytes + 1);
    memset(pad, 'x', bytes);
    pad[bytes] = '\0';
    char *src =
        xasprintf("{" ID "," EM ",\"user_metadata\":{\"blob\":\"%s\"}}", pad);
    free(pad);
    return src;
}

static void test_large_profiles(void **state)
{
    (void)state;
    xf_user_t u;
    char *src = metadata_user(20 * 1024);
    run(src, NULL, &u);
    assert_int_equal(u.kind, XF_IMPORT);
    assert_string_equal(u.warning,
                        "profile is 20574 bytes, over Auth0's advisory 10240");
    xf_user_clear(&u);
    free(src);

    /* 600 KB: still a valid object, but no batch can carry it. */
    src = metadata_user(600 * 1024);
    run(src, NULL, &u);
    assert_int_equal(u.kind, XF_IMPORT);
    pack_t *p = pack_new(500000, 1000);
    assert_int_equal(pack_add(p, u.source_id, u.json, u.json_len), -1);
    pack_destroy(&p);
    xf_user_clear(&u);
    free(src);

    run("{" ID "," EM "}", NULL, &u);
    assert_string_equal(u.warning, "");
    xf_user_clear(&u);
}

static void test_dropped_list_is_bounded(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{" ID "," EM);
    for (int i = 0; i < 100; i++)
        buf_printf(&b, ",\"extra_field_%03d\":1", i);
    buf_puts(&b, "}");
    xf_user_t u;
    run(b.data, NULL, &u);
    assert_int_equal(u.kind, XF_IMPORT);
    size_t n = strlen(u.dropped);
    assert_true(n < sizeof u.dropped);
    assert_string_equal(u.dropped + n - 4, ",...");
    assert_true(strncmp(u.dropped, "extra_field_000,extra_field_001,", 32) ==
                0);
    xf_user_clear(&u);
    buf_free(&b);
}

/* ---- the indexed path copies source bytes ---- */

static void run_doc(const char *src, const xf_opts_t *opts, xf_user_t *u)
{
    jdoc_t *d = jdoc_new();
    if (jdoc_parse(d, src, strlen(src)) < 0)
        fail_msg("bad test JSON: %s: %s", src, jdoc_error(d));
    assert_int_equal(transform_doc(d, opts, u), 0);
    jdoc_destroy(&d);
}

static void expect_valid_import(const xf_user_t *u, const char *want)
{
    if (u->kind != XF_IMPORT)
        fail_msg("kind %d, path '%s': %s", u->kind, u->path, u->reason);
    assert_string_equal(u->json, want);
    json_t *j = json_loads(u->json, 0, NULL);
    assert_non_null(j);
    assert_int_equal(validate_import_user(j, NULL, 0, NULL, 0, NULL, 0), 0);
    json_decref(j);
}

static void test_source_bytes_are_kept(void **state)
{
    (void)state;
    xf_user_t u;
    /* Spacing and escapes inside kept values stay as written; an escaped
     * user id is re-encoded after its prefix is removed. */
    run_doc("{ \"user_id\" : \"auth0|a\\u0062c\", \"email\" : "
            "\"u1@example.test\", \"name\": \"J\\u00e9r\\u00f4me \\\"J\\\"\","
            " \"user_metadata\" : { \"k\" : [1, 2.50, {\"z\": null}] } }",
            NULL, &u);
    expect_valid_import(&u, "{\"email\":\"u1@example.test\",\"email_verified\""
                            ":false,\"user_id\":\"abc\",\"name\":\"J\\u00e9r"
                            "\\u00f4me \\\"J\\\"\",\"user_metadata\":{ \"k\" "
                            ": [1, 2.50, {\"z\": null}] }}");
    assert_string_equal(u.source_id, "auth0|abc");
    xf_user_clear(&u);

    /* An escaped key is still recognised. */
    run_doc("{\"user_id\":\"auth0|x\",\"em\\u0061il\":\"u1@example.test\","
            "\"nick\\u006eame\":\"n\"}",
            NULL, &u);
    expect_valid_import(&u, OUT_HEAD "\"user_id\":\"x\",\"nickname\":\"n\"}");
    assert_string_equal(u.dropped, "");
    xf_user_clear(&u);
}

/* ---- metadata rewriting ---- */

static void test_rewrite_metadata_keys(void **state)
{
    (void)state;
    xf_opts_t opts = { NULL, 1 };
    xf_user_t u;
    run_doc("{" ID "," EM ",\"app_metadata\":{\"clientID\":\"c\",\"plan\":1,"
            "\"x\":{\"clientID\":2}},\"user_metadata\":{\"a.b\":1,\"l\":"
            "[{\"$d\":[true]}],\"ok\":\"v.w$\"}}",
            &opts, &u);
    expect_valid_import(&u, OUT_HEAD "\"user_id\":\"abc\",\"app_metadata\":"
                                     "{\"src_clientID\":\"c\",\"plan\":1,"
                                     "\"x\":{\"clientID\":2}},"
                                     "\"user_metadata\":{\"a_b\":1,\"l\":"
                                     "[{\"_d\":[true]}],\"ok\":\"v.w$\"}}");
    assert_int_equal(u.rewritten, 3);
    assert_string_equal(u.warning, "metadata keys rewritten: 3 (first at "
                                   "app_metadata.clientID)");
    xf_user_clear(&u);

    /* Without the option the same record is refused at the first key. */
    run_doc("{" ID "," EM ",\"user_metadata\":{\"a.b\":1}}", NULL, &u);
    assert_int_equal(u.kind, XF_INVALID);
    assert_string_equal(u.path, "user_metadata.a.b");
    assert_int_equal(u.rewritten, 0);
    xf_user_clear(&u);

    /* A rewrite may not merge two keys. */
    run_doc("{" ID "," EM ",\"user_metadata\":{\"p\":{\"a.b\":1,\"a_b\":2}}}",
            &opts, &u);
    assert_int_equal(u.kind, XF_INVALID);
    assert_string_equal(u.path, "user_metadata.p.a_b");
    assert_string_equal(u.reason, "metadata key rewritten to a name the "
                                  "object already has");
    assert_null(u.json);
    xf_user_clear(&u);
    run_doc("{" ID "," EM ",\"app_metadata\":{\"src_email\":1,\"email\":2}}",
            &opts, &u);
    assert_int_equal(u.kind, XF_INVALID);
    assert_string_equal(u.path, "app_metadata.email");
    xf_user_clear(&u);

    /* A clean record is copied untouched and nothing is counted. */
    run_doc("{" ID "," EM ",\"user_metadata\":{\"a\":1}}", &opts, &u);
    expect_valid_import(&u, OUT_HEAD "\"user_id\":\"abc\",\"user_metadata\":"
                                     "{\"a\":1}}");
    assert_int_equal(u.rewritten, 0);
    assert_string_equal(u.warning, "");
    xf_user_clear(&u);
}

/* ---- target connection rules ---- */

static void test_username_rules(void **state)
{
    (void)state;
    const xf_rules_t strict = { 1, 3, 8 };
    const xf_rules_t loose = { 0, XF_USERNAME_MIN_DEFAULT,
                               XF_USERNAME_MAX_DEFAULT };
    xf_user_t u;
    run("{" ID "," EM "}", NULL, &u);
    assert_int_equal(transform_apply_rules(&u, &loose), 0);
    assert_int_equal(u.kind, XF_IMPORT);
    assert_int_equal(transform_apply_rules(&u, &strict), -1);
    assert_int_equal(u.kind, XF_INVALID);
    assert_string_equal(u.path, "username");
    assert_string_equal(u.reason, "the target connection requires a username "
                                  "and the record has none");
    assert_null(u.json);
    assert_int_equal(u.json_len, 0);
    xf_user_clear(&u);

    run("{" ID "," EM ",\"username\":\"ab\"}", NULL, &u);
    assert_int_equal(transform_apply_rules(&u, &strict), -1);
    assert_string_equal(u.reason, "username is 2 characters; the target "
                                  "connection allows 3 to 8");
    xf_user_clear(&u);
    run("{" ID "," EM ",\"username\":\"abcdefghijklmnop\"}", NULL, &u);
    assert_int_equal(transform_apply_rules(&u, &loose), -1);
    assert_string_equal(u.reason, "username is 16 characters; the target "
                                  "connection allows 1 to 15");
    xf_user_clear(&u);
    run("{" ID "," EM ",\"username\":\"abc\"}", NULL, &u);
    assert_int_equal(transform_apply_rules(&u, &strict), 0);
    assert_int_equal(u.kind, XF_IMPORT);
    assert_int_equal(transform_apply_rules(&u, NULL), 0);
    xf_user_clear(&u);
    /* Only importable users are judged. */
    run("{\"user_id\":\"github|1\"," EM "}", NULL, &u);
    assert_int_equal(transform_apply_rules(&u, &strict), 0);
    assert_int_equal(u.kind, XF_DEFERRED);
    xf_user_clear(&u);
}

/* ---- case folding of e-mails and usernames ---- */

static void test_case_folding(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        { "Jane.DOE@Example.TEST", "jane.doe@example.test" },
        { "\xC3\x84\xC3\x96\xC3\x9C@x.test",
          "\xC3\xA4\xC3\xB6\xC3\xBC@x.test" },
        { "\xC3\x97\xC3\x9F", "\xC3\x97\xC3\x9F" }, /* U+00D7, U+00DF */
        { "\xC4\x80\xC4\xB9\xC5\xB8", "\xC4\x81\xC4\xBA\xC3\xBF" }, /* Ā Ĺ Ÿ */
        { "\xC4\xB0", "\xC4\xB0" },                 /* U+0130 kept */
        { "\xCE\x91\xCE\xA3", "\xCE\xB1\xCF\x83" }, /* Α Σ */
        { "\xD0\x96\xD0\x81", "\xD0\xB6\xD1\x91" }, /* Ж Ё */
        { "\xE2\x84\xAA", "\xE2\x84\xAA" },         /* 3-byte kept */
        { "\xC3", "\xC3" },                         /* cut short */
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        char *f = transform_fold(pairs[i][0], strlen(pairs[i][0]));
        assert_string_equal(f, pairs[i][1]);
        free(f);
    }
    xf_user_t u;
    run("{" ID ",\"email\":\"\xC3\x84NN@Example.test\",\"username\":\"BoB\"}",
        NULL, &u);
    assert_string_equal(u.email_key, "\xC3\xA4nn@example.test");
    assert_string_equal(u.username_key, "bob");
    xf_user_clear(&u);
}

/* Record-borne custom hashes go through the plausibility checks. */
static void test_custom_hash_plausibility(void **state)
{
    (void)state;
    expect_invalid("{" ID "," EM ",\"custom_password_hash\":{\"algorithm\":"
                   "\"pbkdf2\",\"hash\":{\"value\":\"$pbkdf2-sha256$i=1000,"
                   "l=32$c2FsdA$aGFzaA\"}}}",
                   "custom_password_hash.hash.value",
                   "custom_password_hash: PBKDF2 hash length does not match l "
                   "(default 64)");
    expect_invalid("{" ID "," EM ",\"custom_password_hash\":{\"algorithm\":"
                   "\"argon2\",\"hash\":{\"value\":\"$argon2id$v=19$m=1,t=1"
                   "$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2g\"}}}",
                   "custom_password_hash.hash.value",
                   "custom_password_hash: Argon2 parameters are not "
                   "m=..,t=..,p=.. with positive numbers");
}

/* argon2 and pbkdf2 PHC strings, from the record or the hash file, go to
 * custom_password_hash once plausible. */
static void test_phc_hashes(void **state)
{
    (void)state;
#define ARGON2                                                          \
    "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$ThGV3wIN5Z4" \
    "NZaM6QnnxGD565OXZgOMJ+LVa3/LmHD4"
#define PBKDF2                                                     \
    "$pbkdf2-sha256$i=1000,l=32$c2FsdA$ThGV3wIN5Z4NZaM6QnnxGD565O" \
    "XZgOMJ+LVa3/LmHD4"
    xf_user_t u;
    expect_import_h("{" ID "," EM ",\"password_hash\":\"" PBKDF2 "\"}", NULL,
                    OUT_HEAD "\"user_id\":\"abc\",\"custom_password_hash\":"
                             "{\"algorithm\":\"pbkdf2\",\"hash\":{\"value\":"
                             "\"" PBKDF2 "\",\"encoding\":\"utf8\"}}}",
                    &u);
    assert_int_equal(u.has_password, 1);
    assert_int_equal(u.custom_hash, 1);
    xf_user_clear(&u);

    char *path = xasprintf("%s/phc.ndjson", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"_id\":{\"$oid\":\"p1\"},\"passwordHash\":\"" ARGON2 "\"}\n"
          "{\"_id\":{\"$oid\":\"p2\"},\"passwordHash\":\"$argon2id$v=19$"
          "m=1$c2FsdA$aGFzaA\"}\n",
          f);
    assert_int_equal(fclose(f), 0);
    hashes_t *h = hashes_load(path, NULL);
    assert_non_null(h);
    expect_import_h("{\"user_id\":\"auth0|p1\"," EM "}", h,
                    OUT_HEAD "\"user_id\":\"p1\",\"custom_password_hash\":"
                             "{\"algorithm\":\"argon2\",\"hash\":{\"value\":"
                             "\"" ARGON2 "\",\"encoding\":\"utf8\"}}}",
                    &u);
    assert_int_equal(u.custom_hash, 1);
    xf_user_clear(&u);
    expect_invalid_h("{\"user_id\":\"auth0|p2\"," EM "}", h, "password_hash",
                     "unsupported password hash format: Argon2 parameters "
                     "are not m=..,t=..,p=.. with positive numbers");
    hashes_destroy(&h);
    free(path);
#undef ARGON2
#undef PBKDF2
}

/* ---- the shared sample export ---- */

typedef struct {
    const char *id;
    xf_kind_t kind;
    const char *path; /* XF_INVALID */
    int has_password;
    int custom_hash;
    const char *connection;
    size_t linked;
    int mfa;
    int warning;
} sample_t;

#define UPA "Username-Password-Authentication"

/* Why each outcome is right: tests/data/README.md. */
static const sample_t sample[] = {
    { "auth0|5f0000000000000000000001", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000002", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000003", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000004", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000005", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000006", XF_IMPORT, "", 0, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000007", XF_IMPORT, "", 1, 0, UPA, 0, 1, 0 },
    { "auth0|5f0000000000000000000008", XF_IMPORT, "", 1, 0, UPA, 1, 0, 0 },
    { "google-oauth2|104400000000000000009", XF_DEFERRED, "", 0, 0,
      "google-oauth2", 0, 0, 0 },
    { "facebook|10000000010", XF_DEFERRED, "", 0, 0, "facebook", 0, 0, 0 },
    { "samlp|corp-idp|user11@corp.example.test", XF_DEFERRED, "", 0, 0,
      "corp-idp", 0, 0, 0 },
    { "auth0|5f000000000000000000000c", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f000000000000000000000d", XF_INVALID,
      "app_metadata.https://ns.example.test/roles", 0, 0, UPA, 0, 0, 0 },
    { "auth0|legacy-0014", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f000000000000000000000f", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000010", XF_IMPORT, "", 1, 0, "legacy-db", 0, 0,
      0 },
    { "auth0|5f0000000000000000000011", XF_IMPORT, "", 1, 0, UPA, 0, 0, 1 },
    { "auth0|5f0000000000000000000012", XF_IMPORT, "", 1, 1, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000013", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
    { "auth0|5f0000000000000000000014", XF_IMPORT, "", 1, 0, UPA, 0, 0, 0 },
};

/* Exact objects for the records that exercise a rule each. */
static const char *const sample_json[][2] = {
    { "auth0|5f0000000000000000000001",
      "{\"email\":\"user1@example.test\",\"email_verified\":true,"
      "\"user_id\":\"5f0000000000000000000001\",\"given_name\":\"Given1\","
      "\"family_name\":\"Family1\",\"name\":\"user1@example.test\","
      "\"nickname\":\"user1\",\"password_hash\":\"$2b$10$KIB5sWJ3SgFc3pbn7iI"
      "ibOXSPpDaH6HKqsGE.u/npam9hRAxxytSO\",\"app_metadata\":{\"plan\":"
      "\"pro\",\"roles\":[\"admin\"]},\"user_metadata\":{\"theme\":\"dark\","
      "\"locale\":\"en-GB\"}}" },
    { "auth0|5f0000000000000000000003",
      "{\"email\":\"user3@example.test\",\"email_verified\":true,"
      "\"user_id\":\"5f0000000000000000000003\",\"username\":\"user_three\","
      "\"name\":\"user3@example.test\",\"nickname\":\"user3\","
      "\"password_hash\":\"$2b$10$U9J7i52eANj2l1XwvJSQRuLc1QUxPHpPVsDCk7x0e"
      "qnwcGaFFSABa\"}" },
    { "auth0|5f0000000000000000000004",
      "{\"email\":\"user4@example.test\",\"email_verified\":true,"
      "\"user_id\":\"5f0000000000000000000004\",\"name\":\"user4@example."
      "test\",\"nickname\":\"user4\",\"blocked\":true,\"password_hash\":"
      "\"$2b$10$Yrq6WkPb6PJZq5UESmOLzujEHhJPlMcb6RzREHp2lRZ8c.6bafpA.\"}" },
    { "auth0|5f0000000000000000000006",
      "{\"email\":\"user6@example.test\",\"email_verified\":true,"
      "\"user_id\":\"5f0000000000000000000006\",\"name\":\"user6@example."
      "test\",\"nickname\":\"user6\"}" },
    { "auth0|legacy-0014",
      "{\"email\":\"user14@example.test\",\"email_verified\":true,"
      "\"user_id\":\"legacy-0014\",\"name\":\"user14@example.test\","
      "\"nickname\":\"user14\",\"password_hash\":\"$2b$10$qz402p3zxN6yf3H3MZ"
      "tKZ.an41ytFQzO7PO.tFVaFrNzWMguJ04Ya\"}" },
    { "auth0|5f000000000000000000000f",
      "{\"email\":\"user15@example.test\",\"email_verified\":true,"
      "\"user_id\":\"5f000000000000000000000f\",\"name\":\"user15@example."
      "test\",\"nickname\":\"user15\",\"picture\":\"https://img.example.test/"
      "u15.png\",\"phone_number\":\"+15550000015\",\"password_hash\":"
      "\"$2b$10$jenz1JPNlbohsPwovl428u4YyBg6ajhec389S.vqmZRnNjmPnNCHG\"}" },
    { "auth0|5f0000000000000000000012",
      "{\"email\":\"user18@example.test\",\"email_verified\":true,"
      "\"user_id\":\"5f0000000000000000000012\",\"name\":\"user18@example."
      "test\",\"nickname\":\"user18\",\"custom_password_hash\":{\"algorithm\":"
      "\"bcrypt\",\"hash\":{\"value\":\"$2y$12$GMiSgtErztbX.MlJTdXAq.Th8G81N"
      "EvfM.cOMdQf/bBhiAJGHfBpG\",\"encoding\":\"utf8\"}}}" },
};

static char *shared_path(const char *rel)
{
    const char *shared = getenv("A0_SHARED");
    if (!shared)
        return NULL;
    char *p = xasprintf("%s/%s", shared, rel);
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    return NULL;
}

static const char *sample_exact(const char *id)
{
    for (size_t i = 0; i < sizeof sample_json / sizeof *sample_json; i++)
        if (strcmp(sample_json[i][0], id) == 0)
            return sample_json[i][1];
    return NULL;
}

static void check_sample(const sample_t *want, const xf_user_t *u)
{
    if (u->kind != want->kind)
        fail_msg("%s: kind %d, want %d (%s)", want->id, u->kind, want->kind,
                 u->reason);
    assert_string_equal(u->path, want->path);
    assert_int_equal(u->has_password, want->has_password);
    assert_int_equal(u->custom_hash, want->custom_hash);
    assert_string_equal(u->connection, want->connection);
    assert_int_equal(u->linked_identities, want->linked);
    assert_int_equal(u->mfa_reenrol, want->mfa);
    assert_int_equal(u->warning[0] != '\0', want->warning);
    const char *exact = sample_exact(want->id);
    if (exact)
        assert_string_equal(u->json, exact);
    assert_null(strchr(u->reason, '@'));
}

static void test_shared_sample_export(void **state)
{
    (void)state;
    char *users = shared_path("data/source-export.ndjson");
    char *hashes = shared_path("data/source-password-hashes.ndjson");
    if (!users || !hashes) {
        free(users);
        free(hashes);
        skip();
    }
    hashes_t *h = hashes_load(hashes, NULL);
    assert_non_null(h);
    reader_t *r = reader_new(users, 0, NULL);
    assert_non_null(r);
    size_t n = 0;
    json_t *rec;
    while (reader_next(r, &rec) == READER_RECORD) {
        assert_true(n < sizeof sample / sizeof *sample);
        xf_opts_t opts = { h, 0 };
        xf_user_t u;
        transform_user(rec, &opts, &u);
        assert_string_equal(u.source_id, sample[n].id);
        check_sample(&sample[n], &u);
        xf_user_clear(&u);
        json_decref(rec);
        n++;
    }
    assert_int_equal(n, sizeof sample / sizeof *sample);
    assert_int_equal(hashes_unused(h), 0);
    reader_destroy(&r);
    hashes_destroy(&h);
    free(users);
    free(hashes);
}

/* The two users that differ only in e-mail case share one key: the
 * coordinator's duplicate check (BR-11) sees them. */
static void test_shared_sample_duplicates(void **state)
{
    (void)state;
    xf_user_t a, b;
    run("{\"user_id\":\"auth0|5f0000000000000000000013\",\"email\":"
        "\"dup20@example.test\"}",
        NULL, &a);
    run("{\"user_id\":\"auth0|5f0000000000000000000014\",\"email\":"
        "\"DUP20@example.test\"}",
        NULL, &b);
    assert_string_equal(a.email_key, "dup20@example.test");
    assert_string_equal(b.email_key, "dup20@example.test");
    xf_user_clear(&a);
    xf_user_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_export_record),
        cmocka_unit_test(test_key_order_is_fixed),
        cmocka_unit_test(test_null_and_empty_fields_are_dropped),
        cmocka_unit_test(test_field_types),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_user_id_prefix),
        cmocka_unit_test(test_transform_is_not_reapplied),
        cmocka_unit_test(test_deferred_primaries),
        cmocka_unit_test(test_deferred_keeps_keys),
        cmocka_unit_test(test_email_verified_coercion),
        cmocka_unit_test(test_email_rules),
        cmocka_unit_test(test_phone_number),
        cmocka_unit_test(test_username),
        cmocka_unit_test(test_metadata_keys),
        cmocka_unit_test(test_metadata_depth),
        cmocka_unit_test(test_hash_join),
        cmocka_unit_test(test_hashes_in_the_record),
        cmocka_unit_test(test_custom_hash_encoding),
        cmocka_unit_test(test_mfa_factors),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_large_profiles),
        cmocka_unit_test(test_dropped_list_is_bounded),
        cmocka_unit_test(test_source_bytes_are_kept),
        cmocka_unit_test(test_rewrite_metadata_keys),
        cmocka_unit_test(test_username_rules),
        cmocka_unit_test(test_case_folding),
        cmocka_unit_test(test_custom_hash_plausibility),
        cmocka_unit_test(test_phc_hashes),
        cmocka_unit_test(test_shared_sample_export),
        cmocka_unit_test(test_shared_sample_duplicates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
