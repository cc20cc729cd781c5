/* export: renders the users of an export job. JSON exports are NDJSON, one
 * user per line holding exactly the requested fields, keyed by export_as
 * or name; a dotted or indexed name (identities[0].connection) is resolved
 * and kept as a literal key. CSV escapes every string as Auth0 documents:
 * doubled inner quotes, a leading apostrophe, wrapped in quotes; ISO dates
 * are left bare. Download links carry an expiry and a signature so that a
 * client cannot extend a link by editing it. */
#include "export.h"

#include "hmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PATH_MAX_DEPTH 8

const char *const export_default_fields[] = {
    "user_id",    "email",        "email_verified",
    "username",   "phone_number", "phone_verified",
    "given_name", "family_name",  "name",
    "nickname",   "picture",      "blocked",
    "identities", "app_metadata", "user_metadata",
    "created_at", "updated_at",   "last_login",
    "last_ip",    "logins_count", "multifactor",
    NULL,
};

/* Resolves one segment such as "identities[0]" against v. */
static const json_t *step(const json_t *v, const char *seg)
{
    size_t n = strcspn(seg, "[");
    char key[128];
    if (n >= sizeof key)
        return NULL;
    memcpy(key, seg, n);
    key[n] = '\0';
    if (n)
        v = json_object_get(v, key);
    seg += n;
    while (v && *seg == '[') {
        char *end;
        unsigned long i = strtoul(seg + 1, &end, 10);
        if (*end != ']')
            return NULL;
        v = json_array_get(v, i);
        seg = end + 1;
    }
    return *seg ? NULL : v;
}

static const json_t *resolve(const json_t *user, const char *name)
{
    const json_t *v = json_object_get(user, name);
    if (v || !strpbrk(name, ".["))
        return v;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", name);
    v = user;
    char *save = NULL;
    int depth = 0;
    for (char *seg = strtok_r(copy, ".", &save); seg && v;
         seg = strtok_r(NULL, ".", &save)) {
        if (++depth > PATH_MAX_DEPTH)
            return NULL;
        v = step(v, seg);
    }
    return v;
}

static const char *field_name(const json_t *f)
{
    return json_string_value(json_object_get(f, "name"));
}

static const char *field_key(const json_t *f)
{
    const char *as = json_string_value(json_object_get(f, "export_as"));
    return as ? as : field_name(f);
}

static json_t *default_fields(void)
{
    json_t *a = json_array();
    for (int i = 0; export_default_fields[i]; i++)
        json_array_append_new(
            a, json_pack("{s:s}", "name", export_default_fields[i]));
    return a;
}

static void write_json_line(const json_t *user, const json_t *fields,
                            buf_t *out)
{
    json_t *line = json_object();
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f)
    {
        const json_t *v = resolve(user, field_name(f));
        if (v)
            json_object_set(line, field_key(f), (json_t *)v);
    }
    char *text = json_dumps(line, JSON_COMPACT);
    buf_puts(out, text);
    buf_puts(out, "\n");
    free(text);
    json_decref(line);
}

static int is_iso_date(const char *s)
{
    return strlen(s) == 24 && s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
           s[23] == 'Z';
}

static void csv_string(const char *s, int apostrophe, buf_t *out)
{
    buf_puts(out, apostrophe ? "\"'" : "\"");
    for (; *s; s++) {
        if (*s == '"')
            buf_puts(out, "\"\"");
        else
            buf_append(out, s, 1);
    }
    buf_puts(out, "\"");
}

static void csv_value(const json_t *v, buf_t *out)
{
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (is_iso_date(s))
            buf_puts(out, s);
        else
            csv_string(s, 1, out);
        return;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (json_is_object(v) || json_is_array(v))
        csv_string(text, 1, out);
    else
        buf_puts(out, text);
    free(text);
}

static void write_csv_header(const json_t *fields, buf_t *out)
{
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (i)
            buf_puts(out, ",");
        csv_string(field_key(f), 0, out);
    }
    buf_puts(out, "\n");
}

static void write_csv_line(const json_t *user, const json_t *fields, buf_t *out)
{
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (i)
            buf_puts(out, ",");
        csv_value(resolve(user, field_name(f)), out);
    }
    buf_puts(out, "\n");
}

void export_write(const store_t *store, const store_conn_t *conn,
                  const char *format, int64_t limit, const json_t *fields,
                  buf_t *out)
{
    json_t *own = fields ? NULL : default_fields();
    const json_t *use = fields ? fields : own;
    int csv = strcmp(format, "csv") == 0;
    if (csv)
        write_csv_header(use, out);
    int64_t n = 0;
    for (const store_user_t *u = store_first(store); u; u = u->next) {
        if (conn && u->conn != conn)
            continue;
        if (limit > 0 && n >= limit)
            break;
        if (csv)
            write_csv_line(u->profile, use, out);
        else
            write_json_line(u->profile, use, out);
        n++;
    }
    json_decref(own);
}

int export_gzip(const char *data, size_t len, unsigned char **out,
                size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

void export_sign(uint64_t key, const char *file, int64_t expires, char sig[17])
{
    char text[256];
    int n = snprintf(text, sizeof text, "%016llx|%s|%lld",
                     (unsigned long long)key, file, (long long)expires);
    uint64_t h =
        hmap_hash(text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    h = hmap_hash(&h, sizeof h) ^ key;
    snprintf(sig, 17, "%016llx", (unsigned long long)h);
}
