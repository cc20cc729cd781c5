/* seed: the generator and the export loader. The generator draws every
 * choice from one splitmix64 sequence seeded by --seed and uses a fixed
 * clock origin, so the same arguments always yield byte-identical users.
 * Shares: ~10% usernames, ~5% blocked, ~15% unverified e-mail, ~5%
 * multifactor, ~3% phone numbers, ~3% social-only users, ~2% database users
 * with a linked social identity, ~1% with ~5 KB of metadata. */
#include "seed.h"

#include "log.h"
#include "rand.h"
#include "reply.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SEED_MAX_LINE (1024 * 1024)
#define GEN_ORIGIN_MS 1546300800000LL /* 2019-01-01T00:00:00Z */
#define GEN_SPAN_MS   (5LL * 365 * 86400 * 1000)
#define SOCIAL        "google-oauth2"

static const char *const given_names[] = {
    "Ada",   "Bruno", "Chloe", "Dmitri", "Elena", "Farid",  "Grace", "Hiro",
    "Ines",  "Jonas", "Kofi",  "Lena",   "Mateo", "Nora",   "Omar",  "Priya",
    "Quinn", "Rosa",  "Sven",  "Tara",   "Uma",   "Viktor", "Wen",   "Yara",
};
static const char *const family_names[] = {
    "Alvarez", "Brown",    "Chen",    "Dubois", "Eriksen", "Fischer",
    "Garcia",  "Haddad",   "Ivanova", "Jensen", "Kim",     "Lopez",
    "Moreau",  "Nakamura", "Okafor",  "Petrov", "Rossi",   "Schmidt",
};
static const char *const themes[] = { "dark", "light", "system" };
static const char *const locales[] = { "en-GB", "en-US", "fr-FR", "de-DE",
                                       "es-ES", "ja-JP", "pt-BR" };
/* Documentation address ranges (RFC 5737). */
static const char *const ip_nets[] = { "192.0.2", "198.51.100", "203.0.113" };
static const char *const plans[] = { "free", "pro", "team", "enterprise" };

#define PICK(st, arr) (arr[rand_below((st), sizeof arr / sizeof arr[0])])

static void iso(int64_t ms, char out[32])
{
    reply_iso_ms(ms, out);
}

static char *digits(uint64_t *st, int n)
{
    char *s = xmalloc((size_t)n + 1);
    s[0] = (char)('1' + rand_below(st, 9));
    for (int i = 1; i < n; i++)
        s[i] = (char)('0' + rand_below(st, 10));
    s[n] = '\0';
    return s;
}

static json_t *big_blob(uint64_t *st)
{
    /* About 5 KB: a note and a history list. */
    char note[2049];
    rand_alnum(st, note, sizeof note - 1);
    json_t *hist = json_array();
    for (int i = 0; i < 40; i++) {
        char ev[49];
        rand_alnum(st, ev, sizeof ev - 1);
        json_array_append_new(hist,
                              json_pack("{s:i, s:s}", "seq", i, "event", ev));
    }
    return json_pack("{s:s, s:o}", "notes", note, "history", hist);
}

static json_t *user_metadata(uint64_t *st)
{
    uint64_t r = rand_below(st, 100);
    if (r < 1)
        return big_blob(st);
    if (r < 70)
        return json_pack("{s:s, s:s, s:b}", "theme", PICK(st, themes), "locale",
                         PICK(st, locales), "newsletter",
                         (int)rand_below(st, 2));
    return NULL;
}

static json_t *app_metadata(uint64_t *st)
{
    uint64_t r = rand_below(st, 100);
    if (r < 1)
        return big_blob(st);
    if (r < 50) {
        json_t *roles = json_array();
        if (rand_below(st, 4) == 0)
            json_array_append_new(roles, json_string("admin"));
        json_array_append_new(roles, json_string("member"));
        return json_pack("{s:s, s:o}", "plan", PICK(st, plans), "roles", roles);
    }
    return NULL;
}

