/* Unit tests for reader: NDJSON, JSON-array and CSV framing, plain and gzip
 * (single and concatenated members, truncated), BOM, CRLF, blank lines,
 * bad and overlong records, structural errors; the CSV export's escaping,
 * field paths and display names; recognition of the kind of file and the
 * refusal of unknown and mixed files; the indexed (jdoc) path giving the
 * same records. Inputs are written into a fresh temporary directory by
 * each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "reader.h"
#include "shape.h"
#include "util.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/a0reader.XXXXXX");
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

static char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static char *write_plain(const char *name, const char *data, size_t len)
{
    char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Appends one gzip member holding data ("ab" mode starts a new member). */
static void append_gz_member(const char *path, const char *data, size_t len)
{
    gzFile gz = gzopen(path, "ab");
    assert_non_null(gz);
    if (len)
        assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static char *write_gz(const char *name, const char *data, size_t len)
{
    char *path = tmp_path(name);
    unlink(path);
    append_gz_member(path, data, len);
    return path;
}

static reader_t *open_ok(const char *path, size_t max)
{
    char *err = NULL;
    reader_t *r = reader_new(path, max, &err);
    assert_null(err);
    assert_non_null(r);
    return r;
}

/* Reads one record and checks its "a" member and reader_line. */
static void expect_record(reader_t *r, json_int_t a, size_t line)
{
    json_t *rec = NULL;
    int rc = reader_next(r, &rec);
    if (rc != READER_RECORD)
        fail_msg("expected a record, got %d: %s", rc, reader_error(r));
    assert_int_equal(json_integer_value(json_object_get(rec, "a")), a);
    assert_int_equal(reader_line(r), line);
    json_decref(rec);
}

static void expect_bad(reader_t *r, const char *message)
{
    json_t *rec = NULL;
    assert_int_equal(reader_next(r, &rec), READER_BAD);
    assert_null(rec);
    assert_string_equal(reader_error(r), message);
}

static void expect_eof(reader_t *r)
{
    json_t *rec = NULL;
    assert_int_equal(reader_next(r, &rec), READER_EOF);
    assert_null(rec);
    assert_int_equal(reader_next(r, &rec), READER_EOF);
}

/* BR-01: an export is NDJSON, gzip in real life, with the variants seen in
 * the wild: BOM on line 1, CRLF, blank lines, no final newline. */
static const char tolerant[] = "\xEF\xBB\xBF{\"a\":1}\r\n"
                               "\r\n"
                               "   \n"
                               "{\"a\":2}\r\n"
                               "\n"
                               "{\"a\":3}";

static void test_ndjson_bom_crlf_blank_no_final_newline(void **state)
{
    (void)state;
    char *path = write_plain("t.ndjson", tolerant, sizeof tolerant - 1);
    reader_t *r = open_ok(path, 0);
    expect_record(r, 1, 1);
    expect_record(r, 2, 4);
    expect_record(r, 3, 6);
    expect_eof(r);
    assert_int_equal(reader_offset(r), sizeof tolerant - 1);
    reader_destroy(&r);
    assert_null(r);
    free(path);
}

static void test_ndjson_bad_lines_in_the_middle(void **state)
{
    (void)state;
    static const char data[] = "{\"a\":1}\n"
                               "{bad u1@example.test\n"
                               "[1,2]\n"
                               "\"str\"\n"
                               "{\"a\":7,\"a\":8}\n"
                               "{\"a\":2}\n";
    char *path = write_plain("bad.ndjson", data, sizeof data - 1);
    reader_t *r = open_ok(path, 0);
    expect_record(r, 1, 1);

    char *want = xasprintf("%s:2: invalid JSON at column 4: string or '}' "
                           "expected",
                           path);
    expect_bad(r, want);
    assert_null(strchr(reader_error(r), '@'));
    assert_int_equal(reader_line(r), 2);
    free(want);

    want = xasprintf("%s:3: record is not a JSON object", path);
    expect_bad(r, want);
    free(want);
    want = xasprintf("%s:4: record is not a JSON object", path);
    expect_bad(r, want);
    free(want);
    want = xasprintf("%s:5: invalid JSON at column 10: duplicate object "
                     "key",
                     path);
    expect_bad(r, want);
    free(want);

    expect_record(r, 2, 6);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

static void test_ndjson_line_too_long(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{\"a\":1}\n{\"a\":\"");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "x");
    buf_puts(&b, "\"}\n{\"a\":3}\n{\"a\":\"");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "y");
    buf_puts(&b, "\"}");
    char *path = write_plain("long.ndjson", b.data, b.len);
    reader_t *r = open_ok(path, 32);
    expect_record(r, 1, 1);
    char *want = xasprintf("%s:2: record longer than 32 bytes", path);
    expect_bad(r, want);
    free(want);
    expect_record(r, 3, 3);
    want = xasprintf("%s:4: record longer than 32 bytes", path);
    expect_bad(r, want);
    free(want);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
    buf_free(&b);
}

