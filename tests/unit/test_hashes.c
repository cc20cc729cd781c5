/* Unit tests for hashes: lookups by _id.$oid and alt_id with and without
 * the auth0| prefix, usage counts, bad rows failing the load with the line
 * named and no hash quoted, and the shared sample file when present. */
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
#include "util.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/a0hashes.XXXXXX");
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

/* A bcrypt-shaped value: "$2b$10$" and 53 characters derived from c. */
static char *fake_hash(char c)
{
    char body[54];
    memset(body, c, 53);
    body[53] = '\0';
    return xasprintf("$2b$10$%s", body);
}

static char *write_file(const char *name, const char *data)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *row(const char *oid, const char *alt, const char *hash)
{
    if (alt)
        return xasprintf("{\"_id\":{\"$oid\":\"%s\"},\"alt_id\":\"%s\","
                         "\"email\":\"u@example.test\",\"passwordHash\":"
                         "\"%s\"}\r\n",
                         oid, alt, hash);
    return xasprintf("{\"_id\":{\"$oid\":\"%s\"},\"email\":\"u@example.test\","
                     "\"passwordHash\":\"%s\",\"password_set_date\":"
                     "{\"$date\":\"2024-03-01T10:00:00.000Z\"}}\n",
                     oid, hash);
}

static hashes_t *load_rows(const char *name, char **rows, size_t n)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "\xEF\xBB\xBF");
    for (size_t i = 0; i < n; i++)
        buf_puts(&b, rows[i]);
    char *path = write_file(name, b.data);
    char *err = NULL;
    hashes_t *h = hashes_load(path, &err);
    if (!h)
        fail_msg("load failed: %s", err);
    assert_null(err);
    buf_free(&b);
    free(path);
    return h;
}

static void test_find_by_oid_and_alt_id(void **state)
{
    (void)state;
    char *h1 = fake_hash('a'), *h2 = fake_hash('b'), *h3 = fake_hash('c');
    char *rows[] = { row("5f0000000000000000000001", NULL, h1),
                     row("5f0000000000000000000002", "12345", h2),
                     row("5f0000000000000000000003", "auth0|x", h3) };
    hashes_t *h = load_rows("ok.ndjson", rows, 3);
    assert_int_equal(hashes_count(h), 3);
    assert_int_equal(hashes_unused(h), 3);

    assert_string_equal(hashes_find(h, "auth0|5f0000000000000000000001"), h1);
    assert_int_equal(hashes_unused(h), 2);
    assert_string_equal(hashes_find(h, "5f0000000000000000000001"), h1);
    assert_int_equal(hashes_unused(h), 2);

    /* alt_id, the custom id a user was first imported with. */
    assert_string_equal(hashes_find(h, "auth0|12345"), h2);
    assert_string_equal(hashes_find(h, "12345"), h2);
    assert_string_equal(hashes_find(h, "5f0000000000000000000002"), h2);
    assert_int_equal(hashes_unused(h), 1);

    /* Exactly one prefix is removed. */
    assert_string_equal(hashes_find(h, "auth0|auth0|x"), h3);
    assert_null(hashes_find(h, "auth0|auth0|auth0|x"));
    assert_null(hashes_find(h, "x"));
    assert_int_equal(hashes_unused(h), 0);

    assert_null(hashes_find(h, "auth0|5f0000000000000000000009"));
    assert_null(hashes_find(h, "google-oauth2|5f0000000000000000000001"));
    assert_null(hashes_find(h, ""));
    assert_null(hashes_find(NULL, "auth0|12345"));

    hashes_destroy(&h);
    assert_null(h);
    hashes_destroy(NULL);
    for (int i = 0; i < 3; i++)
        free(rows[i]);
    free(h1);
    free(h2);
    free(h3);
}

/* Loads data expecting failure; returns the error. */
static char *load_fail(const char *data, char **path)
{
    *path = write_file("bad.ndjson", data);
    char *err = NULL;
    assert_null(hashes_load(*path, &err));
    assert_non_null(err);
    assert_null(strstr(err, "$2b$"));
    assert_null(strchr(err, '@'));
    return err;
}

static void expect_load_error(const char *data, int line, const char *why)
{
    char *path;
    char *err = load_fail(data, &path);
    char *want = xasprintf("%s:%d: %s", path, line, why);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(path);
}

static void test_bad_rows_fail_the_load(void **state)
{
    (void)state;
    char *hash = fake_hash('z');
    char *good = row("5f0000000000000000000001", NULL, hash);
    char *dup = row("5f0000000000000000000001", NULL, hash);
    char *alt_clash =
        row("5f0000000000000000000002", "5f0000000000000000000001", hash);

    char *doc = xasprintf("%s\n{\"_id\":{\"$oid\":\"x\"},\"email\":"
                          "\"u@example.test\"}\n",
                          good);
    expect_load_error(doc, 3, "passwordHash missing or not a non-empty string");
    free(doc);

    doc =
        xasprintf("%s{\"_id\":\"abc\",\"passwordHash\":\"%s\"}\n", good, hash);
    expect_load_error(doc, 2, "_id.$oid missing or not a usable string");
    free(doc);

    doc = xasprintf("{\"_id\":{\"$oid\":\"a\"},\"alt_id\":7,"
                    "\"passwordHash\":\"%s\"}\n",
                    hash);
    expect_load_error(doc, 1, "alt_id is not a usable string");
    free(doc);

    doc = xasprintf("%s%s", good, dup);
    expect_load_error(doc, 2, "_id.$oid already indexed by an earlier row");
    free(doc);

    doc = xasprintf("%s%s", good, alt_clash);
    expect_load_error(doc, 2, "alt_id already indexed by an earlier row");
    free(doc);

    doc = xasprintf("%s{\"passwordHash\":\"%s\",\n", good, hash);
    char *path;
    char *err = load_fail(doc, &path);
    char *want = xasprintf("%s:2: invalid JSON at column ", path);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    free(want);
    free(err);
    free(path);
    free(doc);

    free(good);
    free(dup);
    free(alt_clash);
    free(hash);
}

