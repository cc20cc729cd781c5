/* proto: encodes and decodes the coordinator <-> worker messages.
 *
 * A message is three frames: PROTO_VERSION, the command name and a msgpack
 * map holding only the fields that are set (strings when non-NULL, integers
 * when non-zero, arrays when non-empty, the payload as bin when non-NULL).
 * Absent fields decode to NULL/0, so decode(encode(m)) gives m back.
 *
 * The decoder trusts nothing. Before msgpack-c sees the body, a flat scan
 * checks its shape: one map of at most PROTO_MAX_KEYS entries whose values are
 * scalars or arrays of scalars, every declared length inside the frame and
 * the element total bounded. msgpack-c allocates an array's objects from
 * the declared count, so this scan is what keeps a 5-byte body from asking
 * for gigabytes. Depth is therefore at most two and nothing recurses. */
#include "proto.h"

#include "util.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ELEMENTS (PROTO_MAX_USERS + PROTO_MAX_HELD)

static const char *const cmd_names[] = {
    [PROTO_READY] = "READY",       [PROTO_HEARTBEAT] = "HEARTBEAT",
    [PROTO_PROGRESS] = "PROGRESS", [PROTO_DONE] = "DONE",
    [PROTO_FAIL] = "FAIL",         [PROTO_BYE] = "BYE",
    [PROTO_ASSIGN] = "ASSIGN",     [PROTO_CANCEL] = "CANCEL",
    [PROTO_DRAIN] = "DRAIN",       [PROTO_RECONNECT] = "RECONNECT",
};

#define NCMDS (sizeof cmd_names / sizeof cmd_names[0])

typedef enum {
    F_STR,
    F_INT,
    F_FAIL,
    F_HELD,
    F_USERS,
    F_PAYLOAD,
} kind_t;

typedef struct {
    const char *key;
    kind_t kind;
    size_t off;
} field_t;

#define FIELD(name, kind)                        \
    {                                            \
#name, kind, offsetof(proto_msg_t, name) \
    }

/* Wire keys are the struct member names. At most 32 entries (seen mask). */
static const field_t fields[] = {
    FIELD(worker_id, F_STR),     FIELD(host, F_STR),
    FIELD(pid, F_INT),           FIELD(version, F_STR),
    FIELD(credit, F_INT),        FIELD(held, F_HELD),
    FIELD(run_id, F_STR),        FIELD(batch, F_INT),
    FIELD(token, F_INT),         FIELD(epoch, F_INT),
    FIELD(lease_ms, F_INT),      FIELD(attempt, F_INT),
    FIELD(connection_id, F_STR), FIELD(job_id, F_STR),
    FIELD(user_ids, F_USERS),    FIELD(payload, F_PAYLOAD),
    FIELD(fail, F_FAIL),         FIELD(reason, F_STR),
    FIELD(inserted, F_INT),      FIELD(failed, F_INT),
    FIELD(total, F_INT),
};

#define NFIELDS (sizeof fields / sizeof fields[0])

static char **str_at(const proto_msg_t *m, const field_t *f)
{
    return (char **)((const char *)m + f->off);
}

static int64_t *int_at(const proto_msg_t *m, const field_t *f)
{
    return (int64_t *)((const char *)m + f->off);
}

const char *proto_cmd_name(proto_cmd_t cmd)
{
    if (cmd <= PROTO_NONE || (size_t)cmd >= NCMDS)
        return "UNKNOWN";
    return cmd_names[cmd];
}

/* ---- encoding --------------------------------------------------------- */

static int field_is_set(const proto_msg_t *m, const field_t *f)
{
    switch (f->kind) {
    case F_STR:
        return *str_at(m, f) != NULL;
    case F_INT:
        return *int_at(m, f) != 0;
    case F_FAIL:
        return m->fail != PROTO_FAIL_RETRYABLE;
    case F_HELD:
        return m->nheld > 0;
    case F_USERS:
        return m->nusers > 0;
    case F_PAYLOAD:
        return m->payload != NULL;
    }
    return 0;
}

/* Refuses what the decoder would refuse, so a bad message fails at the
 * sender rather than as a silent drop at the receiver. */
