/* bench_pipeline: measures the record pipeline (reader, hash join,
 * transform with its schema check, pack) on a large export, and generates
 * such an export.
 *
 *   bench_pipeline gen OUT.ndjson.gz [USERS] [HASHES.ndjson]
 *       writes USERS (default 1,000,000) export-shaped users of about 1 KB
 *       each, gzip-compressed, deterministic; 90% database users (a third
 *       of them with a hash row in HASHES when given), 8% social, 2%
 *       carrying a dotted metadata key (invalid).
 *   bench_pipeline run IN [HASHES]
 *       streams IN through the pipeline with 500,000-byte / 1000-user
 *       batches and prints counts, users/s and peak RSS.
 *
 * The generated hash values are bcrypt-shaped placeholders, not hashes of
 * any password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>

#include "hashes.h"
#include "pack.h"
#include "reader.h"
#include "shape.h"
#include "transform.h"
#include "util.h"

#define BENCH_MAX_BYTES 500000
#define BENCH_MAX_USERS 1000

/* A small deterministic generator, so every run writes the same file. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void fill_alnum(char *out, size_t n)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++)
        out[i] = set[rng_next() % (sizeof set - 1)];
    out[n] = '\0';
}

static void fake_bcrypt(char out[61])
{
    static const char set[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                              "rstuvwxyz0123456789";
    memcpy(out, "$2b$10$", 7);
    for (int i = 7; i < 60; i++)
        out[i] = set[rng_next() % (sizeof set - 1)];
    out[60] = '\0';
}

static void gen_database_user(buf_t *b, unsigned long i, int dotted)
{
    char bio[701];
    fill_alnum(bio, 420 + rng_next() % 140);
    buf_printf(b,
               "{\"user_id\":\"auth0|%024lx\",\"email\":\"user%lu@example."
               "test\",\"email_verified\":%s,\"name\":\"User %lu\","
               "\"nickname\":\"user%lu\",\"given_name\":\"Given%lu\","
               "\"family_name\":\"Family%lu\",\"identities\":[{\"connection\":"
               "\"Username-Password-Authentication\",\"user_id\":\"%024lx\","
               "\"provider\":\"auth0\",\"isSocial\":false}],\"created_at\":"
               "\"2024-03-01T10:00:00.000Z\",\"updated_at\":\"2025-06-01T10:"
               "00:00.000Z\",\"last_login\":\"2025-06-01T09:59:00.000Z\","
               "\"last_ip\":\"192.0.2.10\",\"logins_count\":%lu,"
               "\"user_metadata\":{\"theme\":\"dark\",\"bio\":\"%s\"},"
               "\"app_metadata\":{\"%s\":\"pro\",\"roles\":[\"user\"]}}\n",
               i, i, i % 3 ? "true" : "false", i, i, i, i, i, i % 500, bio,
               dotted ? "plan.tier" : "plan");
}

static void gen_social_user(buf_t *b, unsigned long i)
{
    char bio[801];
    fill_alnum(bio, 560);
    buf_printf(b,
               "{\"user_id\":\"google-oauth2|1044%017lu\",\"email\":\"user%lu@"
               "example.test\",\"email_verified\":true,\"name\":\"User %lu\","
               "\"identities\":[{\"provider\":\"google-oauth2\",\"user_id\":"
               "\"1044%017lu\",\"connection\":\"google-oauth2\",\"isSocial\":"
               "true}],\"created_at\":\"2024-03-01T10:00:00.000Z\","
               "\"user_metadata\":{\"bio\":\"%s\"}}\n",
               i, i, i, i, bio);
}

static int gen_hash_row(FILE *f, unsigned long i)
{
    char hash[61];
    fake_bcrypt(hash);
    return fprintf(f,
                   "{\"_id\":{\"$oid\":\"%024lx\"},\"email\":\"user%lu@example."
                   "test\",\"passwordHash\":\"%s\",\"connection\":"
                   "\"Username-Password-Authentication\"}\n",
                   i, i, hash) < 0
               ? -1
               : 0;
}

static int cmd_gen(const char *out, unsigned long n, const char *hashes)
{
    gzFile gz = gzopen(out, "wb6");
    FILE *hf = hashes ? fopen(hashes, "w") : NULL;
    if (!gz || (hashes && !hf)) {
        fprintf(stderr, "bench_pipeline: cannot create output files\n");
        return 1;
    }
    buf_t b;
    buf_init(&b);
    for (unsigned long i = 1; i <= n; i++) {
        unsigned kind = i % 50;
        if (kind < 4)
            gen_social_user(&b, i);
        else
            gen_database_user(&b, i, kind == 4);
        if (hf && kind >= 4 && i % 3 == 0 && gen_hash_row(hf, i) < 0)
            return 1;
        if (b.len > 1 << 20 || i == n) {
            if (gzwrite(gz, b.data, (unsigned)b.len) != (int)b.len)
                return 1;
            buf_reset(&b);
        }
    }
    buf_free(&b);
    int rc = gzclose(gz) == Z_OK ? 0 : 1;
    if (hf && fclose(hf) != 0)
        rc = 1;
    return rc;
}

/* What a run saw. */
typedef struct {
    size_t records, bad, imported, deferred, invalid, with_hash;
    size_t batches, batch_bytes, oversize;
} tally_t;

