/* test_proto: round trips of every command and field, the decoder's bounds
 * and a real ROUTER/DEALER exchange over loopback TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>
#include <msgpack.h>

#include "proto.h"
#include "util.h"

static const char *const odd_ids[] = {
    "auth0|5f0000000000000000000001",
    "google-oauth2|1234:5678",
    "user@example.test",
    "with space and |:@ ",
    "",
};

#define NODD (sizeof odd_ids / sizeof odd_ids[0])

/* A message with every field set to a distinct value. */
static void fill_all(proto_msg_t *m, proto_cmd_t cmd)
{
    static int64_t held[] = { 7, -1, INT64_MAX, INT64_MIN };
    static const char payload[] = "[{\"email\":\"a@b.c\"}]\0tail";

    memset(m, 0, sizeof *m);
    m->cmd = cmd;
    m->worker_id = (char *)"w-1|host:42@x y";
    m->host = (char *)"host.example";
    m->pid = 4242;
    m->version = (char *)"0.1.0";
    m->credit = 2;
    m->held = held;
    m->nheld = 4;
    m->run_id = (char *)"run 2025|01";
    m->batch = 17;
    m->token = 9000000000LL;
    m->epoch = 3;
    m->lease_ms = 30000;
    m->attempt = 2;
    m->connection_id = (char *)"con_ABCDEFGHIJKLMNOP";
    m->job_id = (char *)"job_abcdefghijklmnop";
    m->user_ids = (char **)odd_ids;
    m->nusers = NODD;
    m->payload = (char *)payload;
    m->payload_len = sizeof payload - 1;
    m->fail = PROTO_FAIL_SPLIT;
    m->reason = (char *)"413: too large";
    m->inserted = 10;
    m->failed = -5;
    m->total = 15;
}

static void assert_same(const proto_msg_t *a, const proto_msg_t *b)
{
    assert_int_equal(a->cmd, b->cmd);
    assert_string_equal(a->worker_id, b->worker_id);
    assert_string_equal(a->host, b->host);
    assert_int_equal(a->pid, b->pid);
    assert_string_equal(a->version, b->version);
    assert_int_equal(a->credit, b->credit);
    assert_int_equal(a->nheld, b->nheld);
    for (size_t i = 0; i < a->nheld; i++)
        assert_true(a->held[i] == b->held[i]);
    assert_string_equal(a->run_id, b->run_id);
    assert_int_equal(a->batch, b->batch);
    assert_true(a->token == b->token);
    assert_int_equal(a->epoch, b->epoch);
    assert_int_equal(a->lease_ms, b->lease_ms);
    assert_int_equal(a->attempt, b->attempt);
    assert_string_equal(a->connection_id, b->connection_id);
    assert_string_equal(a->job_id, b->job_id);
    assert_int_equal(a->nusers, b->nusers);
    for (size_t i = 0; i < a->nusers; i++)
        assert_string_equal(a->user_ids[i], b->user_ids[i]);
    assert_int_equal(a->payload_len, b->payload_len);
    assert_memory_equal(a->payload, b->payload, a->payload_len);
    assert_int_equal(b->payload[b->payload_len], '\0');
    assert_int_equal(a->fail, b->fail);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->inserted, b->inserted);
    assert_int_equal(a->failed, b->failed);
    assert_int_equal(a->total, b->total);
}

static int decode(zmsg_t *msg, proto_msg_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return proto_decode(msg, out, err, errlen);
}

static void test_round_trip_every_command(void **state)
{
    (void)state;
    for (int c = PROTO_READY; c <= PROTO_RECONNECT; c++) {
        proto_msg_t in, out;
        fill_all(&in, (proto_cmd_t)c);
        zmsg_t *msg = proto_encode(&in);
        assert_non_null(msg);
        assert_int_equal(zmsg_size(msg), 3);
        char *tag = zframe_strdup(zmsg_first(msg));
        char *name = zframe_strdup(zmsg_next(msg));
        assert_string_equal(tag, "A0M1");
        assert_string_equal(name, proto_cmd_name((proto_cmd_t)c));
        free(tag);
        free(name);
        char err[256];
        assert_int_equal(decode(msg, &out, err, sizeof err), 0);
        assert_string_equal(err, "");
        assert_same(&in, &out);
        proto_msg_clear(&out);
        assert_null(out.worker_id);
        assert_int_equal(out.nusers, 0);
        zmsg_destroy(&msg);
    }
}