static int msg_in_bounds(const proto_msg_t *m)
{
    if (m->nheld > PROTO_MAX_HELD || m->nusers > PROTO_MAX_USERS)
        return 0;
    if (m->payload && m->payload_len > PROTO_MAX_BODY)
        return 0;
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *s = fields[i].kind == F_STR ? *str_at(m, &fields[i]) : 0;
        if (s && strlen(s) > PROTO_MAX_STRING)
            return 0;
    }
    for (size_t i = 0; i < m->nusers; i++) {
        if (!m->user_ids[i] || strlen(m->user_ids[i]) > PROTO_MAX_STRING)
            return 0;
    }
    return 1;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void pack_field(msgpack_packer *pk, const proto_msg_t *m,
                       const field_t *f)
{
    pack_str(pk, f->key, strlen(f->key));
    switch (f->kind) {
    case F_STR:
        pack_str(pk, *str_at(m, f), strlen(*str_at(m, f)));
        break;
    case F_INT:
        msgpack_pack_int64(pk, *int_at(m, f));
        break;
    case F_FAIL:
        msgpack_pack_int64(pk, (int64_t)m->fail);
        break;
    case F_HELD:
        msgpack_pack_array(pk, m->nheld);
        for (size_t i = 0; i < m->nheld; i++)
            msgpack_pack_int64(pk, m->held[i]);
        break;
    case F_USERS:
        msgpack_pack_array(pk, m->nusers);
        for (size_t i = 0; i < m->nusers; i++)
            pack_str(pk, m->user_ids[i], strlen(m->user_ids[i]));
        break;
    case F_PAYLOAD:
        msgpack_pack_bin(pk, m->payload_len);
        msgpack_pack_bin_body(pk, m->payload, m->payload_len);
        break;
    }
}

zmsg_t *proto_encode(const proto_msg_t *m)
{
    if (m->cmd <= PROTO_NONE || (size_t)m->cmd >= NCMDS || !msg_in_bounds(m))
        return NULL;

    size_t nset = 0;
    for (size_t i = 0; i < NFIELDS; i++)
        nset += field_is_set(m, &fields[i]) ? 1 : 0;

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, nset);
    for (size_t i = 0; i < NFIELDS; i++) {
        if (field_is_set(m, &fields[i]))
            pack_field(&pk, m, &fields[i]);
    }

    zmsg_t *msg = NULL;
    if (sb.size <= PROTO_MAX_BODY) {
        msg = zmsg_new();
        zmsg_addstr(msg, PROTO_VERSION);
        zmsg_addstr(msg, cmd_names[m->cmd]);
        zmsg_addmem(msg, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    return msg;
}

/* ---- shape scan --------------------------------------------------------- */

typedef enum {
    T_ERROR = -1,
    T_SCALAR,
    T_ARRAY,
    T_MAP,
} tok_t;

typedef struct {
    const uint8_t *p;
    size_t n;
    size_t i;
} cur_t;

/* Reads a w-byte big-endian unsigned integer. */
static int take_uint(cur_t *c, size_t w, uint64_t *v)
{
    if (c->n - c->i < w)
        return -1;
    *v = 0;
    for (size_t k = 0; k < w; k++)
        *v = (*v << 8) | c->p[c->i++];
    return 0;
}

static tok_t skip_bytes(cur_t *c, uint64_t len)
{
    if (len > c->n - c->i)
        return T_ERROR;
    c->i += (size_t)len;
    return T_SCALAR;
}

/* A str or bin whose length is in the next w bytes. */
static tok_t skip_sized(cur_t *c, size_t w)
{
    uint64_t len;
    if (take_uint(c, w, &len) < 0)
        return T_ERROR;
    return skip_bytes(c, len);
}

static tok_t read_count(cur_t *c, size_t w, tok_t kind, uint64_t *count)
{
    return take_uint(c, w, count) < 0 ? T_ERROR : kind;
}

/* Formats 0xc0..0xdf. Extension types and the unused 0xc1 are refused. */
static tok_t scan_typed(cur_t *c, uint8_t b, uint64_t *count)
{
    switch (b) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */
        return T_SCALAR;
    case 0xc4: /* bin 8/16/32 */
    case 0xd9: /* str 8 */
        return skip_sized(c, 1);
    case 0xc5:
    case 0xda:
        return skip_sized(c, 2);
    case 0xc6:
    case 0xdb:
        return skip_sized(c, 4);
    case 0xcc: /* uint 8 */
    case 0xd0: /* int 8 */
        return skip_bytes(c, 1);
    case 0xcd:
    case 0xd1:
        return skip_bytes(c, 2);
    case 0xca: /* float 32 */
    case 0xce:
    case 0xd2:
        return skip_bytes(c, 4);
    case 0xcb: /* float 64 */
    case 0xcf:
    case 0xd3:
        return skip_bytes(c, 8);
    case 0xdc:
        return read_count(c, 2, T_ARRAY, count);
    case 0xdd:
        return read_count(c, 4, T_ARRAY, count);
    case 0xde:
        return read_count(c, 2, T_MAP, count);
    case 0xdf:
        return read_count(c, 4, T_MAP, count);
    default:
        return T_ERROR;
    }
}