static void test_overlong_row_and_missing_file(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{\"_id\":{\"$oid\":\"a\"},\"pad\":\"");
    for (int i = 0; i < 70000; i++)
        buf_puts(&b, "p");
    buf_puts(&b, "\"}\n");
    char *path;
    char *err = load_fail(b.data, &path);
    char *want = xasprintf("%s:1: record longer than 65536 bytes", path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(path);
    buf_free(&b);

    err = NULL;
    path = xasprintf("%s/none.ndjson", tmpdir);
    assert_null(hashes_load(path, &err));
    want = xasprintf("%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(path);
}

static void test_empty_file(void **state)
{
    (void)state;
    hashes_t *h = load_rows("empty.ndjson", NULL, 0);
    assert_int_equal(hashes_count(h), 0);
    assert_int_equal(hashes_unused(h), 0);
    assert_null(hashes_find(h, "auth0|x"));
    hashes_destroy(&h);
}

/* Enough rows to grow the table several times. */
static void test_many_rows(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    char *hash = fake_hash('m');
    for (int i = 0; i < 50000; i++)
        buf_printf(&b,
                   "{\"_id\":{\"$oid\":\"%024x\"},\"alt_id\":\"legacy-%d\","
                   "\"passwordHash\":\"%s\"}\n",
                   i, i, hash);
    char *path = write_file("many.ndjson", b.data);
    char *err = NULL;
    hashes_t *h = hashes_load(path, &err);
    assert_non_null(h);
    assert_int_equal(hashes_count(h), 50000);
    for (int i = 0; i < 50000; i += 7) {
        char id[40];
        snprintf(id, sizeof id, "auth0|%024x", i);
        assert_string_equal(hashes_find(h, id), hash);
    }
    assert_string_equal(hashes_find(h, "auth0|legacy-49999"), hash);
    assert_int_equal(hashes_unused(h), 50000 - 7143 - 1);
    hashes_destroy(&h);
    free(path);
    free(hash);
    buf_free(&b);
}

static void test_shared_sample(void **state)
{
    (void)state;
    const char *shared = getenv("A0_SHARED");
    char *path =
        shared ? xasprintf("%s/data/source-password-hashes.ndjson", shared)
               : NULL;
    if (!path || access(path, R_OK) != 0) {
        free(path);
        skip();
    }
    char *err = NULL;
    hashes_t *h = hashes_load(path, &err);
    assert_non_null(h);
    assert_int_equal(hashes_count(h), 16);
    assert_int_equal(hashes_unused(h), 16);
    const char *alt = hashes_find(h, "auth0|legacy-0014");
    assert_non_null(alt);
    assert_ptr_equal(alt, hashes_find(h, "5f000000000000000000000e"));
    assert_true(strncmp(hashes_find(h, "auth0|5f0000000000000000000012"),
                        "$2y$12$", 7) == 0);
    assert_null(hashes_find(h, "auth0|5f0000000000000000000006"));
    assert_int_equal(hashes_unused(h), 14);
    hashes_destroy(&h);
    free(path);
}

/* The wrong file given as the hash file is refused by its kind. */
static void test_wrong_kind_of_file(void **state)
{
    (void)state;
    expect_load_error("{\"user_id\":\"auth0|1\",\"email\":\"u1@x.test\"}\n", 1,
                      "this is a Management API export; expected a support "
                      "password-hash file (_id.$oid, passwordHash)");
    expect_load_error("{\"Id\":\"auth0|1\"}\n", 1,
                      "this is a extension/Dashboard export (display column "
                      "names); expected a support password-hash file "
                      "(_id.$oid, passwordHash)");
    char *hash = fake_hash('q');
    char *good = row("5f0000000000000000000001", NULL, hash);
    char *doc = xasprintf("%s{\"user_id\":\"auth0|2\"}\n", good);
    expect_load_error(doc, 2,
                      "this is a Management API export; expected a support "
                      "password-hash file (_id.$oid, passwordHash)");
    free(doc);
    free(good);
    free(hash);
}

/* Escaped ids and hashes are indexed decoded; a row's ids share storage
 * with its hash and all survive many rows. */
static void test_escaped_values(void **state)
{
    (void)state;
    char *hash = fake_hash('e');
    char *doc = xasprintf("{\"_id\":{\"$oid\":\"5f\\u0030\"},\"alt_id\":"
                          "\"a\\u007cb\",\"passwordHash\":\"%s\"}\n",
                          hash);
    char *path = write_file("esc.ndjson", doc);
    char *err = NULL;
    hashes_t *h = hashes_load(path, &err);
    assert_non_null(h);
    assert_string_equal(hashes_find(h, "auth0|5f0"), hash);
    assert_string_equal(hashes_find(h, "a|b"), hash);
    assert_null(hashes_find(h, "5f\\u0030"));
    assert_int_equal(hashes_count(h), 1);
    assert_int_equal(hashes_unused(h), 0);
    hashes_destroy(&h);
    free(path);
    free(doc);
    free(hash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_by_oid_and_alt_id),
        cmocka_unit_test(test_bad_rows_fail_the_load),
        cmocka_unit_test(test_overlong_row_and_missing_file),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_shared_sample),
        cmocka_unit_test(test_wrong_kind_of_file),
        cmocka_unit_test(test_escaped_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
