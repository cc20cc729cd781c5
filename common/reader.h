#ifndef A0_READER_H
#define A0_READER_H

#include <jansson.h>
#include <stddef.h>

#include "jdoc.h"

/* reader: streams user records out of an export file. Accepts NDJSON, a JSON
 * array of objects and the CSV export (csv.h), any of them gzip-compressed
 * (detected from the magic bytes, concatenated members included). Memory
 * stays bounded by max_record_bytes whatever the file size.
 *
 * The framing is chosen from the first byte after an optional UTF-8 BOM and
 * blanks: '[' means a JSON array, '{' NDJSON (CRLF and blank lines
 * tolerated, the last line may lack its newline), anything else a CSV
 * export whose first row is its header. Each record is parsed on its own;
 * duplicate keys make it bad. A truncated gzip stream, an array whose
 * structure breaks between elements, an array left unclosed, or a CSV
 * header that cannot be read is fatal. Error texts are
 * "<file>:<line>: <reason>" (arrays add "element <n>: ") and never quote
 * record content.
 *
 * With reader_expect the reader also checks what kind of file it reads
 * (shape.h): the first record of a known kind decides; a record of another
 * accepted kind later on, or a kind the caller does not accept, is fatal
 * (a mixed file is refused, not half read); records of no known kind are
 * bad until the kind is known, fatal when none of the first
 * READER_SNIFF_RECORDS is known, and passed on afterwards (the transform
 * classifies them). Records with display names or flattened field paths
 * are rewritten into the export shape. */

typedef struct reader_t reader_t;

#define READER_MAX_RECORD_DEFAULT (1024 * 1024)
#define READER_SNIFF_RECORDS      16

/* Opens path. Returns NULL on failure with *err set to a new string naming
 * the file and the reason (caller frees). */
reader_t *reader_new(const char *path, size_t max_record_bytes, char **err);

/* Result of reader_next. */
#define READER_RECORD 1 /* *record holds a new reference, caller decrefs */
#define READER_EOF    0
#define READER_BAD                                          \
    -1 /* this record is unusable; reader_error() says why, \
          naming file and line; the next call goes on */
#define READER_FATAL                                  \
    -2 /* I/O, decompression, structure or file kind: \
          stop */

int reader_next(reader_t *self, json_t **record);

/* Like reader_next, but indexes the record into doc instead of building
 * it, which is several times faster. The document refers to the reader's
 * buffers and is valid until the next call on the reader. */
int reader_next_doc(reader_t *self, jdoc_t *doc);

/* The kinds of file (SHAPE_* of shape.h, or-ed) the caller accepts; 0, the
 * default, checks nothing. Call before the first record. */
void reader_expect(reader_t *self, unsigned kinds);

/* The kind the file was recognised as (a SHAPE_* value), 0 while unknown
 * or when nothing is expected. */
unsigned reader_kind(const reader_t *self);

/* Message for the last READER_BAD / READER_FATAL; owned by the reader. */
const char *reader_error(const reader_t *self);

/* 1-based line (NDJSON, CSV: where the row starts) or element index (JSON
 * array) of the last record. */
size_t reader_line(const reader_t *self);

/* Compressed bytes consumed so far, for progress. */
size_t reader_offset(const reader_t *self);

void reader_destroy(reader_t **p);

#endif
