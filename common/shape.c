/* shape: owns the knowledge of the export shapes a0migrate reads: the
 * names that identify each kind of file, the display names of the
 * extension's export, and the expansion of flattened field paths into
 * nested values. Stateless; the tables are constant. */
#include "shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct {
    const char *display;
    const char *path;
} display_t;

static const display_t display_names[] = {
    { "Id", "user_id" },
    { "Given Name", "given_name" },
    { "Family Name", "family_name" },
    { "Nickname", "nickname" },
    { "Name", "name" },
    { "Email", "email" },
    { "Email Verified", "email_verified" },
    { "Picture", "picture" },
    { "Connection", "identities[0].connection" },
    { "Created At", "created_at" },
    { "Updated At", "updated_at" },
};

/* Top-level names that mark a Management API export record. */
static const char *const export_names[] = { "user_id",      "email",
                                            "identities",   "username",
                                            "phone_number", NULL };

/* Roots whose flattened paths are expanded in JSON records. */
static const char *const path_roots[] = { "identities", "user_metadata",
                                          "app_metadata", "multifactor", NULL };

const char *shape_name(unsigned kind)
{
    switch (kind) {
    case SHAPE_EXPORT:
        return "Management API export";
    case SHAPE_DISPLAY:
        return "extension/Dashboard export (display column names)";
    case SHAPE_HASHES:
        return "support password-hash file";
    default:
        return "unknown";
    }
}

static const char *kind_hint(unsigned kind)
{
    switch (kind) {
    case SHAPE_EXPORT:
        return " (user_id, email, identities, ...)";
    case SHAPE_DISPLAY:
        return " (Id, Email, Connection, ...)";
    default:
        return " (_id.$oid, passwordHash)";
    }
}

const char *shape_expected(unsigned kinds, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned k = SHAPE_EXPORT; k <= SHAPE_HASHES; k <<= 1) {
        if (!(kinds & k) || len >= size)
            continue;
        int n = snprintf(buf + len, size - len, "%s%s%s", len ? " or a " : "a ",
                         shape_name(k), kind_hint(k));
        len += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

const char *shape_display_path(const char *name)
{
    for (size_t i = 0; i < sizeof display_names / sizeof *display_names; i++)
        if (strcmp(display_names[i].display, name) == 0)
            return display_names[i].path;
    return NULL;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* A top-level key that is a path under one of path_roots. */
static int is_root_path(const char *key)
{
    size_t n = strcspn(key, ".[");
    if (!key[n])
        return 0;
    for (const char *const *r = path_roots; *r; r++)
        if (strlen(*r) == n && strncmp(key, *r, n) == 0)
            return 1;
    return 0;
}

/* Facts gathered from a record's top-level keys. */
typedef struct {
    int hashes, display, exported, paths;
} seen_t;

static void see_key(seen_t *s, const char *key)
{
    if (strcmp(key, "_id") == 0 || strcmp(key, "passwordHash") == 0)
        s->hashes = 1;
    else if (key[0] >= 'A' && key[0] <= 'Z' && shape_display_path(key))
        s->display = 1;
    else if (in_list(key, export_names))
        s->exported = 1;
    else if (is_root_path(key))
        s->exported = s->paths = 1;
}

static unsigned kind_of(const seen_t *s, int *rewrite)
{
    if (rewrite)
        *rewrite = s->display || s->paths;
    if (s->hashes)
        return SHAPE_HASHES;
    if (s->display)
        return SHAPE_DISPLAY;
    return s->exported ? SHAPE_EXPORT : 0;
}

unsigned shape_of_doc(jdoc_t *doc, int *rewrite)
{
    seen_t s = { 0, 0, 0, 0 };
    if (rewrite)
        *rewrite = 0;
    if (jdoc_type(doc, 0) != JD_OBJECT)
        return 0;
    uint32_t k = jdoc_first(0);
    for (uint32_t m = 0; m < jdoc_node(doc, 0)->count; m++) {
        see_key(&s, jdoc_str(doc, k, NULL));
        k = jdoc_next_member(doc, k);
    }
    return kind_of(&s, rewrite);
}

unsigned shape_of_json(const json_t *rec, int *rewrite)
{
    seen_t s = { 0, 0, 0, 0 };
    if (rewrite)
        *rewrite = 0;
    if (!json_is_object(rec))
        return 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)rec, key, v)
    {
        see_key(&s, key);
    }
    return kind_of(&s, rewrite);
}

/* ---- paths ---- */

void shape_path_clear(shape_path_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->seg[i].key);
    p->n = 0;
}

/* Parses "[n]" at *s; returns 0 and advances, -1 when malformed. */
static int parse_index(const char **s, int *out)
{
    const char *p = *s + 1;
    int v = 0;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        if (v > SHAPE_MAX_INDEX)
            return -1;
    }
    if (*p != ']' || (p - *s > 2 && (*s)[1] == '0'))
        return -1;
    *out = v;
    *s = p + 1;
    return 0;
}

