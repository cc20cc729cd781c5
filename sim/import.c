/* import: owns the per-job state of an import in progress: the keys
 * already provided in the file and the error entries. A user fails when it
 * does not validate, repeats an e-mail, username or user id of an earlier
 * user of the same file, or matches an existing user of the connection on
 * e-mail, username or phone (or any database user on user id) without
 * upsert. With upsert an e-mail match is updated in its upsertable
 * attributes and counted as updated. */
#include "import.h"

#include "hmap.h"
#include "rand.h"
#include "reply.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_EXISTS "The user already exist and upsert parameter is false"

struct import_t {
    store_t *store;
    const store_conn_t *conn;
    int upsert;
    validate_opts_t vopts;
    hmap_t *seen_email, *seen_username, *seen_id;
    int inserted, updated, failed;
    json_t *errors;
    uint64_t id_state;
};

typedef struct {
    char *email;    /* lower-cased */
    char *username; /* lower-cased */
    char *phone;
    char *id; /* with the auth0| prefix, NULL when not given */
} keys_t;

static const char *const upsertable[] = {
    "app_metadata", "user_metadata", "email_verified",
    "given_name",   "family_name",   "name",
    "nickname",     "picture",       NULL,
};

import_t *import_new(store_t *store, const store_conn_t *conn, int upsert,
                     const validate_opts_t *vopts)
{
    import_t *self = xcalloc(1, sizeof *self);
    self->store = store;
    self->conn = conn;
    self->upsert = upsert;
    self->vopts = *vopts;
    self->seen_email = hmap_new(NULL);
    self->seen_username = hmap_new(NULL);
    self->seen_id = hmap_new(NULL);
    self->errors = json_array();
    self->id_state = rand_secure_seed();
    return self;
}

void import_destroy(import_t **p)
{
    if (!p || !*p)
        return;
    import_t *self = *p;
    hmap_destroy(&self->seen_email);
    hmap_destroy(&self->seen_username);
    hmap_destroy(&self->seen_id);
    json_decref(self->errors);
    free(self);
    *p = NULL;
}

int import_inserted(const import_t *self)
{
    return self->inserted;
}

int import_updated(const import_t *self)
{
    return self->updated;
}

int import_failed(const import_t *self)
{
    return self->failed;
}

json_t *import_errors(const import_t *self)
{
    return self->errors;
}

static void fail(import_t *self, const json_t *user, json_t *errs)
{
    self->failed++;
    json_array_append_new(
        self->errors,
        json_pack("{s:o, s:o}", "user", validate_redact(user), "errors", errs));
}

static void fail_one(import_t *self, const json_t *user, const char *code,
                     const char *message)
{
    fail(self, user,
         json_pack("[{s:s, s:s}]", "code", code, "message", message));
}

static char *dup_field(const json_t *user, const char *field, int lower)
{
    const char *s = json_string_value(json_object_get(user, field));
    if (!s)
        return NULL;
    char *copy = xstrdup(s);
    return lower ? store_lower(copy) : copy;
}

static void keys_read(const json_t *user, keys_t *k)
{
    k->email = dup_field(user, "email", 1);
    k->username = dup_field(user, "username", 1);
    k->phone = dup_field(user, "phone_number", 0);
    const char *id = json_string_value(json_object_get(user, "user_id"));
    k->id = id ? xasprintf("auth0|%s", id) : NULL;
}

static void keys_free(keys_t *k)
{
    free(k->email);
    free(k->username);
    free(k->phone);
    free(k->id);
}

/* Which key of the file's earlier users this one repeats, or NULL. */
static const char *seen_before(const import_t *self, const keys_t *k)
{
    if (k->email && hmap_has(self->seen_email, k->email))
        return "email";
    if (k->username && hmap_has(self->seen_username, k->username))
        return "username";
    if (k->id && hmap_has(self->seen_id, k->id))
        return "user_id";
    return NULL;
}

