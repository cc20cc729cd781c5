/* Unit tests for planner: the target connection of each user (explicit
 * map, one target for all, same name), the target's username rules and
 * kind, the no_password flag beside each batched user, the counts a dry
 * run reports (hashes with, without, unmatched), duplicates on folded
 * e-mails and usernames, warnings, the survey pass, and the reading of
 * connection objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The planner is part of the a0migrate program, not of a library the
 * tests link, so its source is compiled into this test. */
#include "../../coordinator/planner.c"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/a0planner.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *data)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* What the callbacks saw, one "uid<TAB>value" line each. */
typedef struct {
    buf_t local;
    buf_t warn;
    int resolved; /* resolver calls */
} seen_t;

static void on_local(void *arg, const char *uid, const char *value)
{
    seen_t *s = arg;
    buf_printf(&s->local, "%s\t%s\n", uid, value);
}

static void on_warn(void *arg, const char *uid, const char *text)
{
    seen_t *s = arg;
    buf_printf(&s->warn, "%s\t%s\n", uid, text);
}

/* The target: T1 demands usernames of 3 to 10 characters, social is not
 * a database connection, Username-Password-Authentication and legacy-db
 * keep Auth0's defaults, anything else does not exist. */
static const char *resolve(void *arg, const char *name, xf_rules_t *rules,
                           int *not_database)
{
    seen_t *s = arg;
    s->resolved++;
    json_t *c = NULL;
    if (strcmp(name, "T1") == 0)
        c = json_loads("{\"id\":\"con_T1\",\"strategy\":\"auth0\",\"options\":"
                       "{\"requires_username\":true,\"validation\":"
                       "{\"username\":{\"min\":3,\"max\":10}}}}",
                       0, NULL);
    else if (strcmp(name, "social") == 0)
        c = json_loads("{\"id\":\"con_SO\",\"strategy\":\"google-oauth2\"}", 0,
                       NULL);
    else if (strcmp(name, "Username-Password-Authentication") == 0 ||
             strcmp(name, "legacy-db") == 0)
        c = json_pack("{s:s,s:s}", "id", name[0] == 'U' ? "con_UPA" : "con_LEG",
                      "strategy", "auth0");
    else
        c = json_object();
    static char ids[8][16];
    static int next;
    const char *id = planner_connection_facts(c, rules, not_database);
    const char *kept = NULL;
    if (id) {
        snprintf(ids[next % 8], sizeof ids[0], "%s", id);
        kept = ids[next++ % 8];
    }
    json_decref(c);
    return kept;
}

#define U(id, conn, extra)                                             \
    "{\"user_id\":\"auth0|" id "\",\"email\":\"" id "@example.test\"," \
    "\"identities\":[{\"provider\":\"auth0\",\"connection\":\"" conn   \
    "\"}]" extra "}\n"

static const char input[] = U("a1", "A", ",\"username\":\"alice\"") /* -> T1 */
    U("a2", "A", "")                     /* T1 requires a username */
    U("a3", "A", ",\"username\":\"al\"") /* too short for T1 */
    U("b1", "B", "")                     /* -> social: not database */
    U("c1", "C", "")                     /* no target named C */
    U("u1", "Username-Password-Authentication",
      "") U("u2", "Username-Password-Authentication", ",\"username\":\"Bob\"")
        U("u3", "Username-Password-Authentication",
          ",\"username\":\"BOB\"") "{\"user_id\":\"auth0|u4\",\"email\":\"U1@"
                                   "EXAMPLE.test\"}\n" U("l1", "legacy-db",
                                                         ",\"user_metadata\":{"
                                                         "\"a.b\":1}") "{\"user"
                                                                       "_id\":"
                                                                       "\"githu"
                                                                       "b|9\","
                                                                       "\"email"
                                                                       "\":\"g@"
                                                                       "example"
                                                                       ".test\""
                                                                       "}\n"
                                                                       "not "
                                                                       "json\n";

static const char hashes[] =
    "{\"_id\":{\"$oid\":\"a1\"},\"passwordHash\":"
    "\"$2b$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"}\n"
    "{\"_id\":{\"$oid\":\"u2\"},\"passwordHash\":"
    "\"$2b$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"}\n"
    "{\"_id\":{\"$oid\":\"zz\"},\"passwordHash\":"
    "\"$2b$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"}\n";

static const char *const map[] = { "A=T1", "B=social" };