static int add_seg(shape_path_t *p, const char *key, size_t n, int index)
{
    if (p->n == SHAPE_MAX_SEGMENTS)
        return -1;
    p->seg[p->n].key = key ? xstrndup(key, n) : NULL;
    p->seg[p->n].index = index;
    p->n++;
    return 0;
}

/* One "name[i][j]" segment group; *s ends after it. */
static int parse_group(const char **s, shape_path_t *out)
{
    size_t n = strcspn(*s, ".[]");
    if (n == 0 || add_seg(out, *s, n, 0) < 0)
        return -1;
    *s += n;
    while (**s == '[') {
        int idx;
        if (parse_index(s, &idx) < 0 || add_seg(out, NULL, 0, idx) < 0)
            return -1;
    }
    return 0;
}

int shape_path_parse(const char *s, shape_path_t *out)
{
    out->n = 0;
    for (;;) {
        if (parse_group(&s, out) < 0)
            break;
        if (!*s)
            return 0;
        if (*s != '.')
            break;
        s++;
    }
    shape_path_clear(out);
    return -1;
}

/* The child at segment i of container c, created as the type segment
 * i + 1 needs when absent. NULL when taken by a value of another type. */
static json_t *descend(json_t *c, const shape_path_t *p, size_t i)
{
    int want_array = p->seg[i + 1].key == NULL;
    json_t *child;
    if (p->seg[i].key) {
        child = json_object_get(c, p->seg[i].key);
    } else {
        while (json_array_size(c) <= (size_t)p->seg[i].index)
            json_array_append_new(c, json_null());
        child = json_array_get(c, (size_t)p->seg[i].index);
    }
    if (child && !json_is_null(child))
        return (want_array ? json_is_array(child) : json_is_object(child))
                   ? child
                   : NULL;
    child = want_array ? json_array() : json_object();
    if (p->seg[i].key)
        json_object_set_new(c, p->seg[i].key, child);
    else
        json_array_set_new(c, (size_t)p->seg[i].index, child);
    return child;
}

static int place(json_t *c, const shape_path_t *p, json_t *value,
                 const char **why)
{
    size_t last = p->n - 1;
    if (p->seg[last].key) {
        if (!json_is_object(c) || json_object_get(c, p->seg[last].key)) {
            *why = "field given twice";
            json_decref(value);
            return -1;
        }
        return json_object_set_new(c, p->seg[last].key, value);
    }
    size_t idx = (size_t)p->seg[last].index;
    while (json_array_size(c) <= idx)
        json_array_append_new(c, json_null());
    if (!json_is_null(json_array_get(c, idx))) {
        *why = "field given twice";
        json_decref(value);
        return -1;
    }
    return json_array_set_new(c, idx, value);
}

int shape_set_path(json_t *obj, const shape_path_t *path, json_t *value,
                   const char **why)
{
    json_t *c = obj;
    for (size_t i = 0; c && i + 1 < path->n; i++)
        c = descend(c, path, i);
    if (!c || path->n == 0 || (path->seg[0].key == NULL)) {
        *why = "field given twice with different shapes";
        json_decref(value);
        return -1;
    }
    return place(c, path, value, why);
}

void shape_fill_provider(json_t *rec)
{
    json_t *first = json_array_get(json_object_get(rec, "identities"), 0);
    const char *uid = json_string_value(json_object_get(rec, "user_id"));
    const char *bar = uid ? strchr(uid, '|') : NULL;
    if (!json_is_object(first) || json_object_get(first, "provider") || !bar)
        return;
    json_object_set_new(first, "provider",
                        json_stringn(uid, (size_t)(bar - uid)));
}

/* Moves one member of src into dst under its export name or path. */
static int move_member(json_t *dst, const char *key, json_t *v,
                       const char **why)
{
    const char *name = shape_display_path(key);
    if (!name)
        name = key;
    shape_path_t p;
    if (!strpbrk(name, ".[") || !is_root_path(name) ||
        shape_path_parse(name, &p) < 0) {
        if (json_object_get(dst, name)) {
            *why = "field given twice";
            return -1;
        }
        return json_object_set(dst, name, v);
    }
    int rc = shape_set_path(dst, &p, json_incref(v), why);
    shape_path_clear(&p);
    return rc;
}

int shape_normalise(json_t *rec, char *why, size_t size)
{
    json_t *out = json_object();
    const char *key, *reason = NULL;
    json_t *v;
    json_object_foreach(rec, key, v)
    {
        if (move_member(out, key, v, &reason) < 0) {
            snprintf(why, size, "%s", reason);
            json_decref(out);
            return -1;
        }
    }
    shape_fill_provider(out);
    json_object_clear(rec);
    json_object_update(rec, out);
    json_decref(out);
    return 0;
}
