/* csv: owns the column table of one CSV export (each column's parsed field
 * path) and the rules that type and unescape its values. A row is split
 * into fields in one pass over its bytes; quoted fields are unescaped into
 * a buffer of the row's size, so memory per row is bounded by the row. */
#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shape.h"
#include "util.h"

struct csv_t {
    char delim;
    size_t ncols;
    shape_path_t *paths;
    unsigned kind;
};

/* One field of a row, pointing into the row or the unescape buffer. */
typedef struct {
    const char *p;
    size_t n;
    int quoted;
} field_t;

/* Row framing states. */
enum {
    ROW_FIELD_START,
    ROW_UNQUOTED,
    ROW_QUOTED,
    ROW_QUOTE_SEEN
};

static int is_delim(char c, char delim)
{
    return delim ? c == delim : c == ',' || c == '\t';
}

size_t csv_row_end(const char *data, size_t n, char delim, int *state)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        switch (*state) {
        case ROW_QUOTED:
            if (c == '"')
                *state = ROW_QUOTE_SEEN;
            continue;
        case ROW_QUOTE_SEEN:
            if (c == '"') {
                *state = ROW_QUOTED; /* a doubled quote */
                continue;
            }
            break;
        case ROW_FIELD_START:
            if (c == '"') {
                *state = ROW_QUOTED;
                continue;
            }
            break;
        default:
            break;
        }
        if (c == '\n') {
            *state = ROW_FIELD_START;
            return i;
        }
        *state = is_delim(c, delim) ? ROW_FIELD_START : ROW_UNQUOTED;
    }
    return n;
}

char csv_delim(const csv_t *self)
{
    return self->delim;
}

/* Splits row into fields. Returns the count, or -1 with why. out holds
 * CSV_MAX_COLUMNS fields; buf has len bytes for unescaped text. */
