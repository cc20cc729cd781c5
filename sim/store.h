#ifndef A0SIM_STORE_H
#define A0SIM_STORE_H

#include "util.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* store: the tenant's connections and users with their indexes, plus the
 * ledger of how many times each user id was inserted. The caller holds the
 * tenant mutex for every call. */

typedef struct store_t store_t;

typedef enum {
    STORE_CONN_DATABASE = 0,
    STORE_CONN_SOCIAL,
    STORE_CONN_ENTERPRISE,
    STORE_CONN_PASSWORDLESS,
} store_conn_kind_t;

typedef struct {
    char id[21]; /* con_ + 16 alphanumerics, derived from the name */
    char *name;
    char *strategy; /* "auth0" for database connections */
    store_conn_kind_t kind;
    json_t *enabled_clients; /* array of client ids */
    int requires_username;   /* database connections */
    int username_min, username_max;
} store_conn_t;

typedef enum {
    STORE_KEY_EMAIL = 0,
    STORE_KEY_USERNAME,
    STORE_KEY_PHONE,
    STORE_NKEYS,
} store_key_t;

typedef struct store_user store_user_t;

struct store_user {
    json_t *profile;         /* the stored object; never holds secrets */
    json_t *secrets;         /* password_hash, custom_password_hash and
                                mfa_factors as imported, or NULL */
    char *id;                /* full user_id, e.g. auth0|abc */
    char *keys[STORE_NKEYS]; /* index keys: e-mail as stored, username
                                lower-cased, phone; NULL when absent */
    const store_conn_t *conn;
    store_user_t *prev, *next;       /* insertion order */
    store_user_t *same[STORE_NKEYS]; /* next user with an equal key */
};

/* client_ids: the clients every new connection enables (copied). */
store_t *store_new(const json_t *client_ids);
void store_destroy(store_t **p);

/* Adds a connection (or returns the existing one of that name); NULL
 * when the table is full. Its kind follows from the strategy. */
store_conn_t *store_add_connection(store_t *self, const char *name,
                                   const char *strategy);

/* Applies the optional settings of a connection description
 * {"enabled_clients":[..], "requires_username":bool, "username":
 * {"min":n, "max":n}}. Returns 0, or -1 with a reason in err. */
int store_conn_configure(store_conn_t *conn, const json_t *spec, char *err,
                         size_t errlen);

/* The kind of a strategy name, or -1 when the simulator does not know
 * it. */
int store_strategy_kind(const char *strategy);
const store_conn_t *store_conn_by_id(const store_t *self, const char *id);
const store_conn_t *store_conn_by_name(const store_t *self, const char *name);
int store_conn_count(const store_t *self);
const store_conn_t *store_conn_at(const store_t *self, int i);
int store_conn_is_database(const store_conn_t *conn);

/* The connection object as GET /connections/{id} shows it; the list
 * leaves enabled_clients out (with_clients 0), as Auth0 does. */
json_t *store_conn_json(const store_conn_t *conn, int with_clients);

store_user_t *store_user_by_id(const store_t *self, const char *id);

/* First user whose key of that kind equals key, within conn (any
 * connection when conn is NULL). */
store_user_t *store_find(const store_t *self, store_key_t kind, const char *key,
                         const store_conn_t *conn);

/* Inserts a user built from profile (taken over) and secrets (taken over,
 * may be NULL). profile must hold a string user_id not yet stored. When
 * ledger is set the insert is counted in the inserts ledger. Returns the
 * user, or NULL when the id is taken. */
store_user_t *store_insert(store_t *self, json_t *profile, json_t *secrets,
                           const store_conn_t *conn, int ledger);

/* Re-reads the e-mail, username and phone keys of u from its profile
 * after the caller changed them. */
void store_rekey(store_t *self, store_user_t *u);

/* Removes a user; returns 0, or -1 when absent. */
int store_delete(store_t *self, const char *id);

size_t store_user_count(const store_t *self);
const store_user_t *store_first(const store_t *self);

/* The inserts ledger: inserts made, distinct ids inserted, and ids
 * inserted more than once. */
size_t store_inserts_total(const store_t *self);
size_t store_inserts_distinct(const store_t *self);
size_t store_inserts_repeated(const store_t *self);

/* Appends {"user_id":..,"count":n} lines for every id ever inserted. */
void store_inserts_ndjson(const store_t *self, buf_t *out);

/* The ledger as {"<user_id>": count} and back (for snapshots). */
json_t *store_inserts_json(const store_t *self);
void store_inserts_load(store_t *self, const json_t *j);

/* Lower-cases an ASCII string in place and returns it. */
char *store_lower(char *s);

#endif
