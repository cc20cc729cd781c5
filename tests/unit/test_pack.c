/* Unit tests for pack: exact users-file bytes, the byte and user caps at
 * their boundaries, a user too large for any batch, and determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "util.h"

static int add(pack_t *p, const char *id, const char *json)
{
    return pack_add(p, id, json, strlen(json));
}

static void test_exact_bytes_and_ids(void **state)
{
    (void)state;
    pack_t *p = pack_new(1000, 10);
    assert_non_null(p);
    assert_null(pack_take(p));
    assert_int_equal(add(p, "auth0|a", "{\"email\":\"a@x.test\"}"), 0);
    assert_int_equal(add(p, "auth0|b", "{\"email\":\"b@x.test\"}"), 0);
    assert_int_equal(pack_count(p), 2);
    batch_t *b = pack_take(p);
    assert_non_null(b);
    assert_string_equal(b->users_json,
                        "[{\"email\":\"a@x.test\"},{\"email\":\"b@x.test\"}]");
    assert_int_equal(b->users_len, strlen(b->users_json));
    assert_int_equal(b->nusers, 2);
    assert_string_equal(b->source_ids[0], "auth0|a");
    assert_string_equal(b->source_ids[1], "auth0|b");
    assert_int_equal(pack_count(p), 0);
    assert_null(pack_take(p));
    batch_destroy(&b);
    assert_null(b);
    pack_destroy(&p);
    assert_null(p);
    batch_destroy(NULL);
    pack_destroy(NULL);
}

/* Three 10-byte users make exactly 2 + 30 + 2 = 34 bytes. */
static void test_byte_cap_boundary(void **state)
{
    (void)state;
    const char *u = "{\"a\":1234}";
    assert_int_equal(strlen(u), 10);
    pack_t *p = pack_new(34, 100);
    assert_int_equal(add(p, "1", u), 0);
    assert_int_equal(add(p, "2", u), 0);
    assert_int_equal(add(p, "3", u), 0);
    assert_int_equal(add(p, "4", u), 1);
    assert_int_equal(pack_count(p), 3);
    batch_t *b = pack_take(p);
    assert_int_equal(b->users_len, 34);
    assert_int_equal(b->nusers, 3);
    batch_destroy(&b);
    assert_int_equal(add(p, "4", u), 0);
    b = pack_take(p);
    assert_string_equal(b->users_json, "[{\"a\":1234}]");
    assert_string_equal(b->source_ids[0], "4");
    batch_destroy(&b);
    pack_destroy(&p);

    /* One byte less and the third user no longer fits. */
    p = pack_new(33, 100);
    assert_int_equal(add(p, "1", u), 0);
    assert_int_equal(add(p, "2", u), 0);
    assert_int_equal(add(p, "3", u), 1);
    b = pack_take(p);
    assert_int_equal(b->users_len, 23);
    batch_destroy(&b);
    pack_destroy(&p);
}

static void test_user_cap_boundary(void **state)
{
    (void)state;
    pack_t *p = pack_new(1000, 2);
    assert_int_equal(add(p, "1", "{}"), 0);
    assert_int_equal(add(p, "2", "{}"), 0);
    assert_int_equal(add(p, "3", "{}"), 1);
    batch_t *b = pack_take(p);
    assert_int_equal(b->nusers, 2);
    assert_string_equal(b->users_json, "[{},{}]");
    batch_destroy(&b);
    assert_int_equal(add(p, "3", "{}"), 0);
    b = pack_take(p);
    assert_int_equal(b->nusers, 1);
    batch_destroy(&b);
    pack_destroy(&p);
}

static void test_user_too_large(void **state)
{
    (void)state;
    pack_t *p = pack_new(12, 10);
    /* 10 bytes + brackets = 12: fits alone. */
    assert_int_equal(add(p, "fit", "{\"a\":1234}"), 0);
    /* 11 bytes never fit, whatever the batch holds. */
    assert_int_equal(add(p, "big", "{\"a\":12345}"), -1);
    batch_t *b = pack_take(p);
    assert_int_equal(b->nusers, 1);
    assert_int_equal(b->users_len, 12);
    batch_destroy(&b);
    assert_int_equal(add(p, "big", "{\"a\":12345}"), -1);
    assert_null(pack_take(p));
    pack_destroy(&p);

    assert_null(pack_new(2, 10));
    assert_null(pack_new(1000, 0));
}

