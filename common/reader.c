/* reader: owns one open export file, read through zlib's gzFile (which
 * passes plain files through and decodes gzip, concatenated members
 * included), a fixed input buffer and one record buffer that never grows
 * past max_record_bytes. Two framings, chosen from the first non-blank byte:
 * NDJSON (one record per line) or a JSON array, whose elements a small
 * scanner delimits by following strings, escapes and nesting depth so the
 * file is never held whole. Each record is then parsed on its own.
 *
 * Invariants: memory is READER_IN_BYTES + max_record_bytes whatever the
 * file size; a bad record never stops the stream (READER_BAD, then the next
 * call resumes after it); only I/O, decompression or array-structure errors
 * are fatal, and they stay fatal. Error texts name the file and line but
 * never quote record content, which may hold e-mail addresses. */
#include "reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"

#define READER_IN_BYTES (64 * 1024)

/* Where the JSON array scanner stands between bytes. */
typedef enum {
    ARR_FIRST, /* after '[': a value or ']' */
    ARR_VALUE, /* after ',': a value */
    ARR_IN,    /* inside a value */
    ARR_AFTER, /* after a value: ',' or ']' */
    ARR_DONE,  /* after the closing ']': only blanks */
} arr_state_t;

struct reader_t {
    gzFile gz;
    char *path;
    size_t max_record;

    unsigned char *in; /* decompressed input window */
    size_t in_pos;
    size_t in_len;
    int in_eof;
    int started; /* BOM skipped and framing chosen */
    int array;   /* 1: JSON array framing, 0: NDJSON */
    int fatal;

    char *rec; /* bytes of the record being assembled */
    size_t rec_len;
    size_t rec_cap;
    int overlong; /* record passed max_record: its bytes are discarded */

    size_t line;       /* physical line the scanner is on, 1-based */
    size_t rec_line;   /* reader_line(): line or element of last record */
    size_t elem;       /* array elements seen */
    size_t elem_start; /* physical line where the current element began */

    arr_state_t arr;
    int depth;
    int in_str;
    int esc;
    int scalar;

    char *err;
};

