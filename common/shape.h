#ifndef A0_SHAPE_H
#define A0_SHAPE_H

#include <jansson.h>
#include <stddef.h>

#include "jdoc.h"

/* shape: tells which kind of file a user record comes from, and rewrites
 * the records that do not already have the Management API export shape
 * (the one transform reads) into it.
 *
 * Kinds, recognised from a record's top-level names:
 *  - SHAPE_EXPORT: a Management API export (POST /jobs/users-exports, or
 *    a JSON file of users): user_id, email, identities, username or
 *    phone_number.
 *  - SHAPE_DISPLAY: an export made by the Auth0 User Import/Export
 *    extension, whose default columns carry display names: Id, Given Name,
 *    Family Name, Nickname, Name, Email, Email Verified, Picture,
 *    Connection, Created At, Updated At (auth0-user-import-export-extension,
 *    client/reducers/export.js, defaultFields). Other display names are not
 *    documented and are refused by the CSV header check.
 *  - SHAPE_HASHES: the password-hash file of a support request: _id (with
 *    $oid) or passwordHash.
 *
 * Field paths: an export can name nested fields with dots and indices
 * ("identities[0].connection", "user_metadata.consent.given"); as CSV
 * columns, and as top-level keys of JSON records for the roots identities,
 * user_metadata, app_metadata and multifactor, they are expanded into
 * nested objects and arrays. */

#define SHAPE_EXPORT  1u
#define SHAPE_DISPLAY 2u
#define SHAPE_HASHES  4u

#define SHAPE_MAX_SEGMENTS 16
#define SHAPE_MAX_INDEX    31

/* "Management API export", "extension/Dashboard export (display column
 * names)", "support password-hash file", or "unknown" (static strings). */
const char *shape_name(unsigned kind);

/* Writes "a X or a Y (names)" for the kinds in the mask into buf. */
const char *shape_expected(unsigned kinds, char *buf, size_t size);

/* The kind of one record (0 when none is recognised). *rewrite is set
 * when shape_normalise has work to do (display names or field paths). */
unsigned shape_of_doc(jdoc_t *doc, int *rewrite);
unsigned shape_of_json(const json_t *rec, int *rewrite);

/* The export field path of a display name, or NULL. */
const char *shape_display_path(const char *name);

/* One parsed field path: keys, or indices where key is NULL. */
typedef struct {
    size_t n;

    struct {
        char *key;
        int index;
    } seg[SHAPE_MAX_SEGMENTS];
} shape_path_t;

/* Parses s ("a.b[2].c"). Returns 0, or -1 (nothing to free) when s is
 * empty, has an empty segment, an index that is not 0..SHAPE_MAX_INDEX,
 * or too many segments. Free a parsed path with shape_path_clear. */
int shape_path_parse(const char *s, shape_path_t *out);
void shape_path_clear(shape_path_t *p);

/* Stores value (a reference is taken, also on failure) at path in obj,
 * creating objects and arrays on the way; arrays are padded with null.
 * Returns 0, or -1 with *why set when the place is already taken or has
 * the wrong type. */
int shape_set_path(json_t *obj, const shape_path_t *path, json_t *value,
                   const char **why);

/* Rewrites a record in place: display names become export names, field
 * paths are expanded, and an identities[0] built that way without a
 * provider takes it from user_id up to its first '|' (how Auth0 composes
 * user ids). Returns 0, or -1 with why (a sentence without values). */
int shape_normalise(json_t *rec, char *why, size_t size);

/* Completes identities[0].provider from the user_id prefix when missing. */
void shape_fill_provider(json_t *rec);

#endif