/* Steps over one scalar, or over the header of an array or map (setting
 * *count to its number of entries). */
static tok_t scan_token(cur_t *c, uint64_t *count)
{
    if (c->i >= c->n)
        return T_ERROR;
    uint8_t b = c->p[c->i++];
    if (b <= 0x7f || b >= 0xe0)
        return T_SCALAR;
    if (b <= 0x8f) {
        *count = b & 0x0f;
        return T_MAP;
    }
    if (b <= 0x9f) {
        *count = b & 0x0f;
        return T_ARRAY;
    }
    if (b <= 0xbf)
        return skip_bytes(c, b & 0x1f);
    return scan_typed(c, b, count);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* One map value: a scalar, or an array of scalars. *elements counts array
 * entries over the whole body. */
static int scan_value(cur_t *c, uint64_t *elements, char *err, size_t errlen)
{
    uint64_t count = 0;
    tok_t t = scan_token(c, &count);
    if (t == T_ERROR)
        return fail(err, errlen, "body: malformed msgpack");
    if (t == T_MAP)
        return fail(err, errlen, "body: nested map");
    if (t == T_SCALAR)
        return 0;
    if (count > c->n - c->i || count > MAX_ELEMENTS - *elements)
        return fail(err, errlen, "body: array of %llu entries over bounds",
                    (unsigned long long)count);
    *elements += count;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t inner = 0;
        t = scan_token(c, &inner);
        if (t == T_ERROR)
            return fail(err, errlen, "body: malformed msgpack");
        if (t != T_SCALAR)
            return fail(err, errlen, "body: nested array or map");
    }
    return 0;
}

static int scan_body(const uint8_t *p, size_t n, char *err, size_t errlen)
{
    cur_t c = { p, n, 0 };
    uint64_t count = 0, elements = 0;
    if (scan_token(&c, &count) != T_MAP)
        return fail(err, errlen, "body: not a msgpack map");
    if (count > PROTO_MAX_KEYS)
        return fail(err, errlen, "body: %llu keys, over %d",
                    (unsigned long long)count, PROTO_MAX_KEYS);
    for (uint64_t k = 0; k < count; k++) {
        uint64_t unused = 0;
        if (scan_token(&c, &unused) != T_SCALAR)
            return fail(err, errlen, "body: malformed or non-scalar key");
        if (scan_value(&c, &elements, err, errlen) < 0)
            return -1;
    }
    if (c.i != n)
        return fail(err, errlen, "body: %zu trailing bytes", n - c.i);
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

static const field_t *field_find(const msgpack_object_str *key)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strlen(fields[i].key) == key->size &&
            memcmp(fields[i].key, key->ptr, key->size) == 0)
            return &fields[i];
    }
    return NULL;
}

/* A copy of a msgpack str that holds no NUL byte, at most max bytes. */
static int copy_str(const msgpack_object *o, size_t max, char **out)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max)
        return -1;
    if (memchr(o->via.str.ptr, '\0', o->via.str.size))
        return -1;
    *out = xstrndup(o->via.str.ptr, o->via.str.size);
    return 0;
}

static int get_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    return -1;
}

static int get_fail(const msgpack_object *o, proto_fail_t *out)
{
    int64_t v;
    if (get_int(o, &v) < 0 || v < PROTO_FAIL_RETRYABLE || v > PROTO_FAIL_SPLIT)
        return -1;
    *out = (proto_fail_t)v;
    return 0;
}

static int get_held(const msgpack_object *o, proto_msg_t *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_MAX_HELD)
        return -1;
    size_t n = o->via.array.size;
    m->held = n ? xcalloc(n, sizeof *m->held) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (get_int(&o->via.array.ptr[i], &m->held[i]) < 0)
            return -1;
        m->nheld = i + 1;
    }
    return 0;
}

static int get_users(const msgpack_object *o, proto_msg_t *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_MAX_USERS)
        return -1;
    size_t n = o->via.array.size;
    m->user_ids = n ? xcalloc(n, sizeof *m->user_ids) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (copy_str(&o->via.array.ptr[i], PROTO_MAX_STRING, &m->user_ids[i]) <
            0)
            return -1;
        m->nusers = i + 1;
    }
    return 0;
}

/* The payload may hold any byte; it arrives as bin (or str). */
static int get_payload(const msgpack_object *o, proto_msg_t *m)
{
    const char *p;
    size_t n;
    if (o->type == MSGPACK_OBJECT_BIN) {
        p = o->via.bin.ptr;
        n = o->via.bin.size;
    } else if (o->type == MSGPACK_OBJECT_STR) {
        p = o->via.str.ptr;
        n = o->via.str.size;
    } else {
        return -1;
    }
    if (n > PROTO_MAX_BODY)
        return -1;
    m->payload = xstrndup(p, n);
    m->payload_len = n;
    return 0;
}

