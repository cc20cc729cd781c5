/* Unit tests for keyset: first claims win and later ones name the first
 * holder, labels are shared by consecutive claims, and nothing is lost as
 * the table grows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "keyset.h"
#include "util.h"

static void test_claims(void **state)
{
    (void)state;
    keyset_t *k = keyset_new();
    assert_null(keyset_claim(k,
                             "id\x1f\x1f"
                             "a",
                             4, "auth0|a"));
    assert_null(keyset_claim(k,
                             "email\x1f"
                             "c\x1fx@y.test",
                             16, "auth0|a"));
    assert_string_equal(keyset_claim(k,
                                     "id\x1f\x1f"
                                     "a",
                                     4, "auth0|b"),
                        "auth0|a");
    assert_null(keyset_claim(k,
                             "email\x1f"
                             "d\x1fx@y.test",
                             16, "auth0|b"));
    assert_string_equal(keyset_claim(k,
                                     "email\x1f"
                                     "d\x1fx@y.test",
                                     16, "z"),
                        "auth0|b");
    /* Keys differ by their bytes only: prefixes and embedded NULs count. */
    assert_null(keyset_claim(k, "id\x1f\x1f", 3, "p"));
    assert_null(keyset_claim(k, "a\0b", 3, "p"));
    assert_null(keyset_claim(k, "a\0c", 3, "q"));
    assert_string_equal(keyset_claim(k, "a\0b", 3, "r"), "p");
    assert_int_equal(keyset_count(k), 6);
    keyset_destroy(&k);
    assert_null(k);
    keyset_destroy(NULL);
}

static void test_growth(void **state)
{
    (void)state;
    keyset_t *k = keyset_new();
    size_t before = keyset_bytes(k);
    char key[32], label[32];
    for (int i = 0; i < 200000; i++) {
        int n = snprintf(key, sizeof key, "id\x1f\x1fuser%d", i);
        snprintf(label, sizeof label, "auth0|%d", i);
        assert_null(keyset_claim(k, key, (size_t)n, label));
        n = snprintf(key, sizeof key, "email\x1f\x1fu%d@x.test", i);
        assert_null(keyset_claim(k, key, (size_t)n, label));
    }
    assert_int_equal(keyset_count(k), 400000);
    for (int i = 0; i < 200000; i += 997) {
        int n = snprintf(key, sizeof key, "email\x1f\x1fu%d@x.test", i);
        snprintf(label, sizeof label, "auth0|%d", i);
        assert_string_equal(keyset_claim(k, key, (size_t)n, "late"), label);
    }
    assert_int_equal(keyset_count(k), 400000);
    /* 16-byte slots, at least 3/8 full after a doubling; per holder one
     * pointer (the array doubles too) and its text, in 256 KB blocks. */
    size_t bytes = keyset_bytes(k) - before;
    assert_true(bytes <
                400000 * 16 * 8 / 3 + 200000 * (2 * 8 + 16) + 256 * 1024);
    assert_true(bytes > 400000 * 16);
    keyset_destroy(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
