#ifndef A0_JDOC_H
#define A0_JDOC_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* jdoc: a strict JSON parser (RFC 8259, UTF-8 checked, duplicate keys
 * refused) that indexes one document without building it: every value
 * becomes a node in a flat pre-order array pointing back into the caller's
 * text, so a value can be copied to the output byte for byte instead of
 * being serialised again. Nothing is allocated per value; the buffers of a
 * jdoc_t are reused from one document to the next.
 *
 * Rules beyond the grammar, chosen to match what jansson (the library the
 * rest of the project uses) accepts: integers must fit in 64 bits, reals
 * must be finite, "\u0000" is refused, nesting is bounded by
 * JDOC_MAX_DEPTH (jansson's own bound). Errors never quote the text. */

#define JDOC_MAX_DEPTH 2048

typedef enum {
    JD_NULL = 0,
    JD_FALSE,
    JD_TRUE,
    JD_INT,
    JD_REAL,
    JD_STRING,
    JD_ARRAY,
    JD_OBJECT,
} jd_type_t;

/* One value. Object members are two nodes, key (a JD_STRING) then value;
 * the first child of node i is i + 1 and the node after its whole subtree
 * is end, which is how siblings are reached. */
typedef struct {
    uint8_t type;
    uint8_t escaped; /* JD_STRING: holds backslash escapes */
    uint32_t off;    /* first byte in the text (the '"' of a string) */
    uint32_t len;    /* bytes of the value's text, quotes included */
    uint32_t end;    /* index of the first node after this subtree */
    uint32_t count;  /* members (object) or elements (array) */
} jd_node_t;

typedef struct jdoc_t jdoc_t;

jdoc_t *jdoc_new(void);
void jdoc_destroy(jdoc_t **p);

/* Parses text (len bytes, need not be NUL-terminated, must stay alive and
 * unchanged while the document is used). Returns 0, or -1 with
 * jdoc_error() set to "invalid JSON at column N: reason" (N counts bytes
 * from 1). Any value may be the root. Texts over 4 GiB are refused. */
int jdoc_parse(jdoc_t *self, const char *text, size_t len);

const char *jdoc_error(const jdoc_t *self);
const char *jdoc_text(const jdoc_t *self);
size_t jdoc_count(const jdoc_t *self);

/* Node i (0 is the root) of the last successful parse. */
const jd_node_t *jdoc_node(const jdoc_t *self, uint32_t i);

static inline int jdoc_type(const jdoc_t *self, uint32_t i)
{
    return jdoc_node(self, i)->type;
}

/* The value of member key in object obj, or 0 when obj is not an object
 * or has no such member (0 is the root, never a member). */
uint32_t jdoc_get(jdoc_t *self, uint32_t obj, const char *key);

/* Iteration: the first child (an object's first key, an array's first
 * element) and the next sibling. For objects pass the key index; the
 * value is key + 1. Valid only while fewer than count children were
 * visited. */
static inline uint32_t jdoc_first(uint32_t container)
{
    return container + 1;
}

uint32_t jdoc_next_member(const jdoc_t *self, uint32_t key);
uint32_t jdoc_next_element(const jdoc_t *self, uint32_t elem);

/* The decoded bytes of string node i, NUL-terminated (a string holding
 * U+0000 cannot occur: it is refused at parse time), *len set when len is
 * not NULL. The bytes live in the document's scratch space, at a place of
 * their own, until the next parse. NULL when i is not a string. */
const char *jdoc_str(jdoc_t *self, uint32_t i, size_t *len);

/* 1 when string node i decodes to exactly s. */
int jdoc_str_eq(jdoc_t *self, uint32_t i, const char *s);

/* The value of an integer node, 0 for other nodes. */
int64_t jdoc_int(const jdoc_t *self, uint32_t i);

/* Appends s (n bytes of UTF-8) to out as a JSON string literal, escaping
 * what JSON requires (quote, backslash, control characters) and nothing else.
 */
void jdoc_put_string(buf_t *out, const char *s, size_t n);

#endif