static int get_field(const field_t *f, const msgpack_object *o, proto_msg_t *m)
{
    switch (f->kind) {
    case F_STR:
        return copy_str(o, PROTO_MAX_STRING, str_at(m, f));
    case F_INT:
        return get_int(o, int_at(m, f));
    case F_FAIL:
        return get_fail(o, &m->fail);
    case F_HELD:
        return get_held(o, m);
    case F_USERS:
        return get_users(o, m);
    case F_PAYLOAD:
        return get_payload(o, m);
    }
    return -1;
}

static const char *kind_name(kind_t kind)
{
    static const char *const names[] = {
        [F_STR] = "a string of at most PROTO_MAX_STRING bytes without NUL",
        [F_INT] = "an int64",
        [F_FAIL] = "a failure kind 0..3",
        [F_HELD] = "an array of at most PROTO_MAX_HELD int64",
        [F_USERS] = "an array of at most PROTO_MAX_USERS strings",
        [F_PAYLOAD] = "a bin or str of at most PROTO_MAX_BODY bytes",
    };
    return names[kind];
}

static int decode_map(const msgpack_object *root, proto_msg_t *out, char *err,
                      size_t errlen)
{
    uint32_t seen = 0;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return fail(err, errlen, "body: a key is not a string");
        const field_t *f = field_find(&kv->key.via.str);
        if (!f)
            continue; /* a newer peer's field */
        uint32_t bit = 1u << (f - fields);
        if (seen & bit)
            return fail(err, errlen, "field %s: given twice", f->key);
        seen |= bit;
        if (get_field(f, &kv->val, out) < 0)
            return fail(err, errlen, "field %s: not %s", f->key,
                        kind_name(f->kind));
    }
    return 0;
}

static int decode_body(const zframe_t *frame, proto_msg_t *out, char *err,
                       size_t errlen)
{
    const char *data = (const char *)zframe_data((zframe_t *)frame);
    size_t size = zframe_size((zframe_t *)frame);
    if (size > PROTO_MAX_BODY)
        return fail(err, errlen, "body: %zu bytes, over %d", size,
                    PROTO_MAX_BODY);
    if (scan_body((const uint8_t *)data, size, err, errlen) < 0)
        return -1;

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next(&up, data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != size || up.data.type != MSGPACK_OBJECT_MAP)
        fail(err, errlen, "body: msgpack-c refused it");
    else
        rc = decode_map(&up.data, out, err, errlen);
    msgpack_unpacked_destroy(&up);
    return rc;
}

static proto_cmd_t cmd_find(zframe_t *frame)
{
    size_t size = zframe_size(frame);
    for (size_t i = PROTO_READY; i < NCMDS; i++) {
        if (strlen(cmd_names[i]) == size &&
            memcmp(cmd_names[i], zframe_data(frame), size) == 0)
            return (proto_cmd_t)i;
    }
    return PROTO_NONE;
}

static int decode_frames(zmsg_t *msg, proto_msg_t *out, char *err,
                         size_t errlen)
{
    if (zmsg_size(msg) != 3)
        return fail(err, errlen, "expected 3 frames, got %zu", zmsg_size(msg));
    zframe_t *version = zmsg_first(msg);
    zframe_t *cmd = zmsg_next(msg);
    zframe_t *body = zmsg_next(msg);
    if (zframe_size(version) != strlen(PROTO_VERSION) ||
        memcmp(zframe_data(version), PROTO_VERSION, strlen(PROTO_VERSION)))
        return fail(err, errlen, "version tag is not %s", PROTO_VERSION);
    out->cmd = cmd_find(cmd);
    if (out->cmd == PROTO_NONE)
        return fail(err, errlen, "unknown command (%zu bytes)",
                    zframe_size(cmd));
    return decode_body(body, out, err, errlen);
}

int proto_decode(zmsg_t *msg, proto_msg_t *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (decode_frames(msg, out, err, errlen) < 0) {
        proto_msg_clear(out);
        return -1;
    }
    return 0;
}

void proto_msg_clear(proto_msg_t *m)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        if (fields[i].kind == F_STR)
            free(*str_at(m, &fields[i]));
    }
    for (size_t i = 0; i < m->nusers; i++)
        free(m->user_ids[i]);
    free(m->user_ids);
    free(m->held);
    free(m->payload);
    memset(m, 0, sizeof *m);
}