/* A users file one byte over Auth0's 512,000-byte request cap is never
 * produced; a 600 KB user is refused outright. */
static void test_import_request_cap(void **state)
{
    (void)state;
    const size_t cap = 512000;
    pack_t *p = pack_new(cap, 1000);
    size_t len = cap - 2;
    char *u = xmalloc(len + 2);
    memset(u, 'x', len + 1);
    u[0] = '"';
    u[len - 1] = '"';
    assert_int_equal(pack_add(p, "exact", u, len), 0);
    batch_t *b = pack_take(p);
    assert_int_equal(b->users_len, cap);
    batch_destroy(&b);
    assert_int_equal(pack_add(p, "over", u, len + 1), -1);
    char *huge = xmalloc(600 * 1024);
    memset(huge, 'x', 600 * 1024);
    assert_int_equal(pack_add(p, "huge", huge, 600 * 1024), -1);
    free(huge);
    free(u);
    pack_destroy(&p);
}

/* Packs users of varied sizes; returns the concatenation of every batch
 * with a separator, so two runs can be compared byte for byte. */
static char *pack_all(size_t max_bytes, size_t max_users, size_t *nbatches)
{
    pack_t *p = pack_new(max_bytes, max_users);
    buf_t out;
    buf_init(&out);
    *nbatches = 0;
    for (int i = 0; i < 500; i++) {
        char *u =
            xasprintf("{\"i\":%d,\"p\":\"%0*d\"}", i, 1 + (i * 31) % 90, i);
        char *id = xasprintf("auth0|%d", i);
        int rc = add(p, id, u);
        if (rc == 1) {
            batch_t *b = pack_take(p);
            assert_true(b->users_len <= max_bytes);
            assert_true(b->nusers <= max_users);
            buf_printf(&out, "%zu|%s\n", b->nusers, b->users_json);
            batch_destroy(&b);
            (*nbatches)++;
            rc = add(p, id, u);
        }
        assert_int_equal(rc, 0);
        free(u);
        free(id);
    }
    batch_t *b = pack_take(p);
    buf_printf(&out, "%zu|%s\n", b->nusers, b->users_json);
    batch_destroy(&b);
    (*nbatches)++;
    pack_destroy(&p);
    return out.data;
}

static void test_deterministic(void **state)
{
    (void)state;
    size_t n1, n2, n3;
    char *a = pack_all(2000, 25, &n1);
    char *b = pack_all(2000, 25, &n2);
    char *c = pack_all(2000, 1000, &n3);
    assert_string_equal(a, b);
    assert_int_equal(n1, n2);
    /* Without the user cap the byte cap alone decides: fewer batches. */
    assert_true(n3 < n1);
    assert_true(strstr(a, "25|[{\"i\":0,") == a);
    free(a);
    free(b);
    free(c);
}

/* Flags travel with their users into the sealed batch. */
static void test_flags(void **state)
{
    (void)state;
    pack_t *p = pack_new(100, 2);
    assert_int_equal(pack_add_flags(p, "a", "{}", 2, PACK_FLAG_NO_PASSWORD), 0);
    assert_int_equal(pack_add(p, "b", "{}", 2), 0);
    assert_int_equal(pack_add_flags(p, "c", "{}", 2, PACK_FLAG_NO_PASSWORD), 1);
    batch_t *b = pack_take(p);
    assert_int_equal(b->nusers, 2);
    assert_non_null(b->flags);
    assert_int_equal(b->flags[0], PACK_FLAG_NO_PASSWORD);
    assert_int_equal(b->flags[1], 0);
    batch_destroy(&b);
    assert_int_equal(pack_add_flags(p, "c", "{}", 2, PACK_FLAG_NO_PASSWORD), 0);
    b = pack_take(p);
    assert_string_equal(b->source_ids[0], "c");
    assert_int_equal(b->flags[0], PACK_FLAG_NO_PASSWORD);
    batch_destroy(&b);
    pack_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes_and_ids),
        cmocka_unit_test(test_byte_cap_boundary),
        cmocka_unit_test(test_user_cap_boundary),
        cmocka_unit_test(test_user_too_large),
        cmocka_unit_test(test_import_request_cap),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
