/* hashes: owns the in-memory index of the password-hash file delivered with
 * a support export. Each row becomes one entry (its hash and a used flag)
 * reachable through an open-addressing table under both of its ids:
 * _id.$oid and, when present, alt_id (users imported with a custom id are
 * known to Auth0 by that id, not by the ObjectId).
 *
 * The file is read through reader (plain or gzip, BOM and CRLF tolerated,
 * bounded line length). Any bad row fails the whole load: a user imported
 * without its hash cannot be given one later, so a damaged file must stop
 * the run, not thin it out silently. Hash values are secrets: they appear
 * in no message and are wiped when the index is destroyed. */
/* hashes: owns the in-memory index of the password-hash file delivered with
 * a support export. Each row is stored once, as "oid\0alt\0hash\0" in a
 * chain of large arena blocks (alt empty when the row has none), and is
 * reachable through an open-addressing table of 32-bit slots under both of
 * its ids: _id.$oid and, when present, alt_id (users imported with a custom
 * id are known to Auth0 by that id, not by the ObjectId). About 100 bytes a
 * row, so a million rows fit in about 100 MB.
 *
 * The file is read through reader (plain or gzip, BOM and CRLF tolerated,
 * bounded line length, the kind of file checked). Any bad row fails the
 * whole load: a user imported without its hash cannot be given one later,
 * so a damaged file must stop the run, not thin it out silently. Hash
 * values are secrets: they appear in no message and are wiped when the
 * index is destroyed. */
#include "hashes.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"
#include "reader.h"
#include "shape.h"
#include "util.h"

#define HASHES_MAX_LINE    (64 * 1024)
#define HASHES_MAX_ID      1024
#define HASHES_BLOCK_BYTES (1024 * 1024)

/* One arena block; rows never straddle two. */
typedef struct block_t {
    struct block_t *next;
    size_t used;
    size_t size;
    char data[];
} block_t;

struct hashes_t {
    block_t *blocks; /* newest first */
    char **rows;     /* row -> its "oid\0alt\0hash\0" */
    size_t nrows;
    size_t rows_cap;
    unsigned char *used; /* one flag per row; written by hashes_find */
    uint32_t *slots;     /* 0 free, else 2 * row + which + 1 */
    size_t nslots;       /* power of two */
    size_t nkeys;
};

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The id a slot value stands for: the oid, or the alt after it. */
static const char *slot_key(const hashes_t *h, uint32_t v)
{
    const char *r = h->rows[(v - 1) / 2];
    return (v - 1) % 2 ? r + strlen(r) + 1 : r;
}

/* The slot holding key, or the free slot where it would go. */
static uint32_t *lookup(const hashes_t *h, const char *key)
{
    size_t mask = h->nslots - 1;
    size_t i = (size_t)hash_key(key) & mask;
    while (h->slots[i] && strcmp(slot_key(h, h->slots[i]), key) != 0)
        i = (i + 1) & mask;
    return &h->slots[i];
}

/* Keys are unique, so moving them needs no comparisons. */
static void grow_table(hashes_t *h)
{
    uint32_t *old = h->slots;
    size_t nold = h->nslots;
    h->nslots = nold ? nold * 2 : 1024;
    h->slots = xcalloc(h->nslots, sizeof *h->slots);
    size_t mask = h->nslots - 1;
    for (size_t i = 0; i < nold; i++) {
        if (!old[i])
            continue;
        size_t k = (size_t)hash_key(slot_key(h, old[i])) & mask;
        while (h->slots[k])
            k = (k + 1) & mask;
        h->slots[k] = old[i];
    }
    free(old);
}

/* Adds the oid (which 0) or alt (1) of row. Returns -1 when another row
 * already owns that id. */
static int insert_key(hashes_t *h, size_t row, int which)
{
    if ((h->nkeys + 1) * 2 > h->nslots)
        grow_table(h);
    uint32_t v = (uint32_t)(2 * row + (size_t)which + 1);
    uint32_t *s = lookup(h, slot_key(h, v));
    if (*s)
        return (*s - 1) / 2 == row ? 0 : -1;
    *s = v;
    h->nkeys++;
    return 0;
}