static void set_activity(json_t *u, uint64_t *st)
{
    char a[32], b[32], c[32];
    int64_t created = GEN_ORIGIN_MS + (int64_t)rand_below(st, GEN_SPAN_MS);
    int64_t updated =
        created +
        (int64_t)rand_below(
            st, (uint64_t)(GEN_ORIGIN_MS + GEN_SPAN_MS - created) + 1);
    int64_t logins = (int64_t)rand_below(st, 400);
    iso(created, a);
    iso(updated, b);
    json_object_set_new(u, "created_at", json_string(a));
    json_object_set_new(u, "updated_at", json_string(b));
    if (logins == 0)
        return;
    int64_t last =
        created + (int64_t)rand_below(st, (uint64_t)(updated - created) + 1);
    iso(last, c);
    char ip[32];
    snprintf(ip, sizeof ip, "%s.%d", PICK(st, ip_nets),
             (int)rand_below(st, 254) + 1);
    json_object_set_new(u, "last_login", json_string(c));
    json_object_set_new(u, "last_ip", json_string(ip));
    json_object_set_new(u, "logins_count", json_integer(logins));
}

static json_t *social_identity(const char *id, int with_profile,
                               const char *email, const char *name)
{
    json_t *ident = json_object();
    if (with_profile)
        json_object_set_new(ident, "profileData",
                            json_pack("{s:s, s:b, s:s}", "email", email,
                                      "email_verified", 1, "name", name));
    json_object_set_new(ident, "provider", json_string(SOCIAL));
    json_object_set_new(ident, "user_id", json_string(id));
    json_object_set_new(ident, "connection", json_string(SOCIAL));
    json_object_set_new(ident, "isSocial", json_true());
    return ident;
}

static void set_names(json_t *u, uint64_t *st, const char *email)
{
    if (rand_below(st, 10) < 6) {
        const char *g = PICK(st, given_names);
        const char *f = PICK(st, family_names);
        char *full = xasprintf("%s %s", g, f);
        json_object_set_new(u, "name", json_string(full));
        json_object_set_new(u, "given_name", json_string(g));
        json_object_set_new(u, "family_name", json_string(f));
        free(full);
    } else {
        json_object_set_new(u, "name", json_string(email));
    }
    char *local = xstrndup(email, strcspn(email, "@"));
    json_object_set_new(u, "nickname", json_string(local));
    free(local);
    char pic[128];
    snprintf(pic, sizeof pic, "https://s.gravatar.com/avatar/%016llx.png",
             (unsigned long long)rand_next(st));
    json_object_set_new(u, "picture", json_string(pic));
}

/* Primary identity and user_id: a database identity, or a social one. */
static json_t *primary(json_t *u, uint64_t *st, const store_conn_t *db,
                       const char *sid)
{
    char hex[25];
    char *uid;
    json_t *ids = json_array();
    if (!db) {
        uid = xasprintf("%s|%s", SOCIAL, sid);
        json_array_append_new(ids, social_identity(sid, 0, NULL, NULL));
    } else {
        rand_hex(st, hex, 24);
        uid = xasprintf("auth0|%s", hex);
        json_array_append_new(
            ids, json_pack("{s:s, s:s, s:s, s:b}", "connection", db->name,
                           "user_id", hex, "provider", "auth0", "isSocial", 0));
    }
    json_object_set_new(u, "user_id", json_string(uid));
    free(uid);
    return ids;
}

/* What only database users have: username, phone, a linked identity. */
static void database_extras(json_t *u, json_t *ids, uint64_t *st, long i,
                            const char *sid)
{
    if (rand_below(st, 100) < 10) {
        char *name = xasprintf("%s%ld", PICK(st, given_names), i);
        json_object_set_new(u, "username", json_string(store_lower(name)));
        free(name);
    }
    if (rand_below(st, 100) < 3) {
        char *d = digits(st, 7);
        char *phone = xasprintf("+1555%s", d);
        json_object_set_new(u, "phone_number", json_string(phone));
        json_object_set_new(u, "phone_verified", json_false());
        free(phone);
        free(d);
    }
    if (rand_below(st, 100) < 2)
        json_array_append_new(
            ids, social_identity(
                     sid, 1, json_string_value(json_object_get(u, "email")),
                     json_string_value(json_object_get(u, "name"))));
}