static void set_err(reader_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(reader_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    free(r->err);
    r->err = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    va_start(ap, fmt);
    vsnprintf(r->err, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
}

reader_t *reader_new(const char *path, size_t max_record_bytes, char **err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        if (err)
            *err = xasprintf("%s: cannot open: %s", path,
                             errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    gzbuffer(gz, 128 * 1024);
    reader_t *r = xcalloc(1, sizeof *r);
    r->gz = gz;
    r->path = xstrdup(path);
    r->max_record =
        max_record_bytes ? max_record_bytes : READER_MAX_RECORD_DEFAULT;
    r->in = xmalloc(READER_IN_BYTES);
    r->line = 1;
    return r;
}

void reader_destroy(reader_t **p)
{
    if (!p || !*p)
        return;
    reader_t *r = *p;
    if (r->gz)
        gzclose(r->gz);
    free(r->path);
    free(r->in);
    free(r->rec);
    free(r->err);
    free(r);
    *p = NULL;
}

const char *reader_error(const reader_t *self)
{
    return self->err ? self->err : "";
}

size_t reader_line(const reader_t *self)
{
    return self->rec_line;
}

size_t reader_offset(const reader_t *self)
{
    z_off_t off = gzoffset(self->gz);
    return off > 0 ? (size_t)off : 0;
}

/* Refills the input window. Returns 1 with bytes, 0 at the end of the
 * file, -1 (and a fatal error) on an I/O or decompression failure,
 * including a gzip stream cut short, which zlib reports only through
 * gzerror. */
static int fill(reader_t *r)
{
    if (r->in_eof)
        return 0;
    int n = gzread(r->gz, r->in, READER_IN_BYTES);
    int errnum = Z_OK;
    const char *msg = gzerror(r->gz, &errnum);
    if (n < 0 || (n == 0 && errnum == Z_BUF_ERROR)) {
        size_t plen = strlen(r->path);
        if (strncmp(msg, r->path, plen) == 0 &&
            strncmp(msg + plen, ": ", 2) == 0)
            msg += plen + 2; /* zlib prefixes the path we print anyway */
        set_err(r, "%s: read failed: %s", r->path,
                errnum == Z_ERRNO ? strerror(errno) : msg);
        r->fatal = 1;
        return -1;
    }
    r->in_pos = 0;
    r->in_len = (size_t)n;
    if (n == 0)
        r->in_eof = 1;
    return n > 0;
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips a UTF-8 byte order mark and leading blanks, then picks the
 * framing from the first significant byte. Returns 1 when a framing was
 * chosen, 0 on an empty file, -1 on a read error. */
static int start(reader_t *r)
{
    int rc = fill(r);
    if (rc <= 0)
        return rc;
    if (r->in_len >= 3 && memcmp(r->in, "\xEF\xBB\xBF", 3) == 0)
        r->in_pos = 3;
    for (;;) {
        while (r->in_pos < r->in_len && is_blank(r->in[r->in_pos])) {
            if (r->in[r->in_pos] == '\n')
                r->line++;
            r->in_pos++;
        }
        if (r->in_pos < r->in_len)
            break;
        rc = fill(r);
        if (rc <= 0)
            return rc;
    }
    r->started = 1;
    if (r->in[r->in_pos] == '[') {
        r->array = 1;
        r->arr = ARR_FIRST;
        r->in_pos++;
    }
    return 1;
}

/* Appends n bytes to the record, or marks it overlong once it would pass
 * the cap (its bytes are then dropped, keeping memory bounded). */
static void rec_append(reader_t *r, const unsigned char *p, size_t n)
{
    if (r->overlong)
        return;
    if (r->rec_len + n > r->max_record) {
        r->overlong = 1;
        r->rec_len = 0;
        return;
    }
    if (r->rec_len + n + 1 > r->rec_cap) {
        size_t cap = r->rec_cap ? r->rec_cap : 4096;
        while (cap < r->rec_len + n + 1)
            cap *= 2;
        if (cap > r->max_record + 1)
            cap = r->max_record + 1;
        r->rec = xrealloc(r->rec, cap);
        r->rec_cap = cap;
    }
    memcpy(r->rec + r->rec_len, p, n);
    r->rec_len += n;
}

static void rec_reset(reader_t *r)
{
    r->rec_len = 0;
    r->overlong = 0;
}

/* Copies jansson's message without its " near '...'" tail, which quotes
 * record content. */
static void parse_reason(const json_error_t *je, char *out, size_t size)
{
    const char *near = strstr(je->text, " near ");
    size_t n = near ? (size_t)(near - je->text) : strlen(je->text);
    if (n >= size)
        n = size - 1;
    memcpy(out, je->text, n);
    out[n] = '\0';
}

/* Where the current record is, for error messages. */
static void where(const reader_t *r, char *out, size_t size)
{
    if (r->array)
        snprintf(out, size, "%s:%zu: element %zu", r->path, r->elem_start,
                 r->elem);
    else
        snprintf(out, size, "%s:%zu", r->path, r->rec_line);
}

/* Parses the assembled record. Returns READER_RECORD or READER_BAD. */
static int finish_record(reader_t *r, json_t **record)
{
    char at[512];
    where(r, at, sizeof at);
    if (r->overlong) {
        set_err(r, "%s: record longer than %zu bytes", at, r->max_record);
        return READER_BAD;
    }
    json_error_t je;
    json_t *j = json_loadb(r->rec, r->rec_len,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char reason[160];
        parse_reason(&je, reason, sizeof reason);
        set_err(r, "%s: invalid JSON at column %d: %s", at, je.column, reason);
        return READER_BAD;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        set_err(r, "%s: record is not a JSON object", at);
        return READER_BAD;
    }
    *record = j;
    return READER_RECORD;
}

/* True when the assembled line holds only blanks (CR included). */
static int rec_is_blank(const reader_t *r)
{
    for (size_t i = 0; i < r->rec_len; i++)
        if (!is_blank((unsigned char)r->rec[i]))
            return 0;
    return 1;
}

/* Finishes one NDJSON line: blank lines are skipped (returns 0 so the
 * caller reads on), others give READER_RECORD or READER_BAD. */
static int end_line(reader_t *r, json_t **record)
{
    r->rec_line = r->line;
    r->line++;
    int rc = 0;
    if (r->overlong || !rec_is_blank(r))
        rc = finish_record(r, record);
    rec_reset(r);
    return rc;
}

static int next_ndjson(reader_t *r, json_t **record)
{
    for (;;) {
        if (r->in_pos == r->in_len) {
            int rc = fill(r);
            if (rc < 0)
                return READER_FATAL;
            if (rc == 0) {
                if (r->rec_len == 0 && !r->overlong)
                    return READER_EOF;
                return end_line(r, record);
            }
        }
        unsigned char *p = r->in + r->in_pos;
        size_t avail = r->in_len - r->in_pos;
        unsigned char *nl = memchr(p, '\n', avail);
        size_t n = nl ? (size_t)(nl - p) : avail;
        rec_append(r, p, n);
        r->in_pos += n + (nl ? 1 : 0);
        if (nl) {
            int rc = end_line(r, record);
            if (rc != 0)
                return rc;
        }
    }
}

/* The array scanner after a structural error: the stream cannot be
 * resynchronised, so the error is fatal. */
static int array_fatal(reader_t *r, const char *what)
{
    set_err(r, "%s:%zu: malformed JSON array: %s", r->path, r->line, what);
    r->fatal = 1;
    return READER_FATAL;
}

static void begin_value(reader_t *r, unsigned char c)
{
    r->elem++;
    r->elem_start = r->line;
    r->arr = ARR_IN;
    r->depth = (c == '{' || c == '[') ? 1 : 0;
    r->in_str = c == '"';
    r->esc = 0;
    r->scalar = r->depth == 0;
    rec_append(r, &c, 1);
}

/* One byte inside a value. Returns 1 when the value ended with this byte
 * (consumed), 2 when it ended just before it (not consumed), else 0. */
static int scan_in_value(reader_t *r, unsigned char c)
{
    if (r->in_str) {
        if (r->esc)
            r->esc = 0;
        else if (c == '\\')
            r->esc = 1;
        else if (c == '"')
            r->in_str = 0;
        rec_append(r, &c, 1);
        return !r->in_str && r->scalar && r->depth == 0;
    }
    if (r->scalar && (c == ',' || c == ']' || c == '}' || is_blank(c)))
        return 2;
    rec_append(r, &c, 1);
    if (c == '"')
        r->in_str = 1;
    else if (c == '{' || c == '[')
        r->depth++;
    else if ((c == '}' || c == ']') && --r->depth == 0)
        return 1;
    return 0;
}

/* One byte between values. Returns 1 when a value starts, 0 to go on,
 * READER_FATAL on a structural error. */
static int scan_between(reader_t *r, unsigned char c)
{
    if (is_blank(c))
        return 0;
    switch (r->arr) {
    case ARR_FIRST:
        if (c == ']') {
            r->arr = ARR_DONE;
            return 0;
        }
        begin_value(r, c);
        return 1;
    case ARR_VALUE:
        if (c == ']' || c == ',')
            return array_fatal(r, "missing value after ','");
        begin_value(r, c);
        return 1;
    case ARR_AFTER:
        if (c == ',')
            r->arr = ARR_VALUE;
        else if (c == ']')
            r->arr = ARR_DONE;
        else
            return array_fatal(r, "expected ',' or ']' after a value");
        return 0;
    case ARR_DONE:
        return array_fatal(r, "data after the closing ']'");
    case ARR_IN:
        break;
    }
    return 0;
}

/* Feeds one byte to the array scanner. Returns 0 to go on, 1 when a value
 * is complete, READER_FATAL on a structural error. *consumed is 0 when the
 * byte ended a scalar and belongs to what follows it. */
static int array_byte(reader_t *r, unsigned char c, int *consumed)
{
    int rc = 0;
    *consumed = 1;
    if (r->arr != ARR_IN) {
        if (scan_between(r, c) == READER_FATAL)
            return READER_FATAL;
    } else {
        int end = scan_in_value(r, c);
        if (end)
            r->arr = ARR_AFTER;
        *consumed = end != 2;
        rc = end != 0;
    }
    if (*consumed && c == '\n')
        r->line++;
    return rc;
}

static int array_eof(reader_t *r)
{
    if (r->arr == ARR_DONE)
        return READER_EOF;
    return array_fatal(r, "unexpected end of file before the closing ']'");
}

static int next_array(reader_t *r, json_t **record)
{
    for (;;) {
        if (r->in_pos == r->in_len) {
            int rc = fill(r);
            if (rc < 0)
                return READER_FATAL;
            if (rc == 0)
                return array_eof(r);
        }
        int consumed;
        int rc = array_byte(r, r->in[r->in_pos], &consumed);
        r->in_pos += (size_t)consumed;
        if (rc == READER_FATAL)
            return rc;
        if (rc == 1) {
            r->rec_line = r->elem;
            rc = finish_record(r, record);
            rec_reset(r);
            return rc;
        }
    }
}

int reader_next(reader_t *self, json_t **record)
{
    *record = NULL;
    if (self->fatal)
        return READER_FATAL;
    if (!self->started) {
        int rc = start(self);
        if (rc < 0)
            return READER_FATAL;
        if (rc == 0)
            return READER_EOF;
    }
    return self->array ? next_array(self, record) : next_ndjson(self, record);
}
