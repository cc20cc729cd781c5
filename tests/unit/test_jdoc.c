/* Unit tests for jdoc: node layout and access, string decoding, the
 * rules beyond the grammar (64-bit integers, finite reals, no U+0000,
 * duplicate keys, depth), and agreement with jansson on which texts are
 * JSON at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"
#include "util.h"

static int parse(jdoc_t *d, const char *s)
{
    return jdoc_parse(d, s, strlen(s));
}

static void test_layout_and_access(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    const char *t = "{\"a\":[1,-2.5e3,true],\"b\":{\"c\":null},\"d\":\"x\"}";
    assert_int_equal(parse(d, t), 0);
    assert_int_equal(jdoc_count(d), 12);
    assert_int_equal(jdoc_type(d, 0), JD_OBJECT);
    assert_int_equal(jdoc_node(d, 0)->count, 3);
    assert_int_equal(jdoc_node(d, 0)->len, strlen(t));
    assert_int_equal(jdoc_node(d, 0)->end, 12);

    uint32_t a = jdoc_get(d, 0, "a");
    assert_int_equal(a, 2);
    assert_int_equal(jdoc_type(d, a), JD_ARRAY);
    assert_int_equal(jdoc_node(d, a)->count, 3);
    uint32_t e = jdoc_first(a);
    assert_int_equal(jdoc_type(d, e), JD_INT);
    assert_int_equal(jdoc_int(d, e), 1);
    e = jdoc_next_element(d, e);
    assert_int_equal(jdoc_type(d, e), JD_REAL);
    assert_memory_equal(t + jdoc_node(d, e)->off, "-2.5e3", 6);
    assert_int_equal(jdoc_node(d, e)->len, 6);
    e = jdoc_next_element(d, e);
    assert_int_equal(jdoc_type(d, e), JD_TRUE);

    uint32_t b = jdoc_get(d, 0, "b");
    assert_int_equal(jdoc_type(d, b), JD_OBJECT);
    assert_memory_equal(t + jdoc_node(d, b)->off, "{\"c\":null}", 10);
    assert_int_equal(jdoc_node(d, b)->len, 10);
    assert_int_equal(jdoc_type(d, jdoc_get(d, b, "c")), JD_NULL);
    assert_int_equal(jdoc_get(d, 0, "c"), 0);
    assert_int_equal(jdoc_get(d, a, "a"), 0);

    /* Members in order: key then value, next key after the value. */
    uint32_t k = jdoc_first(0);
    assert_true(jdoc_str_eq(d, k, "a"));
    k = jdoc_next_member(d, k);
    assert_true(jdoc_str_eq(d, k, "b"));
    k = jdoc_next_member(d, k);
    assert_true(jdoc_str_eq(d, k, "d"));
    assert_string_equal(jdoc_str(d, k + 1, NULL), "x");
    assert_null(jdoc_str(d, a, NULL));
    jdoc_destroy(&d);
    assert_null(d);
    jdoc_destroy(NULL);
}

static void test_strings(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    const char *t = "[\"plain\",\"q\\\"b\\\\s\\/n\\nt\\t\","
                    "\"\\u00e9\\ud83d\\ude00\",\"\xC3\xA9\xF0\x9F\x98\x80\","
                    "\"\\u0061\"]";
    assert_int_equal(parse(d, t), 0);
    uint32_t e = jdoc_first(0);
    size_t n;
    assert_string_equal(jdoc_str(d, e, &n), "plain");
    assert_int_equal(n, 5);
    assert_int_equal(jdoc_node(d, e)->escaped, 0);
    e = jdoc_next_element(d, e);
    assert_int_equal(jdoc_node(d, e)->escaped, 1);
    assert_string_equal(jdoc_str(d, e, NULL), "q\"b\\s/n\nt\t");
    e = jdoc_next_element(d, e);
    assert_string_equal(jdoc_str(d, e, NULL), "\xC3\xA9\xF0\x9F\x98\x80");
    e = jdoc_next_element(d, e);
    assert_string_equal(jdoc_str(d, e, NULL), "\xC3\xA9\xF0\x9F\x98\x80");
    e = jdoc_next_element(d, e);
    assert_true(jdoc_str_eq(d, e, "a"));
    assert_false(jdoc_str_eq(d, e, "ab"));
    /* Decoding one string leaves the others intact. */
    assert_string_equal(jdoc_str(d, jdoc_first(0), NULL), "plain");
    jdoc_destroy(&d);
}

