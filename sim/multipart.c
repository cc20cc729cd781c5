/* multipart: a bounded multipart/form-data parser (RFC 7578) over a body
 * already in memory. It accepts parts in any order, CRLF line ends, quoted
 * or bare boundary and name parameters, and ignores a preamble and an
 * epilogue. */
#include "multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY     70
#define MAX_PART_HEADERS 8192

static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || n < m)
        return NULL;
    const char *end = hay + n - m;
    for (const char *p = hay; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
    }
    return NULL;
}

/* Copies the value of parameter key (quoted or bare) from a header value
 * such as `form-data; name="users"; filename="u.json"`. */
static int param(const char *hv, size_t hlen, const char *key, char *out,
                 size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = hv, *end = hv + hlen;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            return -1;
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(end - p) <= klen || strncasecmp(p, key, klen) != 0 ||
            p[klen] != '=')
            continue;
        p += klen + 1;
        const char *v = p, *vend;
        if (p < end && *p == '"') {
            v = p + 1;
            vend = memchr(v, '"', (size_t)(end - v));
            if (!vend)
                return -1;
        } else {
            vend = v;
            while (vend < end && *vend != ';' && *vend != ' ')
                vend++;
        }
        if ((size_t)(vend - v) >= outlen)
            return -1;
        memcpy(out, v, (size_t)(vend - v));
        out[vend - v] = '\0';
        return 0;
    }
    return -1;
}

static int boundary_of(const char *ct, char *out, size_t outlen)
{
    const char *type = "multipart/form-data";
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, type, strlen(type)) != 0)
        return -1;
    if (param(ct, strlen(ct), "boundary", out, outlen) < 0 || !out[0])
        return -1;
    return 0;
}

/* Parses the headers of one part (up to the blank line). */
static int part_headers(const char *h, size_t n, multipart_part_t *part)
{
    const char *p = h, *end = h + n;
    int have_name = 0;
    while (p < end) {
        const char *eol = find(p, (size_t)(end - p), "\r\n", 2);
        size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        const char *cd = "content-disposition:";
        if (len > strlen(cd) && strncasecmp(p, cd, strlen(cd)) == 0) {
            char dummy[256];
            if (param(p, len, "name", part->name, sizeof part->name) < 0)
                return -1;
            have_name = 1;
            part->is_file = param(p, len, "filename", dummy, sizeof dummy) == 0;
        }
        p += len + 2;
    }
    return have_name ? 0 : -1;
}

int multipart_parse(const char *content_type, const char *body, size_t len,
                    multipart_t *out)
{
    char boundary[MAX_BOUNDARY + 1], delim[MAX_BOUNDARY + 5];
    memset(out, 0, sizeof *out);
    if (!content_type ||
        boundary_of(content_type, boundary, sizeof boundary) < 0)
        return -1;
    int dlen = snprintf(delim, sizeof delim, "\r\n--%s", boundary);

    /* The first delimiter may open the body without a preceding CRLF. */
    const char *p;
    if (len >= (size_t)dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
        p = body + dlen - 2;
    else if ((p = find(body, len, delim, (size_t)dlen)))
        p += dlen;
    else
        return -1;

    const char *end = body + len;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return out->nparts > 0 ? 0 : -1;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return -1;
        p += 2;
        size_t room = (size_t)(end - p);
        const char *hend =
            find(p, room < MAX_PART_HEADERS ? room : MAX_PART_HEADERS,
                 "\r\n\r\n", 4);
        if (!hend || out->nparts == MULTIPART_MAX_PARTS)
            return -1;
        multipart_part_t *part = &out->parts[out->nparts];
        if (part_headers(p, (size_t)(hend - p) + 2, part) < 0)
            return -1;
        const char *data = hend + 4;
        const char *next =
            find(data, (size_t)(end - data), delim, (size_t)dlen);
        if (!next)
            return -1;
        part->data = data;
        part->len = (size_t)(next - data);
        out->nparts++;
        p = next + dlen;
    }
}

const multipart_part_t *multipart_get(const multipart_t *mp, const char *name)
{
    for (int i = 0; i < mp->nparts; i++)
        if (strcmp(mp->parts[i].name, name) == 0)
            return &mp->parts[i];
    return NULL;
}