static void test_cmd_names(void **state)
{
    (void)state;
    assert_string_equal(proto_cmd_name(PROTO_READY), "READY");
    assert_string_equal(proto_cmd_name(PROTO_ASSIGN), "ASSIGN");
    assert_string_equal(proto_cmd_name(PROTO_RECONNECT), "RECONNECT");
    assert_string_equal(proto_cmd_name(PROTO_NONE), "UNKNOWN");
    assert_string_equal(proto_cmd_name((proto_cmd_t)99), "UNKNOWN");
}

/* Unset fields stay unset; empty strings and empty payloads survive. */
static void test_sparse_and_empty(void **state)
{
    (void)state;
    proto_msg_t in, out;
    memset(&in, 0, sizeof in);
    in.cmd = PROTO_ASSIGN;
    in.run_id = (char *)"";
    in.payload = (char *)"";
    in.payload_len = 0;
    int64_t held[1] = { 5 };
    in.held = held; /* nheld 0: an empty array, not sent */
    zmsg_t *msg = proto_encode(&in);
    assert_non_null(msg);
    char err[256];
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_int_equal(out.cmd, PROTO_ASSIGN);
    assert_string_equal(out.run_id, "");
    assert_non_null(out.payload);
    assert_int_equal(out.payload_len, 0);
    assert_null(out.worker_id);
    assert_null(out.job_id);
    assert_null(out.user_ids);
    assert_int_equal(out.nusers, 0);
    assert_null(out.held);
    assert_int_equal(out.nheld, 0);
    assert_int_equal(out.batch, 0);
    assert_int_equal(out.fail, PROTO_FAIL_RETRYABLE);
    proto_msg_clear(&out);
    zmsg_destroy(&msg);

    memset(&in, 0, sizeof in);
    in.cmd = PROTO_DRAIN;
    msg = proto_encode(&in);
    assert_non_null(msg);
    zmsg_first(msg);
    zmsg_next(msg);
    assert_int_equal(zframe_size(zmsg_next(msg)), 1); /* empty map */
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_int_equal(out.cmd, PROTO_DRAIN);
    assert_null(out.payload);
    proto_msg_clear(&out);
    zmsg_destroy(&msg);
}

static void test_encode_refuses(void **state)
{
    (void)state;
    proto_msg_t in;
    memset(&in, 0, sizeof in);
    assert_null(proto_encode(&in)); /* PROTO_NONE */
    in.cmd = (proto_cmd_t)42;
    assert_null(proto_encode(&in));
    in.cmd = PROTO_READY;
    in.nheld = PROTO_MAX_HELD + 1;
    in.held = xcalloc(in.nheld, sizeof *in.held);
    assert_null(proto_encode(&in));
    free(in.held);
    in.held = NULL;
    in.nheld = 0;
    in.payload = (char *)"x";
    in.payload_len = PROTO_MAX_BODY + 1;
    assert_null(proto_encode(&in));
}

/* ---- malformed input ---------------------------------------------------- */

static zmsg_t *frames3(const char *tag, const char *cmd, const void *body,
                       size_t len)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, tag);
    zmsg_addstr(msg, cmd);
    zmsg_addmem(msg, body, len);
    return msg;
}

