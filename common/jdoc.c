/* jdoc: owns three reusable buffers: the node array (one node per value,
 * grown by doubling, so bounded by the text length), a scratch area as
 * long as the text where strings are decoded on demand, and the stack of
 * open containers (JDOC_MAX_DEPTH frames, allocated once).
 *
 * Invariants: after a successful parse the nodes describe the text in
 * pre-order and every node's end, len and count are final; a decoded
 * string is written at its own offset in the scratch area (a string
 * decodes to fewer bytes than its quoted text occupies, NUL included), so
 * decoding one string never moves or overwrites another. */
#include "jdoc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_OBJECT 8 /* members compared pairwise below this count */

typedef struct {
    uint32_t node;
    uint32_t count;
} frame_t;

struct jdoc_t {
    const char *text;
    size_t len;
    size_t pos;

    jd_node_t *nodes;
    size_t nnodes;
    size_t nodes_cap;

    char *scratch; /* len + 1 bytes; decoded strings at their offsets */
    size_t scratch_cap;

    frame_t *stack;
    size_t depth;

    uint32_t *seen; /* hash table for duplicate keys of large objects */
    size_t seen_cap;

    char err[128];
};

/* Byte classes inside a string: 0 plain, 1 quote, 2 backslash, 3 control,
 * 4 start of a multi-byte UTF-8 sequence (or an invalid byte). */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

jdoc_t *jdoc_new(void)
{
    jdoc_t *d = xcalloc(1, sizeof *d);
    d->stack = xmalloc(JDOC_MAX_DEPTH * sizeof *d->stack);
    return d;
}

void jdoc_destroy(jdoc_t **p)
{
    if (!p || !*p)
        return;
    jdoc_t *d = *p;
    free(d->nodes);
    free(d->scratch);
    free(d->stack);
    free(d->seen);
    free(d);
    *p = NULL;
}

const char *jdoc_error(const jdoc_t *self)
{
    return self->err;
}

const char *jdoc_text(const jdoc_t *self)
{
    return self->text;
}

size_t jdoc_count(const jdoc_t *self)
{
    return self->nnodes;
}

const jd_node_t *jdoc_node(const jdoc_t *self, uint32_t i)
{
    return &self->nodes[i];
}

static int fail(jdoc_t *d, const char *what)
{
    snprintf(d->err, sizeof d->err, "invalid JSON at column %zu: %s",
             d->pos + 1, what);
    return -1;
}

static uint32_t add_node(jdoc_t *d, int type, size_t off)
{
    if (d->nnodes == d->nodes_cap) {
        d->nodes_cap = d->nodes_cap ? d->nodes_cap * 2 : 256;
        d->nodes = xrealloc(d->nodes, d->nodes_cap * sizeof *d->nodes);
    }
    jd_node_t *n = &d->nodes[d->nnodes];
    n->type = (uint8_t)type;
    n->escaped = 0;
    n->off = (uint32_t)off;
    n->len = 0;
    n->end = (uint32_t)d->nnodes + 1;
    n->count = 0;
    return (uint32_t)d->nnodes++;
}

static void skip_ws(jdoc_t *d)
{
    const char *t = d->text;
    while (d->pos < d->len && (t[d->pos] == ' ' || t[d->pos] == '\n' ||
                               t[d->pos] == '\r' || t[d->pos] == '\t'))
        d->pos++;
}

/* ---- strings ---- */

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (at most avail bytes), or 0.
 * Overlong forms, surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* Checks one escape after the backslash at d->pos. */
static int check_escape(jdoc_t *d)
{
    const char *t = d->text;
    if (d->pos + 1 >= d->len)
        return fail(d, "premature end of input in a string");
    char c = t[d->pos + 1];
    if (c && strchr("\"\\/bfnrt", c)) {
        d->pos += 2;
        return 0;
    }
    if (c != 'u')
        return fail(d, "invalid escape");
    unsigned cp, lo;
    if (d->pos + 6 > d->len || hex4(t + d->pos + 2, &cp) < 0)
        return fail(d, "invalid \\u escape");
    if (cp == 0)
        return fail(d, "\\u0000 is not allowed");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(d, "invalid Unicode escape (lone low surrogate)");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (d->pos + 12 > d->len || t[d->pos + 6] != '\\' ||
            t[d->pos + 7] != 'u' || hex4(t + d->pos + 8, &lo) < 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return fail(d, "invalid Unicode escape (unpaired surrogate)");
        d->pos += 6;
    }
    d->pos += 6;
    return 0;
}

