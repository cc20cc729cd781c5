/* keyset: owns an open-addressing table of key fingerprints (64 + 32 bits)
 * with the number of the label that claimed each, the labels' pointers
 * (numbered from 1, 0 marks a free slot) and the arena blocks holding the
 * labels' text. The table doubles past three quarters full; nothing is
 * ever removed. */
#include "keyset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEYSET_BLOCK_BYTES (256 * 1024)

typedef struct {
    uint64_t a;
    uint32_t b;
    uint32_t holder; /* label number, 0: free */
} slot_t;

typedef struct block_t {
    struct block_t *next;
    size_t used, size;
    char data[];
} block_t;

struct keyset_t {
    slot_t *slots;
    size_t nslots; /* power of two */
    size_t nkeys;
    char **labels; /* labels[i - 1] is label number i */
    size_t nlabels, labels_cap;
    block_t *blocks;
    size_t bytes;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* A seeded 64-bit hash, eight bytes a step. */
static uint64_t hash64(const unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t h = mix(seed ^ (n * 0x9E3779B97F4A7C15ULL));
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h ^ w) + 0x9E3779B97F4A7C15ULL;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return mix(h ^ w ^ ((uint64_t)n << 56));
}

keyset_t *keyset_new(void)
{
    keyset_t *self = xcalloc(1, sizeof *self);
    self->nslots = 1024;
    self->slots = xcalloc(self->nslots, sizeof *self->slots);
    self->bytes = sizeof *self + self->nslots * sizeof *self->slots;
    return self;
}

void keyset_destroy(keyset_t **p)
{
    if (!p || !*p)
        return;
    keyset_t *self = *p;
    while (self->blocks) {
        block_t *b = self->blocks;
        self->blocks = b->next;
        free(b);
    }
    free(self->labels);
    free(self->slots);
    free(self);
    *p = NULL;
}

size_t keyset_count(const keyset_t *self)
{
    return self->nkeys;
}

size_t keyset_bytes(const keyset_t *self)
{
    return self->bytes;
}

static slot_t *find(slot_t *slots, size_t nslots, uint64_t a, uint32_t b)
{
    size_t mask = nslots - 1, i = (size_t)a & mask;
    while (slots[i].holder && (slots[i].a != a || slots[i].b != b))
        i = (i + 1) & mask;
    return &slots[i];
}

static void grow(keyset_t *self)
{
    size_t n = self->nslots * 2;
    slot_t *slots = xcalloc(n, sizeof *slots);
    for (size_t i = 0; i < self->nslots; i++)
        if (self->slots[i].holder)
            *find(slots, n, self->slots[i].a, self->slots[i].b) =
                self->slots[i];
    self->bytes += (n - self->nslots) * sizeof *slots;
    free(self->slots);
    self->slots = slots;
    self->nslots = n;
}

/* The number of holder's label, stored unless it equals the last one. */
static uint32_t label_of(keyset_t *self, const char *holder)
{
    if (self->nlabels && strcmp(self->labels[self->nlabels - 1], holder) == 0)
        return (uint32_t)self->nlabels;
    size_t n = strlen(holder) + 1;
    block_t *b = self->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > KEYSET_BLOCK_BYTES ? n : KEYSET_BLOCK_BYTES;
        b = xmalloc(sizeof *b + size);
        b->next = self->blocks;
        b->used = 0;
        b->size = size;
        self->blocks = b;
        self->bytes += sizeof *b + size;
    }
    if (self->nlabels == self->labels_cap) {
        self->labels_cap = self->labels_cap ? self->labels_cap * 2 : 1024;
        self->labels =
            xrealloc(self->labels, self->labels_cap * sizeof *self->labels);
        self->bytes += self->labels_cap / 2 * sizeof *self->labels;
    }
    char *s = memcpy(b->data + b->used, holder, n);
    b->used += n;
    self->labels[self->nlabels++] = s;
    return (uint32_t)self->nlabels;
}

const char *keyset_claim(keyset_t *self, const void *key, size_t n,
                         const char *holder)
{
    uint64_t a = hash64(key, n, 0x243F6A8885A308D3ULL);
    uint32_t b = (uint32_t)(hash64(key, n, 0x13198A2E03707344ULL) >> 32);
    slot_t *s = find(self->slots, self->nslots, a, b);
    if (s->holder)
        return self->labels[s->holder - 1];
    if ((self->nkeys + 1) * 4 > self->nslots * 3) {
        grow(self);
        s = find(self->slots, self->nslots, a, b);
    }
    s->a = a;
    s->b = b;
    s->holder = label_of(self, holder);
    self->nkeys++;
    return NULL;
}
