#ifndef A0SIM_EXPORT_H
#define A0SIM_EXPORT_H

#include "store.h"
#include "util.h"

#include <jansson.h>
#include <stdint.h>

/* export: the content of users-exports files and their signed download
 * links. */

/* Fields exported when a job names none. */
extern const char *const export_default_fields[];

/* Writes the users of conn (all users when NULL), at most limit of them
 * (0 = all), as NDJSON (format "json") or CSV with a header row, holding
 * the fields of the array fields ({name, export_as}; the default set when
 * NULL). The caller holds the tenant mutex. */
void export_write(const store_t *store, const store_conn_t *conn,
                  const char *format, int64_t limit, const json_t *fields,
                  buf_t *out);

/* Gzips data into a new buffer (the caller frees *out). Returns 0 or -1. */
int export_gzip(const char *data, size_t len, unsigned char **out,
                size_t *out_len);

/* Signature of a download link for (file, expires) under key, as 16 hex
 * characters into sig[17]. */
void export_sign(uint64_t key, const char *file, int64_t expires, char sig[17]);

#endif
