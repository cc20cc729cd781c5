#ifndef A0_CSV_H
#define A0_CSV_H

#include <jansson.h>
#include <stddef.h>

/* csv: turns the CSV form of an Auth0 user export into JSON records of
 * the export shape.
 *
 * The first row names the fields: export field paths as given to the
 * export job ("user_id", "identities[0].connection",
 * "user_metadata.plan") or the extension's display names ("Email",
 * "Connection", see shape.h). Fields are separated by commas (by tabs when
 * the header holds tabs and no commas), quoted with '"' where needed, a
 * quote inside a quoted field doubled, and a quoted field may span lines.
 *
 * Values: Auth0 escapes every string against CSV injection (OWASP) by
 * prefixing it with a single quote and quoting it; that one leading quote
 * is removed. An unquoted empty field is an absent field; an unquoted true
 * or false is a boolean and an unquoted integer an integer; anything else
 * is a string. */

#define CSV_MAX_COLUMNS 256

typedef struct csv_t csv_t;

/* Reads the header row (len bytes, no line end). NULL on failure with why
 * set to a sentence that names the column (1-based) and its name. */
csv_t *csv_new(const char *header, size_t len, char *why, size_t size);

/* The kind of export the header names (a SHAPE_* value). */
unsigned csv_kind(const csv_t *self);

/* One data row (len bytes, line end removed; quoted fields may contain
 * line breaks). Returns a new object (caller decrefs), or NULL with why
 * (no values quoted). */
json_t *csv_row(const csv_t *self, const char *row, size_t len, char *why,
                size_t size);

/* Where a row ends: scans data[0..n) for the line feed that ends a row
 * outside quoted fields, carrying *state (0 before the first call and
 * after each row) across calls. A quote opens a quoted field only at the
 * start of a field, so a stray quote cannot swallow the rows after it.
 * delim is the field separator, or 0 for either comma or tab (the header,
 * before the separator is known). Returns the offset of the line feed, or
 * n when the row goes on past the data. */
size_t csv_row_end(const char *data, size_t n, char delim, int *state);

/* The field separator the header chose. */
char csv_delim(const csv_t *self);

void csv_destroy(csv_t **p);

#endif
