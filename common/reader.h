#ifndef A0_READER_H
#define A0_READER_H

#include <jansson.h>
#include <stddef.h>

/* reader: streams user records out of an export file. Accepts NDJSON, a JSON
 * array of objects, either of them gzip-compressed (detected from the magic
 * bytes, concatenated members included). Memory stays bounded by
 * max_record_bytes whatever the file size.
 *
 * The framing is chosen from the first byte after an optional UTF-8 BOM and
 * blanks: '[' means a JSON array, anything else NDJSON (CRLF and blank lines
 * tolerated, the last line may lack its newline). Each record is parsed on
 * its own; duplicate keys make it bad. A truncated gzip stream, an array
 * whose structure breaks between elements, or an array left unclosed is
 * fatal. Error texts are "<file>:<line>: <reason>" (arrays add
 * "element <n>: ") and never quote record content. */

typedef struct reader_t reader_t;

#define READER_MAX_RECORD_DEFAULT (1024 * 1024)

/* Opens path. Returns NULL on failure with *err set to a new string naming
 * the file and the reason (caller frees). */
reader_t *reader_new(const char *path, size_t max_record_bytes, char **err);

/* Result of reader_next. */
#define READER_RECORD 1 /* *record holds a new reference, caller decrefs */
#define READER_EOF    0
#define READER_BAD    -1 /* this record is unusable; reader_error() says why,
                            naming file and line; the next call goes on */
#define READER_FATAL  -2 /* I/O or decompression error; stop */

int reader_next(reader_t *self, json_t **record);

/* Message for the last READER_BAD / READER_FATAL; owned by the reader. */
const char *reader_error(const reader_t *self);

/* 1-based line (NDJSON) or element index (JSON array) of the last record. */
size_t reader_line(const reader_t *self);

/* Compressed bytes consumed so far, for progress. */
size_t reader_offset(const reader_t *self);

void reader_destroy(reader_t **p);

#endif
