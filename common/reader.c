/* reader: owns one open export file, read through zlib's gzFile (which
 * passes plain files through and decodes gzip, concatenated members
 * included), a fixed input buffer, one record buffer that never grows past
 * max_record_bytes, and, for CSV files and rewritten records, a second
 * buffer holding the record as JSON text. Three framings, chosen from the
 * first non-blank byte: NDJSON (one record per line), a JSON array, whose
 * elements a small scanner delimits by following strings, escapes and
 * nesting depth so the file is never held whole, or CSV rows (csv.h).
 * Each record is then parsed on its own, by jansson (reader_next) or by
 * jdoc (reader_next_doc), and its kind checked (shape.h).
 *
 * Invariants: memory is READER_IN_BYTES + about three times
 * max_record_bytes whatever the file size; a bad record never stops the
 * stream (READER_BAD, then the next call resumes after it); only I/O,
 * decompression, structure and file-kind errors are fatal, and they stay
 * fatal. Error texts name the file and line but never quote record
 * content, which may hold e-mail addresses. */
#include "reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "csv.h"
#include "shape.h"
#include "util.h"

#define READER_IN_BYTES (256 * 1024)

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
    int array;   /* 1: JSON array framing */
    int fatal;
    csv_t *csv;    /* CSV framing: the header's columns */
    int csv_quote; /* CSV framing: csv_row_end's state */
    int csv_header;

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

    unsigned expect;  /* accepted kinds, 0 for no checks */
    unsigned kind;    /* kind recognised so far */
    size_t kind_line; /* where it was recognised */
    size_t unknown;   /* records of no known kind before that */
    buf_t json;       /* a CSV row or rewritten record as JSON text */

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
    csv_destroy(&r->csv);
    buf_free(&r->json);
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
    } else if (r->in[r->in_pos] != '{') {
        r->csv_header = 1;
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

/* True when the assembled line holds only blanks (CR included). */
static int rec_is_blank(const reader_t *r)
{
    for (size_t i = 0; i < r->rec_len; i++)
        if (!is_blank((unsigned char)r->rec[i]))
            return 0;
    return 1;
}

/* Finishes one line: blank lines are skipped (returns 0 so the caller
 * reads on), others leave their text in rec (returns 1). */
static int end_line(reader_t *r)
{
    r->rec_line = r->line;
    r->line++;
    if (r->overlong || !rec_is_blank(r))
        return 1;
    rec_reset(r);
    return 0;
}

/* Next NDJSON line into rec: 1, READER_EOF or READER_FATAL. */
static int next_line(reader_t *r)
{
    rec_reset(r);
    for (;;) {
        if (r->in_pos == r->in_len) {
            int rc = fill(r);
            if (rc < 0)
                return READER_FATAL;
            if (rc == 0) {
                if (r->rec_len == 0 && !r->overlong)
                    return READER_EOF;
                if (end_line(r))
                    return 1;
                continue;
            }
        }
        unsigned char *p = r->in + r->in_pos;
        size_t avail = r->in_len - r->in_pos;
        unsigned char *nl = memchr(p, '\n', avail);
        size_t n = nl ? (size_t)(nl - p) : avail;
        rec_append(r, p, n);
        r->in_pos += n + (nl ? 1 : 0);
        if (nl && end_line(r))
            return 1;
    }
}

/* Next CSV row into rec, following quotes across line breaks: 1,
 * READER_EOF or READER_FATAL. Lines inside quoted fields are counted. */
static int next_row(reader_t *r)
{
    rec_reset(r);
    size_t start_line = r->line;
    for (;;) {
        if (r->in_pos == r->in_len) {
            int rc = fill(r);
            if (rc < 0)
                return READER_FATAL;
            if (rc == 0) {
                if (r->rec_len == 0 && !r->overlong)
                    return READER_EOF;
                r->rec_line = start_line;
                r->line++;
                if (r->overlong || !rec_is_blank(r))
                    return 1;
                return READER_EOF;
            }
        }
        unsigned char *p = r->in + r->in_pos;
        size_t avail = r->in_len - r->in_pos;
        size_t n = csv_row_end((const char *)p, avail,
                               r->csv ? csv_delim(r->csv) : 0, &r->csv_quote);
        for (size_t i = 0; i < n; i++)
            r->line += p[i] == '\n';
        rec_append(r, p, n);
        r->in_pos += n + (n < avail);
        if (n == avail)
            continue;
        r->rec_line = start_line;
        r->line++;
        if (r->overlong || !rec_is_blank(r))
            return 1;
        rec_reset(r);
        start_line = r->line;
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

/* Next array element into rec: 1, READER_EOF or READER_FATAL. */
static int next_element(reader_t *r)
{
    rec_reset(r);
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
            return 1;
        }
    }
}

/* ---- file kinds ---- */

static int fatal(reader_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fatal(reader_t *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_err(r, "%s", msg);
    r->fatal = 1;
    return READER_FATAL;
}

/* A record of no known kind. */
static int judge_unknown(reader_t *r, const char *at)
{
    char want[256];
    shape_expected(r->expect, want, sizeof want);
    if (r->kind)
        return READER_RECORD;
    if (++r->unknown >= READER_SNIFF_RECORDS)
        return fatal(r,
                     "%s: none of the first %d records has a known shape: "
                     "expected %s",
                     at, READER_SNIFF_RECORDS, want);
    set_err(r, "%s: record shape not recognised: expected %s", at, want);
    return READER_BAD;
}

/* Checks a record's kind against what is expected and what came before.
 * Returns READER_RECORD, READER_BAD or READER_FATAL. */
static int judge(reader_t *r, unsigned kind)
{
    char at[512], want[256];
    if (!r->expect)
        return READER_RECORD;
    where(r, at, sizeof at);
    if (!kind)
        return judge_unknown(r, at);
    if (!(kind & r->expect))
        return fatal(r, "%s: this is a %s; expected %s", at, shape_name(kind),
                     shape_expected(r->expect, want, sizeof want));
    if (!r->kind) {
        r->kind = kind;
        r->kind_line = r->rec_line;
        return READER_RECORD;
    }
    if (kind == r->kind || (r->kind == SHAPE_DISPLAY && kind == SHAPE_EXPORT))
        return READER_RECORD;
    return fatal(r,
                 "%s: record is a %s but the file began as a %s (record at "
                 "%zu): mixed files are refused",
                 at, shape_name(kind), shape_name(r->kind), r->kind_line);
}

/* Reads the CSV header (the first row) and judges the file by it. */
static int read_header(reader_t *r)
{
    r->csv_header = 0;
    int rc = next_row(r);
    if (rc == READER_EOF || rc == READER_FATAL)
        return rc;
    char at[512], why[256];
    where(r, at, sizeof at);
    if (r->overlong)
        return fatal(r, "%s: CSV header longer than %zu bytes", at,
                     r->max_record);
    size_t n = r->rec_len;
    if (n && r->rec[n - 1] == '\r')
        n--;
    r->csv = csv_new(r->rec, n, why, sizeof why);
    if (!r->csv)
        return fatal(r, "%s: %s", at, why);
    unsigned kind = csv_kind(r->csv);
    if (r->expect && !kind)
        return fatal(r, "%s: CSV header names no user field: expected %s", at,
                     shape_expected(r->expect, why, sizeof why));
    rc = judge(r, kind);
    return rc == READER_RECORD ? 1 : rc;
}

/* The next record's text into rec: READER_RECORD, READER_BAD (too long),
 * READER_EOF or READER_FATAL. */
static int fetch(reader_t *r)
{
    if (r->fatal)
        return READER_FATAL;
    if (!r->started) {
        int rc = start(r);
        if (rc < 0)
            return READER_FATAL;
        if (rc == 0)
            return READER_EOF;
    }
    if (r->csv_header) {
        int rc = read_header(r);
        if (rc != 1)
            return rc;
    }
    int rc = r->array ? next_element(r) : r->csv ? next_row(r) : next_line(r);
    if (rc != 1)
        return rc;
    char at[512];
    if (r->overlong) {
        where(r, at, sizeof at);
        set_err(r, "%s: record longer than %zu bytes", at, r->max_record);
        return READER_BAD;
    }
    /* jansson skips NUL bytes where JSON forbids them; refusing them here
     * keeps both parse paths alike. */
    if (r->rec_len && memchr(r->rec, '\0', r->rec_len)) {
        where(r, at, sizeof at);
        set_err(r, "%s: record holds a NUL byte", at);
        return READER_BAD;
    }
    return READER_RECORD;
}

/* ---- parsing ---- */

/* rec as a jansson object: READER_RECORD or READER_BAD. */
static int load_json(reader_t *r, json_t **out)
{
    char at[512];
    where(r, at, sizeof at);
    if (r->csv) {
        char why[256];
        *out = csv_row(r->csv, r->rec, r->rec_len, why, sizeof why);
        if (!*out)
            set_err(r, "%s: %s", at, why);
        return *out ? READER_RECORD : READER_BAD;
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
    *out = j;
    return READER_RECORD;
}

/* Judges a jansson record and rewrites it when it needs it. */
static int settle_json(reader_t *r, json_t *j)
{
    int rewrite = 0;
    unsigned kind = r->csv ? csv_kind(r->csv) : shape_of_json(j, &rewrite);
    int rc = r->csv ? READER_RECORD : judge(r, kind);
    if (rc != READER_RECORD || !rewrite || !r->expect)
        return rc;
    char why[128], at[512];
    if (shape_normalise(j, why, sizeof why) == 0)
        return READER_RECORD;
    where(r, at, sizeof at);
    set_err(r, "%s: %s", at, why);
    return READER_BAD;
}

int reader_next(reader_t *self, json_t **record)
{
    *record = NULL;
    int rc = fetch(self);
    if (rc != READER_RECORD)
        return rc;
    json_t *j = NULL;
    rc = load_json(self, &j);
    if (rc == READER_RECORD)
        rc = settle_json(self, j);
    if (rc == READER_RECORD)
        *record = j;
    else
        json_decref(j);
    return rc;
}

/* Parses text into doc: READER_RECORD or READER_BAD. */
static int parse_doc(reader_t *r, jdoc_t *doc, const char *text, size_t len)
{
    char at[512];
    if (jdoc_parse(doc, text, len) < 0) {
        where(r, at, sizeof at);
        set_err(r, "%s: %s", at, jdoc_error(doc));
        return READER_BAD;
    }
    if (jdoc_type(doc, 0) != JD_OBJECT) {
        where(r, at, sizeof at);
        set_err(r, "%s: record is not a JSON object", at);
        return READER_BAD;
    }
    return READER_RECORD;
}

/* The slow path for CSV rows and rewritten records: through jansson,
 * then serialised into the json buffer and indexed from there. */
static int doc_via_json(reader_t *r, jdoc_t *doc)
{
    json_t *j = NULL;
    int rc = load_json(r, &j);
    if (rc == READER_RECORD)
        rc = settle_json(r, j);
    if (rc == READER_RECORD) {
        char *text = json_dumps(j, JSON_COMPACT);
        buf_reset(&r->json);
        buf_puts(&r->json, text);
        free(text);
        rc = parse_doc(r, doc, r->json.data, r->json.len);
    }
    json_decref(j);
    return rc;
}

int reader_next_doc(reader_t *self, jdoc_t *doc)
{
    int rc = fetch(self);
    if (rc != READER_RECORD)
        return rc;
    if (self->csv)
        return doc_via_json(self, doc);
    rc = parse_doc(self, doc, self->rec, self->rec_len);
    if (rc != READER_RECORD)
        return rc;
    int rewrite = 0;
    rc = judge(self, shape_of_doc(doc, &rewrite));
    if (rc != READER_RECORD || !rewrite || !self->expect)
        return rc;
    return doc_via_json(self, doc);
}

void reader_expect(reader_t *self, unsigned kinds)
{
    self->expect = kinds;
}

unsigned reader_kind(const reader_t *self)
{
    return self->kind;
}
