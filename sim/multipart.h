#ifndef A0SIM_MULTIPART_H
#define A0SIM_MULTIPART_H

#include <stddef.h>

/* multipart: parses a buffered multipart/form-data body. Parts point into
 * the body, which must outlive the result. */

#define MULTIPART_MAX_PARTS 32

typedef struct {
    char name[64];
    int is_file; /* the part had a filename parameter */
    const char *data;
    size_t len;
} multipart_part_t;

typedef struct {
    multipart_part_t parts[MULTIPART_MAX_PARTS];
    int nparts;
} multipart_t;

/* Parses body according to the boundary in content_type. Returns 0, or -1
 * when the content type is not multipart/form-data with a boundary or the
 * body is malformed (missing delimiters, part headers over 8 KB, more than
 * MULTIPART_MAX_PARTS parts, a part without a name). */
int multipart_parse(const char *content_type, const char *body, size_t len,
                    multipart_t *out);

/* The first part with that name, or NULL. */
const multipart_part_t *multipart_get(const multipart_t *mp, const char *name);

#endif