/* Decodes msg, expects failure with want in the error text. */
static void expect_reject(zmsg_t *msg, const char *want)
{
    proto_msg_t out;
    char err[256];
    assert_int_equal(decode(msg, &out, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    assert_int_equal(out.cmd, PROTO_NONE);
    assert_null(out.worker_id);
    assert_null(out.user_ids);
    zmsg_destroy(&msg);
}

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packbuf_t;

static void pb_init(packbuf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void pb_key(packbuf_t *b, const char *k)
{
    msgpack_pack_str(&b->pk, strlen(k));
    msgpack_pack_str_body(&b->pk, k, strlen(k));
}

static zmsg_t *pb_msg(packbuf_t *b, const char *cmd)
{
    zmsg_t *msg = frames3("A0M1", cmd, b->sb.data, b->sb.size);
    msgpack_sbuffer_destroy(&b->sb);
    return msg;
}

static void test_frame_errors(void **state)
{
    (void)state;
    static const char empty_map[] = { (char)0x80 };
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "A0M1");
    zmsg_addstr(msg, "READY");
    expect_reject(msg, "expected 3 frames, got 2");

    msg = frames3("A0M1", "READY", empty_map, 1);
    zmsg_addstr(msg, "extra");
    expect_reject(msg, "expected 3 frames, got 4");

    expect_reject(frames3("A0M2", "READY", empty_map, 1), "version tag");
    expect_reject(frames3("A0M", "READY", empty_map, 1), "version tag");
    expect_reject(frames3("A0M1", "READYX", empty_map, 1), "unknown command");
    expect_reject(frames3("A0M1", "ready", empty_map, 1), "unknown command");
    expect_reject(frames3("A0M1", "NONE", empty_map, 1), "unknown command");
    expect_reject(frames3("A0M1", "READY", "", 0), "not a msgpack map");
    expect_reject(frames3("A0M1", "READY", "garbage!", 8), "not a msgpack map");
    /* a map that ends early */
    expect_reject(frames3("A0M1", "READY", "\x82\xa1x", 3), "malformed");
    /* trailing bytes after the map */
    expect_reject(frames3("A0M1", "READY", "\x80\x01", 2), "trailing");
    /* an extension type */
    expect_reject(frames3("A0M1", "READY", "\x81\xa1x\xd4\x01\x02", 6),
                  "malformed");

    char *big = xcalloc(1, PROTO_MAX_BODY + 1);
    big[0] = (char)0x80;
    expect_reject(frames3("A0M1", "READY", big, PROTO_MAX_BODY + 1), "over");
    free(big);
}

/* An array header announcing four billion entries in five bytes. */
static void test_huge_declared_counts(void **state)
{
    (void)state;
    static const char arr[] = "\x81\xa4held\xdd\xff\xff\xff\xff\x01";
    expect_reject(frames3("A0M1", "READY", arr, sizeof arr - 1), "array");
    static const char map[] = "\xdf\xff\xff\xff\xff";
    expect_reject(frames3("A0M1", "READY", map, sizeof map - 1), "keys");
    static const char str[] = "\x81\xa4host\xdb\x7f\xff\xff\xff";
    expect_reject(frames3("A0M1", "READY", str, sizeof str - 1), "malformed");
}

static void test_nesting_rejected(void **state)
{
    (void)state;
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "host");
    msgpack_pack_map(&b.pk, 0);
    expect_reject(pb_msg(&b, "READY"), "nested map");

    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "user_ids");
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_array(&b.pk, 0);
    expect_reject(pb_msg(&b, "ASSIGN"), "nested");

    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    msgpack_pack_array(&b.pk, 0); /* a container as key */
    msgpack_pack_int(&b.pk, 1);
    expect_reject(pb_msg(&b, "READY"), "key");

    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    msgpack_pack_int(&b.pk, 7); /* a scalar key that is not a string */
    msgpack_pack_int(&b.pk, 1);
    expect_reject(pb_msg(&b, "READY"), "key is not a string");

    pb_init(&b);
    msgpack_pack_map(&b.pk, PROTO_MAX_KEYS + 1);
    for (int i = 0; i < PROTO_MAX_KEYS + 1; i++) {
        msgpack_pack_int(&b.pk, i);
        msgpack_pack_nil(&b.pk);
    }
    expect_reject(pb_msg(&b, "READY"), "keys");
}