static void test_ndjson_line_exactly_at_limit(void **state)
{
    (void)state;
    static const char data[] = "{\"a\":12345}\n{\"a\":123456}\n";
    char *path = write_plain("limit.ndjson", data, sizeof data - 1);
    reader_t *r = open_ok(path, 11);
    expect_record(r, 12345, 1);
    char *want = xasprintf("%s:2: record longer than 11 bytes", path);
    expect_bad(r, want);
    free(want);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

static void test_gzip_single_member(void **state)
{
    (void)state;
    char *path = write_gz("one.ndjson.gz", tolerant, sizeof tolerant - 1);
    reader_t *r = open_ok(path, 0);
    expect_record(r, 1, 1);
    expect_record(r, 2, 4);
    expect_record(r, 3, 6);
    expect_eof(r);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(reader_offset(r), (size_t)st.st_size);
    reader_destroy(&r);
    free(path);
}

static void test_gzip_concatenated_members(void **state)
{
    (void)state;
    char *path = write_gz("two.ndjson.gz", "{\"a\":1}\n{\"a\":2}\n", 16);
    append_gz_member(path, "{\"a\":3}\n", 8);
    append_gz_member(path, "", 0);
    append_gz_member(path, "{\"a\":4}", 7);
    reader_t *r = open_ok(path, 0);
    expect_record(r, 1, 1);
    expect_record(r, 2, 2);
    expect_record(r, 3, 3);
    expect_record(r, 4, 4);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

static void test_gzip_truncated_is_fatal(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < 2000; i++)
        buf_printf(&b, "{\"a\":%d,\"pad\":\"%08d\"}\n", i, i * 7919);
    char *full = write_gz("full.gz", b.data, b.len);
    size_t len = 0;
    char *bytes = util_read_file(full, 1 << 20, &len);
    assert_non_null(bytes);
    assert_true(len > 100);
    char *cut = write_plain("cut.gz", bytes, len / 2);
    reader_t *r = open_ok(cut, 0);
    json_t *rec = NULL;
    int rc, n = 0;
    while ((rc = reader_next(r, &rec)) == READER_RECORD) {
        assert_int_equal(json_integer_value(json_object_get(rec, "a")), n);
        json_decref(rec);
        n++;
    }
    assert_int_equal(rc, READER_FATAL);
    assert_true(n > 0 && n < 2000);
    char *want = xasprintf("%s: read failed: unexpected end of file", cut);
    assert_string_equal(reader_error(r), want);
    free(want);
    reader_destroy(&r);
    free(bytes);
    free(full);
    free(cut);
    buf_free(&b);
}

static const char array_doc[] = "\xEF\xBB\xBF  [\r\n"
                                " {\"a\":1},\n"
                                " {\"a\":2,\"s\":\"]}\\\"[{\",\"n\":[{}]},\n"
                                " 5,\n"
                                " \"x\" ,\n"
                                " {\"a\":3}\n"
                                "]\n\n";

static void check_array_doc(const char *path)
{
    reader_t *r = open_ok(path, 0);
    expect_record(r, 1, 1);
    json_t *rec = NULL;
    assert_int_equal(reader_next(r, &rec), READER_RECORD);
    assert_int_equal(reader_line(r), 2);
    assert_string_equal(json_string_value(json_object_get(rec, "s")), "]}\"[{");
    json_decref(rec);
    char *want =
        xasprintf("%s:4: element 3: record is not a JSON object", path);
    expect_bad(r, want);
    assert_int_equal(reader_line(r), 3);
    free(want);
    want = xasprintf("%s:5: element 4: record is not a JSON object", path);
    expect_bad(r, want);
    free(want);
    expect_record(r, 3, 5);
    expect_eof(r);
    reader_destroy(&r);
}

static void test_json_array_plain(void **state)
{
    (void)state;
    char *path = write_plain("a.json", array_doc, sizeof array_doc - 1);
    check_array_doc(path);
    free(path);
}

static void test_json_array_gzipped(void **state)
{
    (void)state;
    char *path = write_gz("a.json.gz", array_doc, sizeof array_doc - 1);
    check_array_doc(path);
    free(path);
}

static void test_json_array_bad_and_long_elements(void **state)
{
    (void)state;
    static const char data[] = "[{\"a\":1},{\"a\":tru},"
                               "{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"},"
                               "{\"a\":4}]";
    char *path = write_plain("b.json", data, sizeof data - 1);
    reader_t *r = open_ok(path, 24);
    expect_record(r, 1, 1);
    char *want = xasprintf("%s:1: element 2: invalid JSON at column 8: "
                           "invalid token",
                           path);
    expect_bad(r, want);
    free(want);
    want = xasprintf("%s:1: element 3: record longer than 24 bytes", path);
    expect_bad(r, want);
    free(want);
    expect_record(r, 4, 4);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

static void expect_array_fatal(const char *data, const char *what)
{
    char *path = write_plain("f.json", data, strlen(data));
    reader_t *r = open_ok(path, 0);
    json_t *rec = NULL;
    int rc;
    while ((rc = reader_next(r, &rec)) == READER_RECORD)
        json_decref(rec);
    assert_int_equal(rc, READER_FATAL);
    char *want = xasprintf("%s:1: malformed JSON array: %s", path, what);
    assert_string_equal(reader_error(r), want);
    assert_int_equal(reader_next(r, &rec), READER_FATAL);
    free(want);
    reader_destroy(&r);
    free(path);
}

static void test_json_array_structure_errors(void **state)
{
    (void)state;
    expect_array_fatal("[{\"a\":1} {\"a\":2}]",
                       "expected ',' or ']' after a value");
    expect_array_fatal("[{\"a\":1},",
                       "unexpected end of file before the closing ']'");
    expect_array_fatal("[{\"a\":1", "unexpected end of file before the "
                                    "closing ']'");
    expect_array_fatal("[{\"a\":1},]", "missing value after ','");
    expect_array_fatal("[{\"a\":1}] {}", "data after the closing ']'");
}

static void test_empty_inputs(void **state)
{
    (void)state;
    static const char *const docs[] = { "", "\xEF\xBB\xBF", "\n\r\n  \n", "[]",
                                        " [ \n ] \n" };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        char *path = write_plain("e.json", docs[i], strlen(docs[i]));
        reader_t *r = open_ok(path, 0);
        expect_eof(r);
        reader_destroy(&r);
        free(path);
        path = write_gz("e.json.gz", docs[i], strlen(docs[i]));
        r = open_ok(path, 0);
        expect_eof(r);
        reader_destroy(&r);
        free(path);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    char *path = tmp_path("does-not-exist.ndjson");
    char *err = NULL;
    assert_null(reader_new(path, 0, &err));
    char *want = xasprintf("%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(path);
    reader_destroy(NULL);
}

/* Many records of varied length cross every input-window boundary. */
static void build_many(buf_t *nd, buf_t *arr, int n)
{
    buf_puts(arr, "[");
    for (int i = 0; i < n; i++) {
        int pad = (i * 37) % 300;
        buf_printf(nd, "{\"a\":%d,\"p\":\"%0*d\"}\n", i, pad + 1, i);
        buf_printf(arr, "%s\n{\"a\":%d,\"p\":\"%0*d\",\"o\":{\"q\":[1,\"]\"]}}",
                   i ? "," : "", i, pad + 1, i);
    }
    buf_puts(arr, "]");
}

static void read_all(const char *path, int n)
{
    reader_t *r = open_ok(path, 512);
    for (int i = 0; i < n; i++)
        expect_record(r, i, (size_t)i + 1);
    expect_eof(r);
    reader_destroy(&r);
}

static void test_many_records_across_buffers(void **state)
{
    (void)state;
    buf_t nd, arr;
    buf_init(&nd);
    buf_init(&arr);
    build_many(&nd, &arr, 20000);
    assert_true(nd.len > 4 * 64 * 1024);
    char *p = write_plain("m.ndjson", nd.data, nd.len);
    read_all(p, 20000);
    free(p);
    p = write_gz("m.ndjson.gz", nd.data, nd.len);
    read_all(p, 20000);
    free(p);
    p = write_plain("m.json", arr.data, arr.len);
    read_all(p, 20000);
    free(p);
    p = write_gz("m.json.gz", arr.data, arr.len);
    read_all(p, 20000);
    free(p);
    buf_free(&nd);
    buf_free(&arr);
}

/* ---- CSV exports ---- */

/* Reads the next record and compares it with the JSON text want. */
static void expect_json(reader_t *r, const char *want, size_t line)
{
    json_t *rec = NULL;
    int rc = reader_next(r, &rec);
    if (rc != READER_RECORD)
        fail_msg("expected a record, got %d: %s", rc, reader_error(r));
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    if (!json_equal(rec, w)) {
        char *got = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got %s, want %s", got, want);
    }
    assert_int_equal(reader_line(r), line);
    json_decref(w);
    json_decref(rec);
}

/* OWASP escaping (leading quote removed once, doubled quotes), a quoted
 * field over two lines, absent fields, typed bare values, field paths
 * built into nested values, CRLF and a missing final newline. */
static const char csv_export[] =
    "user_id,email,email_verified,logins_count,identities[0].connection,"
    "identities[0].provider,user_metadata.plan,user_metadata.a.b,name\r\n"
    "\"'auth0|1\",\"'u1@example.test\",true,3,\"'Username-Password-"
    "Authentication\",\"'auth0\",\"'pro\",\"'x\",\"'Jane \"\"JJ\"\" Doe\"\r\n"
    "\r\n"
    "\"'auth0|2\",\"'u2@example.test\",false,,,,,,\"'two\nlines\"\r\n"
    "\"'auth0|3\",\"''=cmd\",,-7,,,\"\",,2024-01-01T00:00:00.000Z";

static void test_csv_export(void **state)
{
    (void)state;
    char *path = write_plain("e.csv", csv_export, sizeof csv_export - 1);
    reader_t *r = open_ok(path, 0);
    reader_expect(r, SHAPE_EXPORT | SHAPE_DISPLAY);
    expect_json(r,
                "{\"user_id\":\"auth0|1\",\"email\":\"u1@example.test\","
                "\"email_verified\":true,\"logins_count\":3,\"identities\":"
                "[{\"connection\":\"Username-Password-Authentication\","
                "\"provider\":\"auth0\"}],\"user_metadata\":{\"plan\":"
                "\"pro\",\"a\":{\"b\":\"x\"}},\"name\":"
                "\"Jane \\\"JJ\\\" Doe\"}",
                2);
    assert_int_equal(reader_kind(r), SHAPE_EXPORT);
    expect_json(r,
                "{\"user_id\":\"auth0|2\",\"email\":\"u2@example.test\","
                "\"email_verified\":false,\"name\":\"two\\nlines\"}",
                4);
    expect_json(r,
                "{\"user_id\":\"auth0|3\",\"email\":\"'=cmd\","
                "\"logins_count\":-7,\"user_metadata\":{\"plan\":\"\"},"
                "\"name\":\"2024-01-01T00:00:00.000Z\"}",
                6);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

/* The extension's display names, as a CSV header and as JSON keys; the
 * identity built from Connection takes its provider from the user id. */
static const char display_csv[] =
    "Id,Given Name,Family Name,Nickname,Name,Email,Email Verified,Picture,"
    "Connection,Created At,Updated At\n"
    "\"'auth0|5f01\",\"'Jane\",\"'Doe\",\"'jd\",\"'Jane Doe\","
    "\"'u1@example.test\",true,\"'https://p.test/j.png\","
    "\"'Username-Password-Authentication\",2024-01-01T00:00:00.000Z,"
    "2024-01-02T00:00:00.000Z\n";

static const char display_want[] =
    "{\"user_id\":\"auth0|5f01\",\"given_name\":\"Jane\","
    "\"family_name\":\"Doe\",\"nickname\":\"jd\",\"name\":\"Jane Doe\","
    "\"email\":\"u1@example.test\",\"email_verified\":true,"
    "\"picture\":\"https://p.test/j.png\",\"identities\":[{"
    "\"connection\":\"Username-Password-Authentication\",\"provider\":"
    "\"auth0\"}],\"created_at\":\"2024-01-01T00:00:00.000Z\","
    "\"updated_at\":\"2024-01-02T00:00:00.000Z\"}";

static void test_display_names(void **state)
{
    (void)state;
    char *path = write_plain("d.csv", display_csv, sizeof display_csv - 1);
    reader_t *r = open_ok(path, 0);
    reader_expect(r, SHAPE_EXPORT | SHAPE_DISPLAY);
    expect_json(r, display_want, 2);
    assert_int_equal(reader_kind(r), SHAPE_DISPLAY);
    expect_eof(r);
    reader_destroy(&r);
    free(path);

    static const char nd[] =
        "{\"Id\":\"auth0|5f01\",\"Given Name\":\"Jane\",\"Family Name\":"
        "\"Doe\",\"Nickname\":\"jd\",\"Name\":\"Jane Doe\",\"Email\":"
        "\"u1@example.test\",\"Email Verified\":true,\"Picture\":"
        "\"https://p.test/j.png\",\"Connection\":\"Username-Password-"
        "Authentication\",\"Created At\":\"2024-01-01T00:00:00.000Z\","
        "\"Updated At\":\"2024-01-02T00:00:00.000Z\"}\n"
        "{\"user_id\":\"auth0|5f02\",\"email\":\"u2@example.test\"}\n";
    path = write_plain("d.ndjson", nd, sizeof nd - 1);
    r = open_ok(path, 0);
    reader_expect(r, SHAPE_EXPORT | SHAPE_DISPLAY);
    expect_json(r, display_want, 1);
    assert_int_equal(reader_kind(r), SHAPE_DISPLAY);
    /* Export names are a subset of what a display file may carry. */
    expect_json(r, "{\"user_id\":\"auth0|5f02\",\"email\":\"u2@example.test\"}",
                2);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

/* Reads until something other than a record and checks it is fatal with
 * the message want (file name prefixed). */
static void expect_fatal_msg(const char *name, const char *data,
                             unsigned expect, const char *want_fmt)
{
    char *path = write_plain(name, data, strlen(data));
    reader_t *r = open_ok(path, 0);
    reader_expect(r, expect);
    json_t *rec = NULL;
    int rc;
    while ((rc = reader_next(r, &rec)) == READER_RECORD || rc == READER_BAD)
        json_decref(rec);
    assert_int_equal(rc, READER_FATAL);
    char *want = xasprintf(want_fmt, path);
    assert_string_equal(reader_error(r), want);
    assert_int_equal(reader_next(r, &rec), READER_FATAL);
    free(want);
    reader_destroy(&r);
    free(path);
}

#define USERS SHAPE_EXPORT | SHAPE_DISPLAY
#define WANT_USERS                                                    \
    "a Management API export (user_id, email, identities, ...) or a " \
    "extension/Dashboard export (display column names) (Id, Email, "  \
    "Connection, ...)"

static void test_csv_header_errors(void **state)
{
    (void)state;
    expect_fatal_msg("h1.csv", "User ID,Email\n\"'x\",\"'y\"\n", USERS,
                     "%s:1: CSV header: column 1 (\"User ID\") is neither an "
                     "export field name nor a documented display name");
    expect_fatal_msg("h2.csv", "email,Email\n", USERS,
                     "%s:1: CSV header: column 2 (\"Email\") names a field "
                     "another column already names");
    expect_fatal_msg("h3.csv", "user_metadata,user_metadata.x\n", USERS,
                     "%s:1: CSV header: column 2 (\"user_metadata.x\") names "
                     "a field another column already names");
    expect_fatal_msg("h4.csv", "user_id,identities[99].connection\n", USERS,
                     "%s:1: CSV header: column 2 "
                     "(\"identities[99].connection\") is neither an export "
                     "field name nor a documented display name");
    expect_fatal_msg(
        "h5.csv", "nickname,locale\n\"'n\",\"'en\"\n", USERS,
        "%s:1: CSV header names no user field: expected " WANT_USERS);
    expect_fatal_msg("h6.csv", "\"user_id,email\n", USERS,
                     "%s:1: CSV header: quoted field not closed");
}

static void test_csv_row_errors(void **state)
{
    (void)state;
    static const char data[] = "user_id,email\n"
                               "\"'auth0|1\",\"'a@example.test\"\n"
                               "\"'auth0|2\"\n"
                               "\"'auth0|3\",b\"c\n"
                               "\"'auth0|4\"x,d\n"
                               "\"'auth0|5\",\"'\xC3\"\n"
                               "\"'auth0|6\",\"'e@example.test\"\n";
    char *path = write_plain("rows.csv", data, sizeof data - 1);
    reader_t *r = open_ok(path, 0);
    reader_expect(r, USERS);
    expect_json(r, "{\"user_id\":\"auth0|1\",\"email\":\"a@example.test\"}", 2);
    static const char *const bad[] = {
        "%s:3: row has 1 fields, the header has 2",
        "%s:4: quote inside an unquoted field",
        "%s:5: text after a closing quote",
        "%s:6: a field is not valid UTF-8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *want = xasprintf(bad[i], path);
        expect_bad(r, want);
        free(want);
    }
    expect_json(r, "{\"user_id\":\"auth0|6\",\"email\":\"e@example.test\"}", 7);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

/* Tab-separated files (what the extension calls its CSV) are read too. */
/* NUL bytes are refused the same way on both parse paths (jansson alone
 * would skip them). */
static void test_nul_bytes(void **state)
{
    (void)state;
    static const char nd[] = "{\"a\":1}\0\n{\"a\":\"x\0y\"}\n{\"a\":2}\n";
    char *path = write_plain("nul.ndjson", nd, sizeof nd - 1);
    reader_t *r = open_ok(path, 0);
    char *want = xasprintf("%s:1: record holds a NUL byte", path);
    expect_bad(r, want);
    free(want);
    want = xasprintf("%s:2: record holds a NUL byte", path);
    expect_bad(r, want);
    free(want);
    expect_record(r, 2, 3);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
    static const char csv[] = "user_id,email\n\"'auth0|1\",\"a\0b\"\n";
    path = write_plain("nul.csv", csv, sizeof csv - 1);
    r = open_ok(path, 0);
    want = xasprintf("%s:2: record holds a NUL byte", path);
    expect_bad(r, want);
    free(want);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

static void test_csv_tabs(void **state)
{
    (void)state;
    static const char data[] =
        "user_id\temail\n\"'auth0|1\"\t\"'a,b@x.test\"\n";
    char *path = write_plain("t.csv", data, sizeof data - 1);
    reader_t *r = open_ok(path, 0);
    expect_json(r, "{\"user_id\":\"auth0|1\",\"email\":\"a,b@x.test\"}", 2);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

/* ---- kinds of file ---- */

static const char export_line[] =
    "{\"user_id\":\"auth0|1\",\"email\":\"u1@example.test\"}\n";
static const char hash_line[] =
    "{\"_id\":{\"$oid\":\"5f01\"},\"passwordHash\":\"x\"}\n";

static void test_kind_refusals(void **state)
{
    (void)state;
    expect_fatal_msg(
        "k1.ndjson", hash_line, USERS,
        "%s:1: this is a support password-hash file; expected " WANT_USERS);
    char *doc = xasprintf("%s%s", export_line, hash_line);
    expect_fatal_msg("k2.ndjson", doc, USERS | SHAPE_HASHES,
                     "%s:2: record is a support password-hash file but the "
                     "file began as a Management API export (record at 1): "
                     "mixed files are refused");
    free(doc);
    doc = xasprintf("%s{\"Email\":\"u2@example.test\"}\n", export_line);
    expect_fatal_msg("k3.ndjson", doc, USERS,
                     "%s:2: record is a extension/Dashboard export (display "
                     "column names) but the file began as a Management API "
                     "export (record at 1): mixed files are refused");
    free(doc);
    expect_fatal_msg("k4.ndjson", export_line, SHAPE_HASHES,
                     "%s:1: this is a Management API export; expected a "
                     "support password-hash file (_id.$oid, passwordHash)");
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < READER_SNIFF_RECORDS; i++)
        buf_puts(&b, "{\"foo\":1}\n");
    expect_fatal_msg("k5.ndjson", b.data, USERS,
                     "%s:16: none of the first 16 records has a known shape: "
                     "expected " WANT_USERS);
    buf_free(&b);
}

/* Unknown records are bad until the kind is known, passed on after. */
static void test_kind_unknown_records(void **state)
{
    (void)state;
    char *doc = xasprintf("{\"foo\":1}\n%s{}\n", export_line);
    char *path = write_plain("u.ndjson", doc, strlen(doc));
    reader_t *r = open_ok(path, 0);
    reader_expect(r, USERS);
    char *want = xasprintf(
        "%s:1: record shape not recognised: expected " WANT_USERS, path);
    expect_bad(r, want);
    assert_int_equal(reader_kind(r), 0);
    expect_json(r, "{\"user_id\":\"auth0|1\",\"email\":\"u1@example.test\"}",
                2);
    assert_int_equal(reader_kind(r), SHAPE_EXPORT);
    expect_json(r, "{}", 3);
    expect_eof(r);
    /* Without expectations nothing is judged. */
    reader_destroy(&r);
    r = open_ok(path, 0);
    expect_json(r, "{\"foo\":1}", 1);
    assert_int_equal(reader_kind(r), 0);
    reader_destroy(&r);
    free(want);
    free(path);
    free(doc);
}

/* Flattened field names in JSON records are expanded; a clash is bad. */
static void test_flattened_paths(void **state)
{
    (void)state;
    static const char nd[] =
        "{\"user_id\":\"auth0|1\",\"identities[0].connection\":\"db\","
        "\"user_metadata.plan\":\"pro\",\"x.y\":1}\n"
        "{\"user_id\":\"auth0|2\",\"user_metadata\":{\"plan\":1},"
        "\"user_metadata.plan\":2}\n";
    char *path = write_plain("f.ndjson", nd, sizeof nd - 1);
    reader_t *r = open_ok(path, 0);
    reader_expect(r, USERS);
    expect_json(r,
                "{\"user_id\":\"auth0|1\",\"identities\":[{\"connection\":"
                "\"db\",\"provider\":\"auth0\"}],\"user_metadata\":"
                "{\"plan\":\"pro\"},\"x.y\":1}",
                1);
    char *want = xasprintf("%s:2: field given twice", path);
    expect_bad(r, want);
    free(want);
    expect_eof(r);
    reader_destroy(&r);
    free(path);
}

/* ---- the indexed path ---- */

/* reader_next_doc must give what reader_next gives, record by record,
 * bad records and errors included. */
static void same_both_ways(const char *path, unsigned expect)
{
    reader_t *a = open_ok(path, 64);
    reader_t *b = open_ok(path, 64);
    reader_expect(a, expect);
    reader_expect(b, expect);
    jdoc_t *doc = jdoc_new();
    for (;;) {
        json_t *rec = NULL;
        int ra = reader_next(a, &rec);
        int rb = reader_next_doc(b, doc);
        assert_int_equal(ra, rb);
        assert_int_equal(reader_line(a), reader_line(b));
        if (ra == READER_RECORD) {
            json_t *j =
                json_loadb(jdoc_text(doc), jdoc_node(doc, 0)->len, 0, NULL);
            assert_true(json_equal(rec, j));
            json_decref(j);
        }
        json_decref(rec);
        if (ra == READER_EOF || ra == READER_FATAL)
            break;
    }
    jdoc_destroy(&doc);
    reader_destroy(&a);
    reader_destroy(&b);
}

static void test_doc_path_matches(void **state)
{
    (void)state;
    static const char nd[] =
        "{\"user_id\":\"auth0|1\",\"s\":\"\\u00e9\\n\"}\n"
        "{\"user_id\":\"auth0|2\",\"Email\":\"x\"}\n"
        "{\"user_id\":\"auth0|3\",\"user_metadata.a\":1}\n"
        "not json\n"
        "[1]\n"
        "{\"user_id\":\"auth0|4\",\"pad\":"
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n"
        "{\"user_id\":\"auth0|5\"}";
    char *path = write_plain("s.ndjson", nd, sizeof nd - 1);
    same_both_ways(path, USERS);
    same_both_ways(path, 0);
    free(path);
    path = write_plain("s.csv", csv_export, sizeof csv_export - 1);
    same_both_ways(path, USERS);
    free(path);
    path = write_plain("s.json", array_doc, sizeof array_doc - 1);
    same_both_ways(path, 0);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_bom_crlf_blank_no_final_newline),
        cmocka_unit_test(test_ndjson_bad_lines_in_the_middle),
        cmocka_unit_test(test_ndjson_line_too_long),
        cmocka_unit_test(test_ndjson_line_exactly_at_limit),
        cmocka_unit_test(test_gzip_single_member),
        cmocka_unit_test(test_gzip_concatenated_members),
        cmocka_unit_test(test_gzip_truncated_is_fatal),
        cmocka_unit_test(test_json_array_plain),
        cmocka_unit_test(test_json_array_gzipped),
        cmocka_unit_test(test_json_array_bad_and_long_elements),
        cmocka_unit_test(test_json_array_structure_errors),
        cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_many_records_across_buffers),
        cmocka_unit_test(test_csv_export),
        cmocka_unit_test(test_display_names),
        cmocka_unit_test(test_csv_header_errors),
        cmocka_unit_test(test_csv_row_errors),
        cmocka_unit_test(test_csv_tabs),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_kind_refusals),
        cmocka_unit_test(test_kind_unknown_records),
        cmocka_unit_test(test_flattened_paths),
        cmocka_unit_test(test_doc_path_matches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