static int split(const char *row, size_t len, char delim, field_t *out,
                 char *buf, const char **why)
{
    size_t i = 0, nf = 0, used = 0;
    for (;;) {
        if (nf == CSV_MAX_COLUMNS) {
            *why = "more than 256 fields";
            return -1;
        }
        field_t *f = &out[nf++];
        f->quoted = i < len && row[i] == '"';
        if (!f->quoted) {
            size_t start = i;
            while (i < len && row[i] != delim) {
                if (row[i] == '"') {
                    *why = "quote inside an unquoted field";
                    return -1;
                }
                i++;
            }
            f->p = row + start;
            f->n = i - start;
        } else {
            f->p = buf + used;
            f->n = 0;
            for (i++;; i++) {
                if (i >= len) {
                    *why = "quoted field not closed";
                    return -1;
                }
                if (row[i] == '"') {
                    if (i + 1 < len && row[i + 1] == '"') {
                        buf[used + f->n++] = '"';
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                buf[used + f->n++] = row[i];
            }
            used += f->n;
            if (i < len && row[i] != delim) {
                *why = "text after a closing quote";
                return -1;
            }
        }
        if (i >= len)
            return (int)nf;
        i++; /* the delimiter */
    }
}

/* The header row decides the delimiter: tabs only when there is no
 * comma outside quotes. */
static char pick_delim(const char *s, size_t n)
{
    int q = 0, commas = 0, tabs = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            q = !q;
        else if (!q && s[i] == ',')
            commas++;
        else if (!q && s[i] == '\t')
            tabs++;
    }
    return tabs && !commas ? '\t' : ',';
}

/* A column name as shown in messages: printable, bounded. */
static void shown(const field_t *f, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n && k + 1 < size && k < 60; i++) {
        unsigned char c = (unsigned char)f->p[i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
}

/* Strips one OWASP quote from a header name too: harmless when absent. */
static char *column_name(const field_t *f)
{
    size_t skip = f->n > 1 && f->p[0] == '\'' ? 1 : 0;
    return xstrndup(f->p + skip, f->n - skip);
}

static int prefix_of(const shape_path_t *a, const shape_path_t *b)
{
    if (a->n > b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (!a->seg[i].key != !b->seg[i].key)
            return 0;
        if (a->seg[i].key ? strcmp(a->seg[i].key, b->seg[i].key) != 0
                          : a->seg[i].index != b->seg[i].index)
            return 0;
    }
    return 1;
}

/* Column c must not name the same place as, or a place inside, another. */
static int clashes(const csv_t *self, size_t c)
{
    for (size_t i = 0; i < c; i++)
        if (prefix_of(&self->paths[i], &self->paths[c]) ||
            prefix_of(&self->paths[c], &self->paths[i]))
            return 1;
    return 0;
}

static void note_kind(csv_t *self, const char *name, int display)
{
    if (display)
        self->kind |= SHAPE_DISPLAY;
    else if (strcmp(name, "user_id") == 0 || strcmp(name, "email") == 0 ||
             strncmp(name, "identities", 10) == 0)
        self->kind |= SHAPE_EXPORT;
    else if (strcmp(name, "passwordHash") == 0 || strncmp(name, "_id", 3) == 0)
        self->kind |= SHAPE_HASHES;
}

/* A root name that can only be a display name: it has a blank or starts
 * with a capital. Export field names are lower-case, and display names
 * other than the documented ones are refused rather than guessed at. */
static int display_like(const char *name)
{
    size_t root = strcspn(name, ".[");
    return (name[0] >= 'A' && name[0] <= 'Z') ||
           memchr(name, ' ', root) != NULL;
}

/* Maps column c; returns 0 or -1 with the reason in why. */
static int add_column(csv_t *self, size_t c, const field_t *f, char *why,
                      size_t size)
{
    char *name = column_name(f);
    const char *path = shape_display_path(name);
    const char *problem = NULL;
    if ((!path && display_like(name)) ||
        shape_path_parse(path ? path : name, &self->paths[c]) < 0) {
        problem = "is neither an export field name nor a documented "
                  "display name";
    } else {
        self->ncols = c + 1;
        if (clashes(self, c))
            problem = "names a field another column already names";
        else
            note_kind(self, path ? path : name, path != NULL);
    }
    if (problem) {
        char name_shown[64];
        shown(f, name_shown, sizeof name_shown);
        snprintf(why, size, "CSV header: column %zu (\"%s\") %s", c + 1,
                 name_shown, problem);
    }
    free(name);
    return problem ? -1 : 0;
}

csv_t *csv_new(const char *header, size_t len, char *why, size_t size)
{
    why[0] = '\0';
    csv_t *self = xcalloc(1, sizeof *self);
    self->delim = pick_delim(header, len);
    self->paths = xcalloc(CSV_MAX_COLUMNS, sizeof *self->paths);
    field_t *f = xmalloc(CSV_MAX_COLUMNS * sizeof *f);
    char *buf = xmalloc(len + 1);
    const char *reason = NULL;
    int n = split(header, len, self->delim, f, buf, &reason);
    if (n < 0)
        snprintf(why, size, "CSV header: %s", reason);
    for (int c = 0; c < n; c++)
        if (add_column(self, (size_t)c, &f[c], why, size) < 0)
            break;
    free(f);
    free(buf);
    if (why[0]) {
        csv_destroy(&self);
        return NULL;
    }
    return self;
}

unsigned csv_kind(const csv_t *self)
{
    if (self->kind & SHAPE_DISPLAY)
        return SHAPE_DISPLAY;
    if (self->kind & SHAPE_EXPORT)
        return SHAPE_EXPORT;
    return self->kind & SHAPE_HASHES ? SHAPE_HASHES : 0;
}

void csv_destroy(csv_t **p)
{
    if (!p || !*p)
        return;
    csv_t *self = *p;
    for (size_t i = 0; i < self->ncols; i++)
        shape_path_clear(&self->paths[i]);
    free(self->paths);
    free(self);
    *p = NULL;
}

/* An unquoted JSON integer that fits in 64 bits. */
static int is_integer(const char *s, size_t n)
{
    size_t i = n && s[0] == '-';
    if (i == n || n - i > 18 || (s[i] == '0' && n - i > 1))
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* The JSON value of one field, or NULL when the field is absent. */
static json_t *value_of(const field_t *f)
{
    const char *s = f->p;
    size_t n = f->n;
    if (!f->quoted) {
        if (n == 0)
            return NULL;
        if (n == 4 && memcmp(s, "true", 4) == 0)
            return json_true();
        if (n == 5 && memcmp(s, "false", 5) == 0)
            return json_false();
        if (is_integer(s, n)) {
            char num[24];
            memcpy(num, s, n);
            num[n] = '\0';
            return json_integer(strtoll(num, NULL, 10));
        }
    }
    if (n > 0 && s[0] == '\'') {
        s++;
        n--;
    }
    return json_stringn(s, n);
}

/* Fills rec from the fields; json_stringn refuses invalid UTF-8. */
static int fill(const csv_t *self, json_t *rec, const field_t *f,
                const char **why)
{
    for (size_t c = 0; c < self->ncols; c++) {
        /* JSON text cannot carry U+0000 in a record (jansson and jdoc
         * refuse "\u0000"), so neither can a field. */
        if (memchr(f[c].p, '\0', f[c].n)) {
            *why = "a field holds a NUL byte";
            return -1;
        }
        json_t *v = value_of(&f[c]);
        if (!v && (f[c].n > 0 || f[c].quoted)) {
            *why = "a field is not valid UTF-8";
            return -1;
        }
        if (v && shape_set_path(rec, &self->paths[c], v, why) < 0)
            return -1;
    }
    return 0;
}

json_t *csv_row(const csv_t *self, const char *row, size_t len, char *why,
                size_t size)
{
    if (len && row[len - 1] == '\r')
        len--;
    field_t *f = xmalloc(CSV_MAX_COLUMNS * sizeof *f);
    char *buf = xmalloc(len + 1);
    const char *reason = NULL;
    json_t *rec = NULL;
    int n = split(row, len, self->delim, f, buf, &reason);
    if (n >= 0 && (size_t)n != self->ncols) {
        snprintf(why, size, "row has %d fields, the header has %zu", n,
                 self->ncols);
    } else if (n < 0) {
        snprintf(why, size, "%s", reason);
    } else {
        rec = json_object();
        if (fill(self, rec, f, &reason) < 0) {
            snprintf(why, size, "%s", reason);
            json_decref(rec);
            rec = NULL;
        } else {
            shape_fill_provider(rec);
        }
    }
    free(f);
    free(buf);
    return rec;
}