static void remember(import_t *self, const keys_t *k)
{
    if (k->email)
        hmap_put(self->seen_email, k->email, NULL);
    if (k->username)
        hmap_put(self->seen_username, k->username, NULL);
    if (k->id)
        hmap_put(self->seen_id, k->id, NULL);
}

/* The key on which this user matches an existing user other than except,
 * or NULL. User ids are unique across the tenant, the other keys within
 * the connection. */
static const char *existing_clash(const import_t *self, const keys_t *k,
                                  const store_user_t *except)
{
    const store_user_t *u;
    if (k->id && (u = store_user_by_id(self->store, k->id)) && u != except)
        return "user_id";
    if (k->email &&
        (u = store_find(self->store, STORE_KEY_EMAIL, k->email, self->conn)) &&
        u != except)
        return "email";
    if (k->username &&
        (u = store_find(self->store, STORE_KEY_USERNAME, k->username,
                        self->conn)) &&
        u != except)
        return "username";
    if (k->phone &&
        (u = store_find(self->store, STORE_KEY_PHONE, k->phone, self->conn)) &&
        u != except)
        return "phone_number";
    return NULL;
}

static void gravatar(const char *email, char out[200])
{
    uint64_t a = hmap_hash(email, strlen(email));
    uint64_t b = hmap_hash(&a, sizeof a);
    char initials[3] = { email[0], email[1] ? email[1] : 'x', '\0' };
    if (initials[1] == '@')
        initials[1] = 'x';
    store_lower(initials);
    snprintf(out, 200,
             "https://s.gravatar.com/avatar/%016llx%016llx?s=480&r=pg&d="
             "https%%3A%%2F%%2Fcdn.auth0.com%%2Favatars%%2F%s.png",
             (unsigned long long)a, (unsigned long long)b, initials);
}

static void copy_field(json_t *dst, const json_t *src, const char *field)
{
    json_t *v = json_object_get(src, field);
    if (v)
        json_object_set(dst, field, v);
}

json_t *import_profile(const json_t *user, const char *full_id,
                       const char *conn_name, int64_t now_ms)
{
    char now[32], pic[200];
    reply_iso_ms(now_ms, now);
    char *email = dup_field(user, "email", 1);
    const char *bar = strchr(full_id, '|');
    json_t *p = json_object();
    json_object_set_new(p, "created_at", json_string(now));
    json_object_set_new(p, "email", json_string(email));
    json_t *ev = json_object_get(user, "email_verified");
    json_object_set_new(p, "email_verified", json_boolean(json_is_true(ev)));
    copy_field(p, user, "family_name");
    copy_field(p, user, "given_name");
    json_object_set_new(p, "identities",
                        json_pack("[{s:s, s:s, s:s, s:b}]", "connection",
                                  conn_name, "user_id", bar ? bar + 1 : full_id,
                                  "provider", "auth0", "isSocial", 0));

    /* Defaults Auth0 fills in: name is the e-mail, nickname its local
     * part, picture a gravatar address. */
    const char *name = json_string_value(json_object_get(user, "name"));
    json_object_set_new(p, "name", json_string(name ? name : email));
    const char *nick = json_string_value(json_object_get(user, "nickname"));
    char *local = xstrndup(email, strcspn(email, "@"));
    json_object_set_new(p, "nickname", json_string(nick ? nick : local));
    free(local);
    const char *picture = json_string_value(json_object_get(user, "picture"));
    gravatar(email, pic);
    json_object_set_new(p, "picture", json_string(picture ? picture : pic));
    json_object_set_new(p, "updated_at", json_string(now));
    json_object_set_new(p, "user_id", json_string(full_id));
    char *username = dup_field(user, "username", 1);
    if (username)
        json_object_set_new(p, "username", json_string(username));
    free(username);
    copy_field(p, user, "phone_number");
    if (json_object_get(user, "phone_number"))
        json_object_set_new(p, "phone_verified",
                            json_boolean(json_is_true(
                                json_object_get(user, "phone_verified"))));
    copy_field(p, user, "blocked");
    copy_field(p, user, "user_metadata");
    copy_field(p, user, "app_metadata");
    free(email);
    return p;
}

