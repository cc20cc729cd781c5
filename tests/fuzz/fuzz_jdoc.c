/* fuzz_jdoc: libFuzzer entry comparing jdoc with jansson on the same text.
 * Both must accept or refuse it alike (jdoc mirrors jansson's rules:
 * strict grammar, UTF-8, no duplicate keys, 64-bit integers, finite reals,
 * no U+0000, the same depth bound), and an accepted text must give the
 * same values: types, numbers, decoded strings, keys, order of array
 * elements. Every decoded string must survive jdoc_put_string and a second
 * parse unchanged. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jdoc_t *doc, *again;

static void same_string(jdoc_t *d, uint32_t i, const json_t *j)
{
    size_t n;
    const char *s = jdoc_str(d, i, &n);
    if (!json_is_string(j) || json_string_length(j) != n ||
        memcmp(json_string_value(j), s, n) != 0)
        abort();
    buf_t b;
    buf_init(&b);
    jdoc_put_string(&b, s, n);
    size_t m;
    if (jdoc_parse(again, b.data, b.len) != 0)
        abort();
    const char *back = jdoc_str(again, 0, &m);
    if (m != n || memcmp(back, s, n) != 0)
        abort();
    buf_free(&b);
}

static void same(jdoc_t *d, uint32_t i, const json_t *j)
{
    const jd_node_t *n = jdoc_node(d, i);
    switch (n->type) {
    case JD_NULL:
    case JD_TRUE:
    case JD_FALSE:
        if ((n->type == JD_NULL && !json_is_null(j)) ||
            (n->type == JD_TRUE && !json_is_true(j)) ||
            (n->type == JD_FALSE && !json_is_false(j)))
            abort();
        return;
    case JD_INT:
        if (!json_is_integer(j) || json_integer_value(j) != jdoc_int(d, i))
            abort();
        return;
    case JD_REAL:
        if (!json_is_real(j))
            abort();
        return;
    case JD_STRING:
        same_string(d, i, j);
        return;
    default:
        break;
    }
    uint32_t c = jdoc_first(i);
    if (n->type == JD_ARRAY) {
        if (!json_is_array(j) || json_array_size(j) != n->count)
            abort();
        for (uint32_t k = 0; k < n->count; k++, c = jdoc_next_element(d, c))
            same(d, c, json_array_get(j, k));
        return;
    }
    if (!json_is_object(j) || json_object_size(j) != n->count)
        abort();
    for (uint32_t k = 0; k < n->count; k++, c = jdoc_next_member(d, c)) {
        const json_t *v = json_object_get(j, jdoc_str(d, c, NULL));
        if (!v)
            abort();
        same(d, c + 1, v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!doc) {
        doc = jdoc_new();
        again = jdoc_new();
    }
    /* jansson skips NUL bytes (they end its internal buffer), where JSON
     * forbids them; jdoc refuses them. The reader refuses such records
     * before either parser sees them. */
    if (memchr(data, '\0', size))
        return 0;
    int rc = jdoc_parse(doc, (const char *)data, size);
    json_t *j = json_loadb((const char *)data, size,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if ((rc == 0) != (j != NULL))
        abort();
    if (rc == 0 && jdoc_node(doc, 0)->len > size)
        abort();
    if (j)
        same(doc, 0, j);
    json_decref(j);
    return 0;
}