/* Room for n bytes in the newest block, starting a new one when needed. */
static char *arena_take(hashes_t *h, size_t n)
{
    block_t *b = h->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > HASHES_BLOCK_BYTES ? n : HASHES_BLOCK_BYTES;
        b = xmalloc(sizeof *b + size);
        b->next = h->blocks;
        b->used = 0;
        b->size = size;
        h->blocks = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

/* Copies the three strings of one row into the arena. */
static size_t add_row(hashes_t *h, const char *oid, size_t lo, const char *alt,
                      size_t la, const char *hash, size_t lh)
{
    if (h->nrows == h->rows_cap) {
        h->rows_cap = h->rows_cap ? h->rows_cap * 2 : 1024;
        h->rows = xrealloc(h->rows, h->rows_cap * sizeof *h->rows);
        h->used = xrealloc(h->used, h->rows_cap);
    }
    char *r = arena_take(h, lo + la + lh + 3);
    memcpy(r, oid, lo);
    r[lo] = '\0';
    memcpy(r + lo + 1, alt, la);
    r[lo + 1 + la] = '\0';
    memcpy(r + lo + la + 2, hash, lh);
    r[lo + la + 2 + lh] = '\0';
    h->rows[h->nrows] = r;
    h->used[h->nrows] = 0;
    return h->nrows++;
}

/* A usable id: a non-empty string of bounded length. */
static const char *id_string(jdoc_t *d, uint32_t v, size_t *n)
{
    const char *s = v ? jdoc_str(d, v, n) : NULL;
    if (!s || !*n || *n > HASHES_MAX_ID || strlen(s) != *n)
        return NULL;
    return s;
}

/* Checks one row and indexes it. Returns NULL or the reason it is bad. */
static const char *index_row(hashes_t *h, jdoc_t *d)
{
    size_t lo, la = 0, lh;
    const char *oid =
        id_string(d, jdoc_get(d, jdoc_get(d, 0, "_id"), "$oid"), &lo);
    if (!oid)
        return "_id.$oid missing or not a usable string";
    uint32_t altv = jdoc_get(d, 0, "alt_id");
    const char *alt = NULL;
    if (altv && jdoc_type(d, altv) != JD_NULL &&
        !(alt = id_string(d, altv, &la)))
        return "alt_id is not a usable string";
    const char *hash = jdoc_str(d, jdoc_get(d, 0, "passwordHash"), &lh);
    if (!hash || !lh)
        return "passwordHash missing or not a non-empty string";
    size_t i = add_row(h, oid, lo, alt ? alt : "", la, hash, lh);
    if (insert_key(h, i, 0) < 0)
        return "_id.$oid already indexed by an earlier row";
    if (alt && insert_key(h, i, 1) < 0)
        return "alt_id already indexed by an earlier row";
    return NULL;
}

/* Reads every row. Returns 0, or -1 with *err set to a message naming the
 * file and line. */
static int load_rows(hashes_t *h, reader_t *rd, const char *path, char **err)
{
    jdoc_t *d = jdoc_new();
    int rc;
    for (;;) {
        rc = reader_next_doc(rd, d);
        if (rc == READER_EOF)
            break;
        if (rc != READER_RECORD) {
            *err = xstrdup(reader_error(rd));
            break;
        }
        const char *bad = index_row(h, d);
        if (bad) {
            *err = xasprintf("%s:%zu: %s", path, reader_line(rd), bad);
            rc = READER_BAD;
            break;
        }
    }
    jdoc_destroy(&d);
    return rc == READER_EOF ? 0 : -1;
}

hashes_t *hashes_load(const char *path, char **err)
{
    char *e = NULL;
    reader_t *rd = reader_new(path, HASHES_MAX_LINE, &e);
    if (!rd) {
        if (err)
            *err = e;
        else
            free(e);
        return NULL;
    }
    reader_expect(rd, SHAPE_HASHES);
    hashes_t *h = xcalloc(1, sizeof *h);
    grow_table(h);
    int rc = load_rows(h, rd, path, &e);
    reader_destroy(&rd);
    if (rc < 0) {
        hashes_destroy(&h);
        if (err)
            *err = e;
        else
            free(e);
        return NULL;
    }
    return h;
}

const char *hashes_find(const hashes_t *self, const char *source_id)
{
    if (!self || !source_id)
        return NULL;
    if (strncmp(source_id, "auth0|", 6) == 0)
        source_id += 6;
    const uint32_t *s = lookup(self, source_id);
    if (!*s)
        return NULL;
    size_t row = (*s - 1) / 2;
    self->used[row] = 1;
    const char *r = self->rows[row];
    r += strlen(r) + 1;
    return r + strlen(r) + 1;
}

size_t hashes_count(const hashes_t *self)
{
    return self ? self->nrows : 0;
}

size_t hashes_unused(const hashes_t *self)
{
    size_t n = 0;
    for (size_t i = 0; self && i < self->nrows; i++)
        n += !self->used[i];
    return n;
}

/* Overwrites secret bytes in a way the compiler may not elide. */
static void wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n--)
        *v++ = 0;
}

void hashes_destroy(hashes_t **p)
{
    if (!p || !*p)
        return;
    hashes_t *h = *p;
    while (h->blocks) {
        block_t *b = h->blocks;
        h->blocks = b->next;
        wipe(b->data, b->used);
        free(b);
    }
    free(h->rows);
    free(h->used);
    free(h->slots);
    free(h);
    *p = NULL;
}
