/* Unit tests for reader: NDJSON and JSON-array framing, plain and gzip
 * (single and concatenated members, truncated), BOM, CRLF, blank lines,
 * bad and overlong records, structural errors. Inputs are written into a
 * fresh temporary directory by each test. */
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