static json_t *secrets_of(const json_t *user)
{
    json_t *s = json_object();
    copy_field(s, user, "password_hash");
    copy_field(s, user, "custom_password_hash");
    copy_field(s, user, "mfa_factors");
    if (json_object_size(s) == 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static char *new_user_id(import_t *self)
{
    char hex[25];
    for (;;) {
        rand_hex(&self->id_state, hex, 24);
        char *id = xasprintf("auth0|%s", hex);
        if (!store_user_by_id(self->store, id))
            return id;
        free(id);
    }
}

static void insert(import_t *self, const json_t *user, keys_t *k,
                   int64_t now_ms)
{
    char *id = k->id ? xstrdup(k->id) : new_user_id(self);
    json_t *profile = import_profile(user, id, self->conn->name, now_ms);
    if (store_insert(self->store, profile, secrets_of(user), self->conn, 1))
        self->inserted++;
    else
        fail_one(self, user, "DUPLICATED_USER", MSG_EXISTS);
    free(id);
}

/* A custom hash may replace only a custom hash that was never used to log
 * in; a user imported without one has a random hash already. */
static int hash_locked(const store_user_t *u, const json_t *user)
{
    if (!json_object_get(user, "custom_password_hash"))
        return 0;
    return !u->secrets || !json_object_get(u->secrets, "custom_password_hash");
}

/* Without upsert any match is a duplicate; with upsert only the e-mail
 * match is updated and a match on another key is a conflict. */
static void fail_clash(import_t *self, const json_t *user, const char *clash)
{
    if (!self->upsert) {
        fail_one(self, user, "DUPLICATED_USER", MSG_EXISTS);
        return;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Another user already exists with this %s",
             clash);
    fail_one(self, user,
             strcmp(clash, "username") == 0 ? "CONFLICT_USERNAME" : "CONFLICT",
             msg);
}

static void upsert(import_t *self, store_user_t *u, const json_t *user,
                   const keys_t *k, int64_t now_ms)
{
    const char *clash = existing_clash(self, k, u);
    if (clash) {
        fail_clash(self, user, clash);
        return;
    }
    if (hash_locked(u, user)) {
        fail_one(self, user, "NOT_PASSED",
                 "a custom_password_hash was provided, but the user already "
                 "has password hash defined");
        return;
    }
    for (const char *const *f = upsertable; *f; f++)
        copy_field(u->profile, user, *f);
    json_t *custom = json_object_get(user, "custom_password_hash");
    if (custom)
        json_object_set(u->secrets, "custom_password_hash", custom);
    char now[32];
    reply_iso_ms(now_ms, now);
    json_object_set_new(u->profile, "updated_at", json_string(now));
    self->updated++;
}

void import_user(import_t *self, const json_t *user, int64_t now_ms)
{
    json_t *errs = validate_user(user, &self->vopts);
    if (!json_array_size(errs)) {
        json_decref(errs);
        errs = validate_username(
            user, &self->vopts, self->conn->requires_username,
            (size_t)self->conn->username_min, (size_t)self->conn->username_max);
    }
    if (json_array_size(errs)) {
        fail(self, user, errs);
        return;
    }
    json_decref(errs);

    keys_t k;
    keys_read(user, &k);
    const char *again = seen_before(self, &k);
    if (again) {
        char msg[96];
        snprintf(msg, sizeof msg, "A user with this %s was already provided.",
                 again);
        fail_one(self, user, "DUPLICATED_USER", msg);
        keys_free(&k);
        return;
    }
    remember(self, &k);

    store_user_t *match =
        store_find(self->store, STORE_KEY_EMAIL, k.email, self->conn);
    const char *clash;
    if (match && self->upsert)
        upsert(self, match, user, &k, now_ms);
    else if ((clash = existing_clash(self, &k, NULL)))
        fail_clash(self, user, clash);
    else
        insert(self, user, &k, now_ms);
    keys_free(&k);
}