static void test_wrong_types(void **state)
{
    (void)state;

    static const struct {
        const char *key;
        int as; /* 0 int, 1 str, 2 array, 3 bin, 4 nil */
    } cases[] = {
        { "worker_id", 0 }, { "host", 2 }, { "pid", 1 },
        { "credit", 4 },    { "held", 0 }, { "user_ids", 1 },
        { "payload", 0 },   { "fail", 1 }, { "batch", 3 },
        { "reason", 3 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        packbuf_t b;
        pb_init(&b);
        msgpack_pack_map(&b.pk, 1);
        pb_key(&b, cases[i].key);
        switch (cases[i].as) {
        case 0:
            msgpack_pack_int(&b.pk, 5);
            break;
        case 1:
            msgpack_pack_str(&b.pk, 1);
            msgpack_pack_str_body(&b.pk, "5", 1);
            break;
        case 2:
            msgpack_pack_array(&b.pk, 0);
            break;
        case 3:
            msgpack_pack_bin(&b.pk, 1);
            msgpack_pack_bin_body(&b.pk, "5", 1);
            break;
        default:
            msgpack_pack_nil(&b.pk);
            break;
        }
        char want[64];
        snprintf(want, sizeof want, "field %s: not", cases[i].key);
        expect_reject(pb_msg(&b, "READY"), want);
    }
}

static void test_value_bounds(void **state)
{
    (void)state;
    packbuf_t b;

    /* fail out of range; uint64 over INT64_MAX; float */
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "fail");
    msgpack_pack_int(&b.pk, 4);
    expect_reject(pb_msg(&b, "FAIL"), "field fail");
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "total");
    msgpack_pack_uint64(&b.pk, UINT64_MAX);
    expect_reject(pb_msg(&b, "DONE"), "field total");
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "total");
    msgpack_pack_double(&b.pk, 1.5);
    expect_reject(pb_msg(&b, "DONE"), "field total");

    /* a NUL inside a string */
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "host");
    msgpack_pack_str(&b.pk, 3);
    msgpack_pack_str_body(&b.pk, "a\0b", 3);
    expect_reject(pb_msg(&b, "READY"), "field host");

    /* the same key twice */
    pb_init(&b);
    msgpack_pack_map(&b.pk, 2);
    pb_key(&b, "host");
    pb_key(&b, "one");
    pb_key(&b, "host");
    pb_key(&b, "two");
    expect_reject(pb_msg(&b, "READY"), "given twice");

    /* too many held batches */
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "held");
    msgpack_pack_array(&b.pk, PROTO_MAX_HELD + 1);
    for (int i = 0; i <= PROTO_MAX_HELD; i++)
        msgpack_pack_int(&b.pk, i);
    expect_reject(pb_msg(&b, "READY"), "field held");

    /* a held entry that is not an integer */
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "held");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_int(&b.pk, 1);
    msgpack_pack_nil(&b.pk);
    expect_reject(pb_msg(&b, "READY"), "field held");

    /* a user id that is not a string, after a good one */
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "user_ids");
    msgpack_pack_array(&b.pk, 2);
    pb_key(&b, "auth0|1");
    msgpack_pack_int(&b.pk, 1);
    expect_reject(pb_msg(&b, "ASSIGN"), "field user_ids");
}

static void test_too_many_users(void **state)
{
    (void)state;
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "user_ids");
    msgpack_pack_array(&b.pk, PROTO_MAX_USERS + 1);
    for (int i = 0; i <= PROTO_MAX_USERS; i++)
        msgpack_pack_str(&b.pk, 0);
    expect_reject(pb_msg(&b, "ASSIGN"), "field user_ids: not an array");

    /* exactly at the bound is fine */
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "user_ids");
    msgpack_pack_array(&b.pk, PROTO_MAX_USERS);
    for (int i = 0; i < PROTO_MAX_USERS; i++)
        msgpack_pack_str(&b.pk, 0);
    zmsg_t *msg = pb_msg(&b, "ASSIGN");
    proto_msg_t out;
    char err[256];
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_int_equal(out.nusers, PROTO_MAX_USERS);
    assert_string_equal(out.user_ids[PROTO_MAX_USERS - 1], "");
    proto_msg_clear(&out);
    zmsg_destroy(&msg);
}

static void test_oversized_string(void **state)
{
    (void)state;
    size_t n = PROTO_MAX_STRING + 1;
    char *s = xmalloc(n);
    memset(s, 'a', n);
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "reason");
    msgpack_pack_str(&b.pk, n);
    msgpack_pack_str_body(&b.pk, s, n);
    expect_reject(pb_msg(&b, "FAIL"), "field reason");

    /* the same size is fine as payload, NUL bytes included */
    s[10] = '\0';
    pb_init(&b);
    msgpack_pack_map(&b.pk, 1);
    pb_key(&b, "payload");
    msgpack_pack_bin(&b.pk, n);
    msgpack_pack_bin_body(&b.pk, s, n);
    zmsg_t *msg = pb_msg(&b, "ASSIGN");
    proto_msg_t out;
    char err[256];
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_int_equal(out.payload_len, n);
    assert_memory_equal(out.payload, s, n);
    proto_msg_clear(&out);
    zmsg_destroy(&msg);
    free(s);
}

