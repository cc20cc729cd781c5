/* fuzz_transform: libFuzzer entry for the record pipeline. The input is
 * written to a file and read as an export (NDJSON, JSON array or CSV,
 * plain or gzip, decided by the reader as for a real run) through both
 * reader paths; each record is transformed with and without metadata
 * rewriting and with a small hash index.
 *
 * Checked on every input (abort on failure): both reader paths return the
 * same results, record for record; every XF_IMPORT object is JSON that
 * validate_import_user accepts, json_len is its length, and it carries at
 * most one of the two hash fields; an invalid or deferred user carries no
 * object and a reason without '@'; username rules leave only users they
 * accept. Memory errors and leaks are the sanitizers' to report. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashes.h"
#include "jdoc.h"
#include "reader.h"
#include "shape.h"
#include "transform.h"
#include "validate.h"

#define MAX_RECORD (64 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char input_path[64];
static hashes_t *hashes;

static void remove_input(void)
{
    unlink(input_path);
    hashes_destroy(&hashes);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(input_path, sizeof input_path, "/tmp/a0fuzz.%ld.in",
             (long)getpid());
    atexit(remove_input);
    char hpath[64];
    snprintf(hpath, sizeof hpath, "/tmp/a0fuzz.%ld.hashes", (long)getpid());
    FILE *f = fopen(hpath, "w");
    if (!f)
        abort();
    fputs("{\"_id\":{\"$oid\":\"1\"},\"passwordHash\":\"$2b$10$"
          "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"}\n"
          "{\"_id\":{\"$oid\":\"2\"},\"alt_id\":\"a\",\"passwordHash\":"
          "\"$2y$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"}\n"
          "{\"_id\":{\"$oid\":\"3\"},\"passwordHash\":\"plain\"}\n",
          f);
    if (fclose(f) != 0)
        abort();
    hashes = hashes_load(hpath, NULL);
    unlink(hpath);
    if (!hashes)
        abort();
    return 0;
}

static void check_user(const xf_user_t *u)
{
    if (u->kind != XF_IMPORT) {
        if (u->json || strchr(u->reason, '@') || !u->reason[0])
            abort();
        return;
    }
    if (!u->json || strlen(u->json) != u->json_len || !u->source_id)
        abort();
    json_t *j = json_loadb(u->json, u->json_len, JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        abort();
    char code[48], path[256], msg[200];
    if (validate_import_user(j, code, sizeof code, path, sizeof path, msg,
                             sizeof msg) != 0)
        abort();
    if (json_object_get(j, "password_hash") &&
        json_object_get(j, "custom_password_hash"))
        abort();
    if (!u->has_password && (json_object_get(j, "password_hash") ||
                             json_object_get(j, "custom_password_hash")))
        abort();
    json_decref(j);
}

static void transform_all(jdoc_t *doc)
{
    static const xf_rules_t rules = { 1, 2, 10 };
    for (int rewrite = 0; rewrite < 2; rewrite++) {
        xf_opts_t opts = { hashes, rewrite };
        xf_user_t u;
        transform_doc(doc, &opts, &u);
        check_user(&u);
        xf_kind_t before = u.kind;
        int rc = transform_apply_rules(&u, &rules);
        if (rc == 0 ? u.kind != before
                    : before != XF_IMPORT || u.kind != XF_INVALID)
            abort();
        if (u.kind == XF_IMPORT &&
            (!u.username || strlen(u.username) < 2 || strlen(u.username) > 10))
            abort();
        check_user(&u);
        xf_user_clear(&u);
    }
}

/* Both reader paths over the same file, in step. */
static void read_both(void)
{
    reader_t *a = reader_new(input_path, MAX_RECORD, NULL);
    reader_t *b = reader_new(input_path, MAX_RECORD, NULL);
    if (!a || !b)
        abort();
    reader_expect(a, SHAPE_EXPORT | SHAPE_DISPLAY);
    reader_expect(b, SHAPE_EXPORT | SHAPE_DISPLAY);
    jdoc_t *doc = jdoc_new();
    for (int n = 0; n < 10000; n++) {
        json_t *rec = NULL;
        int ra = reader_next(a, &rec);
        int rb = reader_next_doc(b, doc);
        if (ra != rb || reader_line(a) != reader_line(b) ||
            (ra < 0 && strcmp(reader_error(a), reader_error(b)) != 0 &&
             ra != READER_BAD))
            abort();
        if (ra == READER_RECORD) {
            json_t *again =
                json_loadb(jdoc_text(doc), jdoc_node(doc, 0)->len, 0, NULL);
            if (!json_equal(rec, again))
                abort();
            json_decref(again);
            transform_all(doc);
        }
        json_decref(rec);
        if (ra == READER_EOF || ra == READER_FATAL)
            break;
    }
    jdoc_destroy(&doc);
    reader_destroy(&a);
    reader_destroy(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(input_path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
    read_both();
    return 0;
}