static void common_extras(json_t *u, uint64_t *st)
{
    set_activity(u, st);
    if (rand_below(st, 100) < 5)
        json_object_set_new(u, "blocked", json_true());
    if (rand_below(st, 100) < 5)
        json_object_set_new(u, "multifactor", json_pack("[s]", "guardian"));
    json_t *um = user_metadata(st), *am = app_metadata(st);
    if (um)
        json_object_set_new(u, "user_metadata", um);
    if (am)
        json_object_set_new(u, "app_metadata", am);
}

/* One user; db is NULL for a social-only user. */
static json_t *gen_user(uint64_t *st, long i, const store_conn_t *db)
{
    char word[7];
    rand_alnum(st, word, 6);
    store_lower(word);
    char *email = xasprintf("user%ld.%s@example.test", i, word);
    char *sid = digits(st, 21);
    json_t *u = json_object();
    json_t *ids = primary(u, st, db, sid);
    json_object_set_new(u, "email", json_string(email));
    json_object_set_new(u, "email_verified",
                        json_boolean(!db || rand_below(st, 100) >= 15));
    set_names(u, st, email);
    if (db)
        database_extras(u, ids, st, i, sid);
    json_object_set_new(u, "identities", ids);
    common_extras(u, st);
    free(sid);
    free(email);
    return u;
}

long seed_generate(store_t *store, long n, uint64_t seed)
{
    const store_conn_t *dbs[32];
    int ndb = 0;
    for (int i = 0; i < store_conn_count(store) && ndb < 32; i++)
        if (store_conn_is_database(store_conn_at(store, i)))
            dbs[ndb++] = store_conn_at(store, i);
    if (ndb == 0)
        return 0;
    const store_conn_t *social = store_add_connection(store, SOCIAL, SOCIAL);
    uint64_t st = seed ^ 0x5eed5eed5eed5eedULL;
    long added = 0;
    for (long i = 1; i <= n; i++) {
        int is_social = rand_below(&st, 100) < 3;
        const store_conn_t *db = dbs[rand_below(&st, (uint64_t)ndb)];
        json_t *u = gen_user(&st, i, is_social ? NULL : db);
        if (store_insert(store, u, NULL, is_social ? social : db, 0))
            added++;
    }
    return added;
}

/* --- loading an export ---------------------------------------------- */

static const store_conn_t *conn_of(store_t *store, const json_t *user)
{
    const json_t *id0 = json_array_get(json_object_get(user, "identities"), 0);
    const char *name = json_string_value(json_object_get(id0, "connection"));
    const char *prov = json_string_value(json_object_get(id0, "provider"));
    if (!name || !prov)
        return NULL;
    return store_add_connection(store, name,
                                strcmp(prov, "auth0") == 0 ? "auth0" : prov);
}

static int load_line(store_t *store, char *line, long lineno)
{
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (len == 0)
        return 0;
    json_error_t err;
    json_t *u = json_loadb(line, len, 0, &err);
    const store_conn_t *conn = json_is_object(u) ? conn_of(store, u) : NULL;
    if (!conn || !json_is_string(json_object_get(u, "user_id"))) {
        log_error("seed", "line %ld: not a user with user_id and identities",
                  lineno);
        json_decref(u);
        return -1;
    }
    if (!store_insert(store, u, NULL, conn, 0))
        log_warn("seed", "line %ld: user id already loaded, skipped", lineno);
    return 1;
}

long seed_load(store_t *store, const char *path)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        log_error("seed", "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = xmalloc(SEED_MAX_LINE + 2);
    long lineno = 0, loaded = 0;
    int rc = 0;
    while (rc >= 0 && gzgets(f, line, SEED_MAX_LINE + 2)) {
        lineno++;
        size_t len = strlen(line);
        if (len > SEED_MAX_LINE && line[len - 1] != '\n') {
            log_error("seed", "line %ld: longer than %d bytes", lineno,
                      SEED_MAX_LINE);
            rc = -1;
            break;
        }
        rc = load_line(store, line, lineno);
        loaded += rc > 0;
    }
    int errnum;
    const char *zmsg = gzerror(f, &errnum);
    if (rc >= 0 && errnum != Z_OK && errnum != Z_STREAM_END) {
        log_error("seed", "%s: %s", path, zmsg);
        rc = -1;
    }
    gzclose(f);
    free(line);
    return rc < 0 ? -1 : loaded;
}