/* Keys this version does not know are skipped, whatever scalar they hold. */
static void test_unknown_keys_ignored(void **state)
{
    (void)state;
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_map(&b.pk, 4);
    pb_key(&b, "future");
    msgpack_pack_double(&b.pk, 2.5);
    pb_key(&b, "host");
    pb_key(&b, "h1");
    pb_key(&b, "later");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_true(&b.pk);
    msgpack_pack_nil(&b.pk);
    pb_key(&b, "credit");
    msgpack_pack_int(&b.pk, 3);
    zmsg_t *msg = pb_msg(&b, "READY");
    proto_msg_t out;
    char err[256];
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_int_equal(out.cmd, PROTO_READY);
    assert_string_equal(out.host, "h1");
    assert_int_equal(out.credit, 3);
    proto_msg_clear(&out);
    zmsg_destroy(&msg);
}

/* ---- over ZeroMQ -------------------------------------------------------- */

static zmsg_t *recv_timeout(zsock_t *sock)
{
    zpoller_t *poller = zpoller_new(sock, NULL);
    void *which = zpoller_wait(poller, 5000);
    zpoller_destroy(&poller);
    assert_ptr_equal(which, sock);
    return zmsg_recv(sock);
}

static void test_router_dealer(void **state)
{
    (void)state;
    zsock_t *router = zsock_new_router(NULL);
    assert_non_null(router);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    char *ep = xasprintf("tcp://127.0.0.1:%d", port);
    zsock_t *dealer = zsock_new_dealer(ep);
    assert_non_null(dealer);
    free(ep);

    /* worker -> coordinator: READY */
    proto_msg_t ready, out;
    int64_t held[] = { 3, 4 };
    memset(&ready, 0, sizeof ready);
    ready.cmd = PROTO_READY;
    ready.worker_id = (char *)"w|1";
    ready.host = (char *)"h";
    ready.pid = 99;
    ready.credit = 2;
    ready.held = held;
    ready.nheld = 2;
    zmsg_t *msg = proto_encode(&ready);
    assert_int_equal(zmsg_send(&msg, dealer), 0);
    msg = recv_timeout(router);
    zframe_t *identity = zmsg_pop(msg);
    char err[256];
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_int_equal(out.cmd, PROTO_READY);
    assert_string_equal(out.worker_id, "w|1");
    assert_int_equal(out.pid, 99);
    assert_int_equal(out.credit, 2);
    assert_int_equal(out.nheld, 2);
    assert_int_equal(out.held[1], 4);
    proto_msg_clear(&out);
    zmsg_destroy(&msg);

    /* coordinator -> worker: ASSIGN, routed by the identity frame */
    proto_msg_t assign;
    fill_all(&assign, PROTO_ASSIGN);
    msg = proto_encode(&assign);
    zmsg_prepend(msg, &identity);
    assert_int_equal(zmsg_send(&msg, router), 0);
    msg = recv_timeout(dealer);
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_same(&assign, &out);
    proto_msg_clear(&out);
    zmsg_destroy(&msg);

    /* ASSIGN and READY the other way round: the codec has no direction */
    fill_all(&assign, PROTO_ASSIGN);
    msg = proto_encode(&assign);
    assert_int_equal(zmsg_send(&msg, dealer), 0);
    msg = recv_timeout(router);
    identity = zmsg_pop(msg);
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_same(&assign, &out);
    proto_msg_clear(&out);
    zmsg_destroy(&msg);

    msg = proto_encode(&ready);
    zmsg_prepend(msg, &identity);
    assert_int_equal(zmsg_send(&msg, router), 0);
    msg = recv_timeout(dealer);
    assert_int_equal(decode(msg, &out, err, sizeof err), 0);
    assert_int_equal(out.cmd, PROTO_READY);
    assert_string_equal(out.host, "h");
    proto_msg_clear(&out);
    zmsg_destroy(&msg);

    zsock_destroy(&dealer);
    zsock_destroy(&router);
}

int main(void)
{
    zsys_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_command),
        cmocka_unit_test(test_cmd_names),
        cmocka_unit_test(test_sparse_and_empty),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_huge_declared_counts),
        cmocka_unit_test(test_nesting_rejected),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_value_bounds),
        cmocka_unit_test(test_too_many_users),
        cmocka_unit_test(test_oversized_string),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_router_dealer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
