/* api_users: the connection and user endpoints of the Management API.
 * Stored users are shown without their secrets, which live apart from the
 * profile in the store. */
#include "api.h"

#include "reply.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

void api_connections_list(api_call_t *c)
{
    const char *name = http_arg(c->req, "name");
    const char *strategy = http_arg(c->req, "strategy");
    json_t *list = json_array();
    sim_lock(c->sim);
    for (int i = 0; i < store_conn_count(c->sim->store); i++) {
        const store_conn_t *conn = store_conn_at(c->sim->store, i);
        if (name && strcmp(name, conn->name) != 0)
            continue;
        if (strategy && strcmp(strategy, conn->strategy) != 0)
            continue;
        json_array_append_new(list, store_conn_json(conn));
    }
    sim_unlock(c->sim);
    reply_json(c->resp, 200, list);
}

void api_connection_get(api_call_t *c)
{
    sim_lock(c->sim);
    const store_conn_t *conn = store_conn_by_id(c->sim->store, c->params[0]);
    json_t *j = conn ? store_conn_json(conn) : NULL;
    sim_unlock(c->sim);
    if (j)
        reply_json(c->resp, 200, j);
    else
        reply_error(c->resp, 404, "The connection does not exist",
                    "inexistent_connection");
}

/* A copy of the profile cut down to the fields and include_fields query
 * parameters: a comma-separated list kept (or, with include_fields=false,
 * dropped). */
static json_t *shown(const api_call_t *c, const json_t *profile)
{
    const char *fields = http_arg(c->req, "fields");
    const char *inc = http_arg(c->req, "include_fields");
    json_t *copy = json_deep_copy(profile);
    if (!fields || !*fields)
        return copy;
    int keep = !inc || strcmp(inc, "false") != 0;
    json_t *out = keep ? json_object() : copy;
    char *list = xstrdup(fields), *save = NULL;
    for (char *f = strtok_r(list, ",", &save); f;
         f = strtok_r(NULL, ",", &save)) {
        json_t *v = json_object_get(copy, f);
        if (keep && v)
            json_object_set(out, f, v);
        else if (!keep)
            json_object_del(out, f);
    }
    free(list);
    if (keep)
        json_decref(copy);
    return out;
}

void api_user_get(api_call_t *c)
{
    sim_lock(c->sim);
    const store_user_t *u = store_user_by_id(c->sim->store, c->params[0]);
    json_t *j = u ? shown(c, u->profile) : NULL;
    sim_unlock(c->sim);
    if (j)
        reply_json(c->resp, 200, j);
    else
        reply_error(c->resp, 404, "The user does not exist.",
                    "inexistent_user");
}

void api_user_delete(api_call_t *c)
{
    sim_lock(c->sim);
    store_delete(c->sim->store, c->params[0]);
    sim_unlock(c->sim);
    reply_empty(c->resp, 204);
}

void api_users_by_email(api_call_t *c)
{
    const char *email = http_arg(c->req, "email");
    if (!email) {
        reply_error(c->resp, 400,
                    "Query validation error: 'Missing required property: "
                    "email' on property email.",
                    "invalid_query_string");
        return;
    }

    /* Exact match: Auth0 compares case-sensitively, and database
     * connections store e-mails lower-cased. */
    json_t *list = json_array();
    sim_lock(c->sim);
    const store_user_t *u =
        store_find(c->sim->store, STORE_KEY_EMAIL, email, NULL);
    for (; u; u = u->same[STORE_KEY_EMAIL])
        json_array_append_new(list, shown(c, u->profile));
    sim_unlock(c->sim);
    reply_json(c->resp, 200, list);
}
