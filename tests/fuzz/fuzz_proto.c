/* fuzz_proto: libFuzzer entry for proto_decode. The input is split into
 * frames at each "\n--\n" separator (so the fuzzer can reach the 3-frame
 * path and also try other counts); every accepted message is encoded again
 * and must decode to the same encoding. */
#include <czmq.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define SEP        "\n--\n"
#define SEP_LEN    4
#define MAX_FRAMES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zmsg_t *split_frames(const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new();
    size_t start = 0;
    for (size_t i = 0; i + SEP_LEN <= size; i++) {
        if (zmsg_size(msg) + 1 >= MAX_FRAMES)
            break;
        if (memcmp(data + i, SEP, SEP_LEN) == 0) {
            zmsg_addmem(msg, data + start, i - start);
            start = i + SEP_LEN;
            i = start - 1;
        }
    }
    zmsg_addmem(msg, data + start, size - start);
    return msg;
}

static int same_frames(zmsg_t *a, zmsg_t *b)
{
    if (zmsg_size(a) != zmsg_size(b))
        return 0;
    for (zframe_t *fa = zmsg_first(a), *fb = zmsg_first(b); fa && fb;
         fa = zmsg_next(a), fb = zmsg_next(b)) {
        if (!zframe_eq(fa, fb))
            return 0;
    }
    return 1;
}

/* decode(encode(m)) must be m: checked through a second encoding. */
static void check_round_trip(const proto_msg_t *m)
{
    zmsg_t *first = proto_encode(m);
    if (!first)
        abort();
    proto_msg_t again;
    memset(&again, 0, sizeof again);
    char err[256];
    if (proto_decode(first, &again, err, sizeof err) < 0)
        abort();
    zmsg_t *second = proto_encode(&again);
    if (!second || !same_frames(first, second))
        abort();
    proto_msg_clear(&again);
    zmsg_destroy(&first);
    zmsg_destroy(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zmsg_t *msg = split_frames(data, size);
    proto_msg_t m;
    memset(&m, 0, sizeof m);
    char err[256];
    if (proto_decode(msg, &m, err, sizeof err) == 0)
        check_round_trip(&m);
    else if (err[0] == '\0')
        abort(); /* every refusal must say why */
    proto_msg_clear(&m);
    zmsg_destroy(&msg);
    return 0;
}