/* Texts both parsers must refuse, each with jdoc's reason. */
static const char *const bad[][2] = {
    { "", "unexpected end of input, a value expected" },
    { "   ", "unexpected end of input, a value expected" },
    { "{", "unexpected end of input in an object" },
    { "[1,]", "invalid token, a value expected" },
    { "[1 2]", "',' or ']' expected" },
    { "{\"a\" 1}", "':' expected" },
    { "{\"a\":1,}", "string or '}' expected" },
    { "{a:1}", "string or '}' expected" },
    { "{\"a\":1}x", "end of input expected" },
    { "\"abc", "premature end of input in a string" },
    { "\"a\tb\"", "control character in a string" },
    { "\"\\x\"", "invalid escape" },
    { "\"\\u12G4\"", "invalid \\u escape" },
    { "\"\\u0000\"", "\\u0000 is not allowed" },
    { "\"\\udc00\"", "invalid Unicode escape (lone low surrogate)" },
    { "\"\\ud800x\"", "invalid Unicode escape (unpaired surrogate)" },
    { "\"\xC3\"", "invalid UTF-8 in a string" },
    { "\"\xC0\xAF\"", "invalid UTF-8 in a string" },
    { "\"\xED\xA0\x80\"", "invalid UTF-8 in a string" },
    { "\"\xF4\x90\x80\x80\"", "invalid UTF-8 in a string" },
    { "01", "end of input expected" },
    { "-", "invalid number" },
    { "1.", "invalid number" },
    { "1e", "invalid number" },
    { ".5", "invalid token, a value expected" },
    { "tru", "invalid token" },
    { "nul", "invalid token" },
    { "9223372036854775808", "too big integer" },
    { "-9223372036854775809", "too big negative integer" },
    { "1e400", "real number overflow" },
    { "{\"a\":1,\"a\":2}", "duplicate object key" },
    { "{\"a\":1,\"\\u0061\":2}", "duplicate object key" },
};

static const char *const good[] = {
    "{}",
    "[]",
    " [ ] ",
    "0",
    "-0",
    "1.5E+2",
    "\"\"",
    "null",
    "9223372036854775807",
    "-9223372036854775808",
    "1e-400",
    "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}",
    "\"\\ud83d\\ude00\"",
    "{\"A\":1,\"a\":2}",
};

static void test_agrees_with_jansson(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *t = bad[i][0];
        if (parse(d, t) == 0)
            fail_msg("jdoc accepted '%s'", t);
        const char *msg = strstr(jdoc_error(d), ": ");
        assert_non_null(msg);
        if (strcmp(msg + 2, bad[i][1]) != 0)
            fail_msg("'%s': got '%s', want '%s'", t, jdoc_error(d), bad[i][1]);
        assert_int_equal(jdoc_count(d), 0);
        json_t *j = json_loadb(t, strlen(t),
                               JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (j)
            fail_msg("jansson accepted '%s'", t);
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *t = good[i];
        if (parse(d, t) != 0)
            fail_msg("jdoc refused '%s': %s", t, jdoc_error(d));
        json_t *j = json_loadb(t, strlen(t),
                               JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (!j)
            fail_msg("jansson refused '%s'", t);
        json_decref(j);
    }
    assert_int_equal(parse(d, "-9223372036854775808"), 0);
    assert_true(jdoc_int(d, 0) == INT64_MIN);
    assert_int_equal(parse(d, "9223372036854775807"), 0);
    assert_true(jdoc_int(d, 0) == INT64_MAX);
    assert_int_equal(parse(d, "[1,]"), -1);
    assert_string_equal(jdoc_error(d),
                        "invalid JSON at column 4: invalid token, a value "
                        "expected");
    jdoc_destroy(&d);
}

/* Large objects take the hashed duplicate check. */
static void test_duplicates_in_large_objects(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{");
    for (int i = 0; i < 500; i++)
        buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    buf_puts(&b, "}");
    assert_int_equal(jdoc_parse(d, b.data, b.len), 0);
    assert_int_equal(jdoc_node(d, 0)->count, 500);
    assert_int_equal(jdoc_int(d, jdoc_get(d, 0, "k499")), 499);
    b.len--;
    buf_puts(&b, ",\"k\\u0037\":1}");
    assert_int_equal(jdoc_parse(d, b.data, b.len), -1);
    assert_non_null(strstr(jdoc_error(d), "duplicate object key"));
    buf_free(&b);
    jdoc_destroy(&d);
}

static void test_depth(void **state)
{
    (void)state;
    jdoc_t *d = jdoc_new();
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < JDOC_MAX_DEPTH; i++)
        buf_puts(&b, "[");
    for (int i = 0; i < JDOC_MAX_DEPTH; i++)
        buf_puts(&b, "]");
    assert_int_equal(jdoc_parse(d, b.data, b.len), 0);
    assert_int_equal(jdoc_count(d), JDOC_MAX_DEPTH);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j); /* the same bound as jansson's */
    json_decref(j);
    buf_reset(&b);
    for (int i = 0; i <= JDOC_MAX_DEPTH; i++)
        buf_puts(&b, "[");
    for (int i = 0; i <= JDOC_MAX_DEPTH; i++)
        buf_puts(&b, "]");
    assert_int_equal(jdoc_parse(d, b.data, b.len), -1);
    assert_non_null(strstr(jdoc_error(d), "maximum nesting depth reached"));
    assert_null(json_loadb(b.data, b.len, 0, NULL));
    buf_free(&b);
    jdoc_destroy(&d);
}

static void test_put_string(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    const char s[] = "a\"b\\c\n\x01\x1f/\xC3\xA9";
    jdoc_put_string(&b, s, sizeof s - 1);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u001f/\xC3\xA9\"");
    /* What was written reads back as the same bytes. */
    jdoc_t *d = jdoc_new();
    assert_int_equal(jdoc_parse(d, b.data, b.len), 0);
    size_t n;
    const char *back = jdoc_str(d, 0, &n);
    assert_int_equal(n, sizeof s - 1);
    assert_memory_equal(back, s, n);
    jdoc_destroy(&d);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_access),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_agrees_with_jansson),
        cmocka_unit_test(test_duplicates_in_large_objects),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_put_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
