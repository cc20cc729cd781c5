/* snapshot: owns the snapshot file format, a JSON object
 * {"version":1, "users":[{"connection","strategy","profile","secrets"}],
 * "inserts":{"<user_id>":n}, "tokens":{...}, "jobs":[...]}. The text is
 * built while the mutex is held, because profiles change in place, and
 * written after it is released. Import jobs still running at save time
 * are not in the file: a restart loses them, as it would lose a request
 * in flight. */
#include "snapshot.h"

#include "jobs.h"
#include "log.h"
#include "store.h"
#include "tokens.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAPSHOT_VERSION   1
#define SNAPSHOT_MAX_BYTES ((size_t)4 << 30)

static json_t *users_json(const store_t *store)
{
    json_t *a = json_array();
    for (const store_user_t *u = store_first(store); u; u = u->next) {
        json_t *o =
            json_pack("{s:s, s:s, s:O}", "connection", u->conn->name,
                      "strategy", u->conn->strategy, "profile", u->profile);
        if (u->secrets)
            json_object_set(o, "secrets", u->secrets);
        json_array_append_new(a, o);
    }
    return a;
}

static char *dump_locked(sim_t *sim)
{
    sim_lock(sim);
    int64_t now = util_wall_ms();
    json_t *j = json_pack("{s:i, s:o, s:o, s:o, s:o}", "version",
                          SNAPSHOT_VERSION, "users", users_json(sim->store),
                          "inserts", store_inserts_json(sim->store), "tokens",
                          tokens_json(sim->tokens, now), "jobs",
                          jobs_snapshot_json(sim->jobs));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    sim_unlock(sim);
    return text;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int snapshot_save(sim_t *sim, const char *path)
{
    char *text = dump_locked(sim);
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && text && write_all(fd, text, strlen(text)) == 0 &&
             fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok) {
        log_error("snapshot", "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    } else {
        log_info("snapshot", "saved %zu bytes", strlen(text));
    }
    free(tmp);
    free(text);
    return ok ? 0 : -1;
}

static int load_users(store_t *store, const json_t *users)
{
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        const char *name = json_string_value(json_object_get(u, "connection"));
        const char *strategy =
            json_string_value(json_object_get(u, "strategy"));
        json_t *profile = json_object_get(u, "profile");
        json_t *secrets = json_object_get(u, "secrets");
        if (!name || !strategy || !json_is_object(profile))
            return -1;
        const store_conn_t *conn = store_add_connection(store, name, strategy);
        if (!conn)
            return -1;
        store_insert(store, json_incref(profile),
                     json_is_object(secrets) ? json_incref(secrets) : NULL,
                     conn, 0);
    }
    return 0;
}

static json_t *read_file(const char *path, int *missing)
{
    struct stat st;
    *missing = stat(path, &st) != 0 && errno == ENOENT;
    if (*missing)
        return NULL;
    if (stat(path, &st) != 0 || (size_t)st.st_size > SNAPSHOT_MAX_BYTES) {
        log_error("snapshot", "%s: unreadable or larger than 4 GB", path);
        return NULL;
    }
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        log_error("snapshot", "%s:%d: %s", path, err.line, err.text);
    return j;
}

int snapshot_load(sim_t *sim, const char *path)
{
    int missing = 0;
    json_t *j = read_file(path, &missing);
    if (missing)
        return 0;
    json_t *users = json_object_get(j, "users");
    int rc = -1;
    sim_lock(sim);
    if (json_integer_value(json_object_get(j, "version")) == SNAPSHOT_VERSION &&
        json_is_array(users) && load_users(sim->store, users) == 0) {
        store_inserts_load(sim->store, json_object_get(j, "inserts"));
        tokens_load(sim->tokens, json_object_get(j, "tokens"), util_wall_ms());
        jobs_restore(sim->jobs, json_object_get(j, "jobs"));
        rc = 1;
    }
    size_t n = store_user_count(sim->store);
    sim_unlock(sim);
    json_decref(j);
    if (rc < 0)
        log_error("snapshot", "%s is not an a0sim snapshot", path);
    else
        log_info("snapshot", "restored %zu users", n);
    return rc;
}