static void config(planner_cfg_t *c, seen_t *s, const char *in, const char *h)
{
    memset(c, 0, sizeof *c);
    c->input = in;
    c->hashes = h;
    c->connection_map = map;
    c->connection_map_n = 2;
    c->max_bytes = 100000;
    c->max_users = 100;
    c->resolve = resolve;
    c->local = on_local;
    c->warn = on_warn;
    c->arg = s;
}

/* Every sealed batch as "connection id: uid[!] uid ..." lines; '!' marks
 * a user flagged no_password. */
static void drain(planner_t *p, buf_t *out)
{
    planned_t *pl;
    while ((pl = planner_next(p))) {
        buf_printf(out, "%lld %s %s:", (long long)pl->number, pl->connection,
                   pl->connection_id);
        for (size_t i = 0; i < pl->batch->nusers; i++)
            buf_printf(out, " %s%s", pl->batch->source_ids[i],
                       pl->batch->flags[i] & PACK_FLAG_NO_PASSWORD ? "!" : "");
        buf_puts(out, "\n");
        planned_destroy(&pl);
    }
}

static void test_targets_rules_flags_and_counts(void **state)
{
    (void)state;
    char *in = write_file("in.ndjson", input);
    char *h = write_file("h.ndjson", hashes);
    seen_t s = { { NULL, 0, 0 }, { NULL, 0, 0 }, 0 };
    planner_cfg_t c;
    config(&c, &s, in, h);
    char *err = NULL;
    planner_t *p = planner_new(&c, &err);
    assert_non_null(p);
    buf_t batches;
    buf_init(&batches);
    drain(p, &batches);
    assert_string_equal(planner_error(p), "");
    assert_string_equal(batches.data,
                        "1 T1 con_T1: auth0|a1\n"
                        "2 Username-Password-Authentication con_UPA: "
                        "auth0|u1! auth0|u2\n");
    char *bad = xasprintf(
        "auth0|a2\tinvalid|the target connection requires a username and "
        "the record has none|username\n"
        "auth0|a3\tinvalid|username is 2 characters; the target connection "
        "allows 3 to 10|username\n"
        "auth0|b1\tinvalid|target connection social is not a database "
        "connection|identities[0].connection\n"
        "auth0|c1\tinvalid|no target connection named C|"
        "identities[0].connection\n"
        "auth0|u3\tduplicate|username|same username as auth0|u2\n"
        "auth0|u4\tduplicate|email|same email as auth0|u1\n"
        "auth0|l1\tinvalid|metadata key contains '.' or '$'|"
        "user_metadata.a.b\n"
        "github|9\tdeferred|primary identity is social or enterprise "
        "(provider github): not importable, recreated at first login|\n"
        "line:12\tinvalid|%s:12: invalid JSON at column 1: invalid token|\n",
        in);
    assert_string_equal(s.local.data, bad);
    free(bad);
    const planner_counts_t *n = planner_counts(p);
    assert_int_equal(n->records, 12);
    assert_int_equal(n->import, 3);
    assert_int_equal(n->with_password, 2);
    assert_int_equal(n->without_password, 1);
    assert_int_equal(n->invalid, 6);
    assert_int_equal(n->duplicate, 2);
    assert_int_equal(n->deferred, 1);
    assert_int_equal(n->batches, 2);
    assert_int_equal(n->warnings, 0);
    assert_int_equal(planner_hashes_rows(p), 3);
    assert_int_equal(planner_hashes_unused(p), 1);
    /* One lookup per target connection, not per user. */
    assert_int_equal(s.resolved, 4);
    planner_destroy(&p);

    /* The survey pass sees the same counts and calls back nothing. */
    seen_t quiet = { { NULL, 0, 0 }, { NULL, 0, 0 }, 0 };
    config(&c, &quiet, in, h);
    planner_counts_t sc;
    size_t rows = 0, unused = 0;
    assert_int_equal(planner_survey(&c, &sc, &rows, &unused, &err), 0);
    assert_int_equal(sc.import, 3);
    assert_int_equal(sc.without_password, 1);
    assert_int_equal(sc.invalid, 6);
    assert_int_equal(rows, 3);
    assert_int_equal(unused, 1);
    assert_null(quiet.local.data);
    buf_free(&batches);
    buf_free(&s.local);
    free(in);
    free(h);
}

/* --target-connection sends everyone to one connection unless the map
 * names theirs; rewriting turns the refused metadata into a warning. */