static void take_batch(pack_t *p, tally_t *t)
{
    batch_t *b = pack_take(p);
    if (!b)
        return;
    t->batches++;
    t->batch_bytes += b->users_len;
    batch_destroy(&b);
}

static void pack_user(pack_t *p, const xf_user_t *u, tally_t *t)
{
    int rc = pack_add(p, u->source_id, u->json, u->json_len);
    if (rc == 1) {
        take_batch(p, t);
        rc = pack_add(p, u->source_id, u->json, u->json_len);
    }
    if (rc < 0)
        t->oversize++;
}

static void count_user(pack_t *p, const xf_user_t *u, tally_t *t)
{
    if (u->kind == XF_IMPORT) {
        t->imported++;
        t->with_hash += u->has_password != 0;
        pack_user(p, u, t);
    } else if (u->kind == XF_DEFERRED) {
        t->deferred++;
    } else {
        t->invalid++;
    }
}

static int stream(reader_t *r, const hashes_t *h, tally_t *t)
{
    pack_t *p = pack_new(BENCH_MAX_BYTES, BENCH_MAX_USERS);
    xf_opts_t opts = { h, 0 };
    jdoc_t *doc = jdoc_new();
    int rc;
    while ((rc = reader_next_doc(r, doc)) != READER_EOF) {
        if (rc == READER_FATAL)
            break;
        t->records++;
        if (rc == READER_BAD) {
            t->bad++;
            continue;
        }
        xf_user_t u;
        transform_doc(doc, &opts, &u);
        count_user(p, &u, t);
        xf_user_clear(&u);
    }
    take_batch(p, t);
    pack_destroy(&p);
    jdoc_destroy(&doc);
    return rc == READER_FATAL ? -1 : 0;
}

static void report(const tally_t *t, double secs, const hashes_t *h)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("records     %zu (bad %zu)\n", t->records, t->bad);
    printf("import      %zu (with hash %zu)\n", t->imported, t->with_hash);
    printf("deferred    %zu\ninvalid     %zu\n", t->deferred, t->invalid);
    printf("batches     %zu (%zu bytes, %zu users too large)\n", t->batches,
           t->batch_bytes, t->oversize);
    if (h)
        printf("hash rows   %zu (unused %zu)\n", hashes_count(h),
               hashes_unused(h));
    printf("elapsed     %.2f s\n", secs);
    printf("users/s     %.0f\n", secs > 0 ? (double)t->records / secs : 0.0);
    printf("peak RSS    %ld KB\n", ru.ru_maxrss);
}

static int cmd_run(const char *in, const char *hashes)
{
    char *err = NULL;
    int64_t t0 = util_mono_ms();
    hashes_t *h = hashes ? hashes_load(hashes, &err) : NULL;
    reader_t *r = h || !hashes ? reader_new(in, 0, &err) : NULL;
    if (r)
        reader_expect(r, SHAPE_EXPORT | SHAPE_DISPLAY);
    if (!r) {
        fprintf(stderr, "bench_pipeline: %s\n", err ? err : "failed");
        free(err);
        hashes_destroy(&h);
        return 1;
    }
    tally_t t;
    memset(&t, 0, sizeof t);
    int rc = stream(r, h, &t);
    if (rc < 0)
        fprintf(stderr, "bench_pipeline: %s\n", reader_error(r));
    report(&t, (double)(util_mono_ms() - t0) / 1000.0, h);
    reader_destroy(&r);
    hashes_destroy(&h);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv[2],
                       argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000UL,
                       argc > 4 ? argv[4] : NULL);
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], argc > 3 ? argv[3] : NULL);
    fprintf(stderr, "usage: bench_pipeline gen OUT.ndjson.gz [USERS] "
                    "[HASHES.ndjson]\n"
                    "       bench_pipeline run IN [HASHES.ndjson]\n");
    return 2;
}
