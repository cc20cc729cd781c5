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
#include "hashes.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "util.h"

#define HASHES_MAX_LINE (64 * 1024)
#define HASHES_MAX_ID   1024

typedef struct {
    char *oid; /* owns the allocation holding oid, alt and hash */
    char *alt; /* NULL when the row has none */
    char *hash;
    size_t len; /* bytes of that allocation */
} row_t;

typedef struct {
    const char *key; /* NULL: free slot */
    size_t row;
} slot_t;

struct hashes_t {
    row_t *rows;
    size_t nrows;
    size_t rows_cap;
    unsigned char *used; /* one flag per row; written by hashes_find */
    slot_t *slots;
    size_t nslots; /* power of two */
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

/* The slot holding key, or the free slot where it would go. */
static slot_t *lookup(const hashes_t *h, const char *key)
{
    size_t mask = h->nslots - 1;
    size_t i = (size_t)hash_key(key) & mask;
    while (h->slots[i].key && strcmp(h->slots[i].key, key) != 0)
        i = (i + 1) & mask;
    return &h->slots[i];
}

static void grow_table(hashes_t *h)
{
    slot_t *old = h->slots;
    size_t nold = h->nslots;
    h->nslots = nold ? nold * 2 : 1024;
    h->slots = xcalloc(h->nslots, sizeof *h->slots);
    for (size_t i = 0; i < nold; i++)
        if (old[i].key)
            *lookup(h, old[i].key) = old[i];
    free(old);
}

/* Adds key for row. Returns -1 when another row already owns the key. */
static int insert_key(hashes_t *h, const char *key, size_t row)
{
    if ((h->nkeys + 1) * 2 > h->nslots)
        grow_table(h);
    slot_t *s = lookup(h, key);
    if (s->key)
        return s->row == row ? 0 : -1;
    s->key = key;
    s->row = row;
    h->nkeys++;
    return 0;
}

/* Copies the three strings of one row into a single allocation. */
static size_t add_row(hashes_t *h, const char *oid, const char *alt,
                      const char *hash)
{
    if (h->nrows == h->rows_cap) {
        h->rows_cap = h->rows_cap ? h->rows_cap * 2 : 1024;
        h->rows = xrealloc(h->rows, h->rows_cap * sizeof *h->rows);
        h->used = xrealloc(h->used, h->rows_cap);
    }
    size_t lo = strlen(oid) + 1, la = alt ? strlen(alt) + 1 : 0;
    size_t lh = strlen(hash) + 1;
    row_t *r = &h->rows[h->nrows];
    r->len = lo + la + lh;
    r->oid = xmalloc(r->len);
    memcpy(r->oid, oid, lo);
    r->alt = alt ? memcpy(r->oid + lo, alt, la) : NULL;
    r->hash = memcpy(r->oid + lo + la, hash, lh);
    h->used[h->nrows] = 0;
    return h->nrows++;
}

/* A usable id: a non-empty string of bounded length. */
static const char *id_string(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || !*s || json_string_length(v) > HASHES_MAX_ID)
        return NULL;
    return s;
}

/* Checks one row and indexes it. Returns NULL or the reason it is bad. */
static const char *index_row(hashes_t *h, const json_t *row)
{
    const char *oid =
        id_string(json_object_get(json_object_get(row, "_id"), "$oid"));
    if (!oid)
        return "_id.$oid missing or not a usable string";
    const json_t *altv = json_object_get(row, "alt_id");
    const char *alt = NULL;
    if (altv && !json_is_null(altv) && !(alt = id_string(altv)))
        return "alt_id is not a usable string";
    const char *hash = json_string_value(json_object_get(row, "passwordHash"));
    if (!hash || !*hash)
        return "passwordHash missing or not a non-empty string";
    size_t i = add_row(h, oid, alt, hash);
    if (insert_key(h, h->rows[i].oid, i) < 0)
        return "_id.$oid already indexed by an earlier row";
    if (alt && insert_key(h, h->rows[i].alt, i) < 0)
        return "alt_id already indexed by an earlier row";
    return NULL;
}

/* Reads every row. Returns 0, or -1 with *err set to a message naming the
 * file and line. */
static int load_rows(hashes_t *h, reader_t *rd, const char *path, char **err)
{
    for (;;) {
        json_t *row = NULL;
        int rc = reader_next(rd, &row);
        if (rc == READER_EOF)
            return 0;
        if (rc != READER_RECORD) {
            *err = xstrdup(reader_error(rd));
            return -1;
        }
        const char *bad = index_row(h, row);
        json_decref(row);
        if (bad) {
            *err = xasprintf("%s:%zu: %s", path, reader_line(rd), bad);
            return -1;
        }
    }
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
    const slot_t *s = lookup(self, source_id);
    if (!s->key)
        return NULL;
    self->used[s->row] = 1;
    return self->rows[s->row].hash;
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
    for (size_t i = 0; i < h->nrows; i++) {
        wipe(h->rows[i].oid, h->rows[i].len);
        free(h->rows[i].oid);
    }
    free(h->rows);
    free(h->used);
    free(h->slots);
    free(h);
    *p = NULL;
}