/* Scans the string starting at the quote at d->pos. */
static int parse_string(jdoc_t *d, uint32_t *out)
{
    uint32_t i = add_node(d, JD_STRING, d->pos);
    const unsigned char *t = (const unsigned char *)d->text;
    size_t pos = d->pos + 1;
    for (;;) {
        while (pos < d->len && str_class[t[pos]] == 0)
            pos++;
        d->pos = pos;
        if (pos >= d->len)
            return fail(d, "premature end of input in a string");
        switch (str_class[t[pos]]) {
        case 1:
            d->nodes[i].len = (uint32_t)(pos + 1 - d->nodes[i].off);
            d->pos = pos + 1;
            *out = i;
            return 0;
        case 2:
            d->nodes[i].escaped = 1;
            if (check_escape(d) < 0)
                return -1;
            pos = d->pos;
            break;
        case 3:
            return fail(d, "control character in a string");
        default: {
            size_t n = utf8_len(t + pos, d->len - pos);
            if (!n)
                return fail(d, "invalid UTF-8 in a string");
            pos += n;
        }
        }
    }
}

/* Writes the decoded form of string node i into the scratch area. */
static size_t decode(jdoc_t *d, uint32_t i)
{
    const jd_node_t *n = &d->nodes[i];
    const char *s = d->text + n->off + 1;
    size_t slen = n->len - 2;
    char *o = d->scratch + n->off;
    if (!n->escaped) {
        memcpy(o, s, slen);
        o[slen] = '\0';
        return slen;
    }
    size_t k = 0;
    for (size_t j = 0; j < slen; j++) {
        if (s[j] != '\\') {
            o[k++] = s[j];
            continue;
        }
        char c = s[++j];
        if (c != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            o[k++] = to[strchr(from, c) - from];
            continue;
        }
        unsigned cp = 0, lo = 0;
        hex4(s + j + 1, &cp);
        j += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            hex4(s + j + 3, &lo);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            j += 6;
        }
        if (cp < 0x80) {
            o[k++] = (char)cp;
        } else if (cp < 0x800) {
            o[k++] = (char)(0xC0 | (cp >> 6));
            o[k++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o[k++] = (char)(0xE0 | (cp >> 12));
            o[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (cp & 0x3F));
        } else {
            o[k++] = (char)(0xF0 | (cp >> 18));
            o[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            o[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    o[k] = '\0';
    return k;
}

const char *jdoc_str(jdoc_t *self, uint32_t i, size_t *len)
{
    if (len)
        *len = 0;
    if (i >= self->nnodes || self->nodes[i].type != JD_STRING)
        return NULL;
    size_t n = decode(self, i);
    if (len)
        *len = n;
    return self->scratch + self->nodes[i].off;
}

int jdoc_str_eq(jdoc_t *self, uint32_t i, const char *s)
{
    const jd_node_t *n = &self->nodes[i];
    if (n->type != JD_STRING)
        return 0;
    size_t sl = strlen(s);
    if (!n->escaped)
        return n->len - 2 == sl && memcmp(self->text + n->off + 1, s, sl) == 0;
    size_t dl;
    const char *v = jdoc_str(self, i, &dl);
    return dl == sl && memcmp(v, s, sl) == 0;
}

/* ---- numbers and literals ---- */

static int digits(jdoc_t *d)
{
    size_t start = d->pos;
    while (d->pos < d->len && d->text[d->pos] >= '0' && d->text[d->pos] <= '9')
        d->pos++;
    return d->pos > start ? 0 : -1;
}

/* Integers must fit in int64_t, as jansson requires. */
static int check_int(jdoc_t *d, size_t off, size_t len)
{
    const char *p = d->text + off;
    int neg = *p == '-';
    size_t nd = len - (size_t)neg;
    if (nd < 19)
        return 0;
    static const char max_pos[] = "9223372036854775807";
    static const char max_neg[] = "9223372036854775808";
    const char *lim = neg ? max_neg : max_pos;
    if (nd > 19 || memcmp(p + neg, lim, 19) > 0)
        return fail(d, neg ? "too big negative integer" : "too big integer");
    return 0;
}

/* Reals must be finite; strtod needs a terminated copy. */
static int check_real(jdoc_t *d, size_t off, size_t len)
{
    char small[64];
    char *s = len < sizeof small ? small : xmalloc(len + 1);
    memcpy(s, d->text + off, len);
    s[len] = '\0';
    errno = 0;
    double v = strtod(s, NULL);
    int bad = errno == ERANGE && isinf(v);
    if (s != small)
        free(s);
    return bad ? fail(d, "real number overflow") : 0;
}

static int parse_number(jdoc_t *d, uint32_t *out)
{
    size_t off = d->pos;
    int real = 0;
    if (d->text[d->pos] == '-')
        d->pos++;
    if (d->pos < d->len && d->text[d->pos] == '0')
        d->pos++;
    else if (digits(d) < 0)
        return fail(d, "invalid number");
    if (d->pos < d->len && d->text[d->pos] == '.') {
        d->pos++;
        real = 1;
        if (digits(d) < 0)
            return fail(d, "invalid number");
    }
    if (d->pos < d->len && (d->text[d->pos] | 0x20) == 'e') {
        d->pos++;
        real = 1;
        if (d->pos < d->len &&
            (d->text[d->pos] == '+' || d->text[d->pos] == '-'))
            d->pos++;
        if (digits(d) < 0)
            return fail(d, "invalid number");
    }
    size_t len = d->pos - off;
    if ((real ? check_real(d, off, len) : check_int(d, off, len)) < 0)
        return -1;
    *out = add_node(d, real ? JD_REAL : JD_INT, off);
    d->nodes[*out].len = (uint32_t)len;
    return 0;
}

static int parse_literal(jdoc_t *d, const char *word, int type, uint32_t *out)
{
    size_t n = strlen(word);
    if (d->len - d->pos < n || memcmp(d->text + d->pos, word, n) != 0)
        return fail(d, "invalid token");
    *out = add_node(d, type, d->pos);
    d->nodes[*out].len = (uint32_t)n;
    d->pos += n;
    return 0;
}

/* ---- duplicate keys ---- */

static uint64_t key_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int same_key(jdoc_t *d, uint32_t a, uint32_t b)
{
    const jd_node_t *na = &d->nodes[a], *nb = &d->nodes[b];
    if (!na->escaped && !nb->escaped)
        return na->len == nb->len &&
               memcmp(d->text + na->off, d->text + nb->off, na->len) == 0;
    size_t la, lb;
    const char *sa = jdoc_str(d, a, &la);
    const char *sb = jdoc_str(d, b, &lb);
    return la == lb && memcmp(sa, sb, la) == 0;
}

/* Large objects go through a hash table of key indices. */
static int dup_large(jdoc_t *d, uint32_t obj, uint32_t count)
{
    size_t cap = 16;
    while (cap < (size_t)count * 2)
        cap *= 2;
    if (cap > d->seen_cap) {
        d->seen = xrealloc(d->seen, cap * sizeof *d->seen);
        d->seen_cap = cap;
    }
    memset(d->seen, 0, cap * sizeof *d->seen);
    uint32_t k = jdoc_first(obj);
    for (uint32_t m = 0; m < count; m++, k = jdoc_next_member(d, k)) {
        size_t n;
        const char *s = jdoc_str(d, k, &n);
        size_t slot = (size_t)key_hash(s, n) & (cap - 1);
        while (d->seen[slot]) {
            if (same_key(d, d->seen[slot] - 1, k))
                return 1;
            slot = (slot + 1) & (cap - 1);
        }
        d->seen[slot] = k + 1;
    }
    return 0;
}

static int has_duplicate(jdoc_t *d, uint32_t obj, uint32_t count)
{
    if (count > SMALL_OBJECT)
        return dup_large(d, obj, count);
    uint32_t a = jdoc_first(obj);
    for (uint32_t i = 0; i < count; i++, a = jdoc_next_member(d, a)) {
        uint32_t b = jdoc_next_member(d, a);
        for (uint32_t j = i + 1; j < count; j++, b = jdoc_next_member(d, b))
            if (same_key(d, a, b))
                return 1;
    }
    return 0;
}

/* ---- structure ---- */

/* Parses a scalar, or opens a container (pushing a frame). */
static int parse_value(jdoc_t *d)
{
    skip_ws(d);
    if (d->pos >= d->len)
        return fail(d, "unexpected end of input, a value expected");
    uint32_t i;
    switch (d->text[d->pos]) {
    case '{':
    case '[':
        if (d->depth == JDOC_MAX_DEPTH)
            return fail(d, "maximum nesting depth reached");
        i = add_node(d, d->text[d->pos] == '{' ? JD_OBJECT : JD_ARRAY, d->pos);
        d->stack[d->depth].node = i;
        d->stack[d->depth].count = 0;
        d->depth++;
        d->pos++;
        return 0;
    case '"':
        return parse_string(d, &i);
    case 't':
        return parse_literal(d, "true", JD_TRUE, &i);
    case 'f':
        return parse_literal(d, "false", JD_FALSE, &i);
    case 'n':
        return parse_literal(d, "null", JD_NULL, &i);
    default:
        if (d->text[d->pos] == '-' ||
            (d->text[d->pos] >= '0' && d->text[d->pos] <= '9'))
            return parse_number(d, &i);
        return fail(d, "invalid token, a value expected");
    }
}

static int close_frame(jdoc_t *d)
{
    frame_t *f = &d->stack[d->depth - 1];
    jd_node_t *n = &d->nodes[f->node];
    n->count = f->count;
    n->len = (uint32_t)(d->pos + 1 - n->off);
    n->end = (uint32_t)d->nnodes;
    d->pos++;
    d->depth--;
    if (n->type == JD_OBJECT && has_duplicate(d, f->node, f->count))
        return fail(d, "duplicate object key");
    return 0;
}

/* The key and colon of the next member of an object. */
static int parse_key(jdoc_t *d)
{
    skip_ws(d);
    if (d->pos >= d->len || d->text[d->pos] != '"')
        return fail(d, "string or '}' expected");
    uint32_t k;
    if (parse_string(d, &k) < 0)
        return -1;
    skip_ws(d);
    if (d->pos >= d->len || d->text[d->pos] != ':')
        return fail(d, "':' expected");
    d->pos++;
    return 0;
}

/* One step inside the innermost open container. */
static int step(jdoc_t *d)
{
    frame_t *f = &d->stack[d->depth - 1];
    int obj = d->nodes[f->node].type == JD_OBJECT;
    char close = obj ? '}' : ']';
    skip_ws(d);
    if (d->pos >= d->len)
        return fail(d, obj ? "unexpected end of input in an object"
                           : "unexpected end of input in an array");
    if (d->text[d->pos] == close && f->count == 0)
        return close_frame(d);
    if (f->count > 0) {
        if (d->text[d->pos] == close)
            return close_frame(d);
        if (d->text[d->pos] != ',')
            return fail(d, obj ? "',' or '}' expected" : "',' or ']' expected");
        d->pos++;
    }
    if (obj && parse_key(d) < 0)
        return -1;
    f->count++;
    return parse_value(d);
}

static void reserve(jdoc_t *d, size_t len)
{
    if (d->scratch_cap < len + 1) {
        free(d->scratch);
        d->scratch_cap = len + 1;
        d->scratch = xmalloc(d->scratch_cap);
    }
}

int jdoc_parse(jdoc_t *self, const char *text, size_t len)
{
    self->text = text;
    self->len = len;
    self->pos = 0;
    self->nnodes = 0;
    self->depth = 0;
    self->err[0] = '\0';
    if (len >= UINT32_MAX)
        return fail(self, "document larger than 4 GiB");
    reserve(self, len);
    int rc = parse_value(self);
    while (rc == 0 && self->depth > 0)
        rc = step(self);
    if (rc < 0) {
        self->nnodes = 0;
        return -1;
    }
    skip_ws(self);
    if (self->pos != len) {
        self->nnodes = 0;
        return fail(self, "end of input expected");
    }
    return 0;
}

/* ---- access ---- */

uint32_t jdoc_next_member(const jdoc_t *self, uint32_t key)
{
    return self->nodes[key + 1].end;
}

uint32_t jdoc_next_element(const jdoc_t *self, uint32_t elem)
{
    return self->nodes[elem].end;
}

uint32_t jdoc_get(jdoc_t *self, uint32_t obj, const char *key)
{
    if (obj >= self->nnodes || self->nodes[obj].type != JD_OBJECT)
        return 0;
    uint32_t k = jdoc_first(obj);
    for (uint32_t m = 0; m < self->nodes[obj].count; m++) {
        if (jdoc_str_eq(self, k, key))
            return k + 1;
        k = jdoc_next_member(self, k);
    }
    return 0;
}

int64_t jdoc_int(const jdoc_t *self, uint32_t i)
{
    const jd_node_t *n = &self->nodes[i];
    if (n->type != JD_INT)
        return 0;
    const char *p = self->text + n->off;
    int neg = *p == '-';
    uint64_t v = 0;
    for (size_t j = (size_t)neg; j < n->len; j++)
        v = v * 10 + (uint64_t)(p[j] - '0');
    return neg ? (int64_t)(0 - v) : (int64_t)v;
}

void jdoc_put_string(buf_t *out, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    buf_append(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, s + run, i - run);
        run = i + 1;
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (esc) {
            buf_puts(out, esc);
        } else {
            char u[7] = { '\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15], 0 };
            buf_append(out, u, 6);
        }
    }
    buf_append(out, s + run, n - run);
    buf_append(out, "\"", 1);
}