static void test_one_target_and_rewrite(void **state)
{
    (void)state;
    char *in = write_file("in2.ndjson", input);
    seen_t s = { { NULL, 0, 0 }, { NULL, 0, 0 }, 0 };
    planner_cfg_t c;
    config(&c, &s, in, NULL);
    c.target_connection = "legacy-db";
    c.rewrite_metadata_keys = 1;
    planner_t *p = planner_new(&c, NULL);
    assert_non_null(p);
    buf_t batches;
    buf_init(&batches);
    drain(p, &batches);
    assert_string_equal(batches.data,
                        "1 T1 con_T1: auth0|a1!\n"
                        "2 legacy-db con_LEG: auth0|c1! auth0|u1! auth0|u2! "
                        "auth0|l1!\n");
    assert_string_equal(s.warn.data, "auth0|l1\tmetadata keys rewritten: 1 "
                                     "(first at user_metadata.a.b)\n");
    assert_int_equal(planner_counts(p)->warnings, 1);
    assert_int_equal(planner_counts(p)->rewritten, 1);
    assert_int_equal(planner_counts(p)->without_password, 5);
    assert_int_equal(planner_hashes_rows(p), 0);
    planner_destroy(&p);
    buf_free(&batches);
    buf_free(&s.local);
    buf_free(&s.warn);
    free(in);
}

/* A file that is not a users export stops the planner with its error. */
static void test_wrong_input(void **state)
{
    (void)state;
    char *in = write_file("in3.ndjson", hashes);
    seen_t s = { { NULL, 0, 0 }, { NULL, 0, 0 }, 0 };
    planner_cfg_t c;
    config(&c, &s, in, NULL);
    planner_t *p = planner_new(&c, NULL);
    assert_null(planner_next(p));
    char *want = xasprintf("%s:1: this is a support password-hash file; "
                           "expected a Management API export (user_id, "
                           "email, identities, ...) or a extension/Dashboard "
                           "export (display column names) (Id, Email, "
                           "Connection, ...)",
                           in);
    assert_string_equal(planner_error(p), want);
    planner_destroy(&p);
    planner_counts_t n;
    size_t rows, unused;
    char *err = NULL;
    assert_int_equal(planner_survey(&c, &n, &rows, &unused, &err), -1);
    assert_string_equal(err, want);
    free(err);
    free(want);
    free(in);
}

static void test_connection_facts(void **state)
{
    (void)state;
    xf_rules_t r = { 0, XF_USERNAME_MIN_DEFAULT, XF_USERNAME_MAX_DEFAULT };
    int notdb = 7;
    json_t *c = json_loads("{\"id\":\"con_1\",\"strategy\":\"auth0\","
                           "\"options\":{\"requires_username\":true,"
                           "\"validation\":{\"username\":{\"max\":40}}}}",
                           0, NULL);
    assert_string_equal(planner_connection_facts(c, &r, &notdb), "con_1");
    assert_int_equal(notdb, 0);
    assert_int_equal(r.requires_username, 1);
    assert_int_equal(r.username_min, 1);
    assert_int_equal(r.username_max, 40);
    json_decref(c);
    /* Nonsense bounds keep the defaults. */
    xf_rules_t d = { 0, XF_USERNAME_MIN_DEFAULT, XF_USERNAME_MAX_DEFAULT };
    c = json_loads("{\"id\":\"con_2\",\"options\":{\"validation\":{"
                   "\"username\":{\"min\":-1,\"max\":\"x\"}}}}",
                   0, NULL);
    assert_string_equal(planner_connection_facts(c, &d, &notdb), "con_2");
    assert_int_equal(d.username_min, 1);
    assert_int_equal(d.username_max, 15);
    assert_int_equal(d.requires_username, 0);
    json_decref(c);
    c = json_object();
    assert_null(planner_connection_facts(c, &d, &notdb));
    assert_int_equal(notdb, 0);
    json_decref(c);
    assert_int_equal(planner_map_entry_ok("a=b"), 0);
    assert_int_equal(planner_map_entry_ok("a=b=c"), 0);
    assert_int_equal(planner_map_entry_ok("=b"), -1);
    assert_int_equal(planner_map_entry_ok("a="), -1);
    assert_int_equal(planner_map_entry_ok("ab"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_rules_flags_and_counts),
        cmocka_unit_test(test_one_target_and_rewrite),
        cmocka_unit_test(test_wrong_input),
        cmocka_unit_test(test_connection_facts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
