/* cli: parses the a0sim command line into sim_cfg_t and applies the
 * defaults. Options for behaviour that Auth0 does not document fully carry
 * the documented guess as their default. */
#include "cli.h"

#include "limits.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONNECTION "Username-Password-Authentication"
#define DEFAULT_SCOPE                                                     \
    "read:users create:users update:users delete:users read:connections " \
    "read:authentication_methods"
#define CONFIG_MAX_BYTES (1024 * 1024)

enum {
    OPT_LISTEN = 256,
    OPT_PORT,
    OPT_PORT_FILE,
    OPT_DOMAIN,
    OPT_CLIENT_ID,
    OPT_CLIENT_SECRET,
    OPT_CONNECTION,
    OPT_GENERATE,
    OPT_SEED,
    OPT_LOAD,
    OPT_IMPORT_RATE,
    OPT_RATE,
    OPT_BURST,
    OPT_JOB_RETENTION,
    OPT_LINK_TTL,
    OPT_TOKEN_TTL,
    OPT_JOB_TIMEOUT,
    OPT_SCOPE,
    OPT_MAX_IMPORTS,
    OPT_FORMAT_CODE,
    OPT_ADDITIONAL_CODE,
    OPT_FAILED_ERRORS,
    OPT_LOG_LEVEL,
    OPT_PLAN,
    OPT_CONFIG,
    OPT_REQUIRES_USERNAME,
    OPT_USERNAME_LENGTH,
    OPT_SNAPSHOT,
    OPT_SNAPSHOT_INTERVAL,
    OPT_FAULT_5XX_SHARE,
    OPT_FAULT_5XX_STATUS,
    OPT_FAULT_429_SHARE,
    OPT_FAULT_DROP_SHARE,
    OPT_FAULT_POST_DROP_SHARE,
    OPT_FAULT_SLOW_MS,
    OPT_FAULT_SLOW_SHARE,
    OPT_FAULT_JOB_FAIL_SHARE,
    OPT_FAULT_JOB_STUCK_SHARE,
    OPT_FAULT_SEED,
    OPT_TENANT,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option options[] = {
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "port", required_argument, NULL, OPT_PORT },
    { "port-file", required_argument, NULL, OPT_PORT_FILE },
    { "domain", required_argument, NULL, OPT_DOMAIN },
    { "client-id", required_argument, NULL, OPT_CLIENT_ID },
    { "client-secret", required_argument, NULL, OPT_CLIENT_SECRET },
    { "connection", required_argument, NULL, OPT_CONNECTION },
    { "generate", required_argument, NULL, OPT_GENERATE },
    { "seed", required_argument, NULL, OPT_SEED },
    { "load", required_argument, NULL, OPT_LOAD },
    { "import-rate", required_argument, NULL, OPT_IMPORT_RATE },
    { "rate", required_argument, NULL, OPT_RATE },
    { "burst", required_argument, NULL, OPT_BURST },
    { "job-retention-s", required_argument, NULL, OPT_JOB_RETENTION },
    { "export-link-ttl-s", required_argument, NULL, OPT_LINK_TTL },
    { "token-ttl-s", required_argument, NULL, OPT_TOKEN_TTL },
    { "job-timeout-s", required_argument, NULL, OPT_JOB_TIMEOUT },
    { "scope", required_argument, NULL, OPT_SCOPE },
    { "max-active-imports", required_argument, NULL, OPT_MAX_IMPORTS },
    { "format-error-code", required_argument, NULL, OPT_FORMAT_CODE },
    { "additional-property-code", required_argument, NULL,
      OPT_ADDITIONAL_CODE },
    { "failed-job-errors", required_argument, NULL, OPT_FAILED_ERRORS },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "plan", required_argument, NULL, OPT_PLAN },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "requires-username", no_argument, NULL, OPT_REQUIRES_USERNAME },
    { "username-length", required_argument, NULL, OPT_USERNAME_LENGTH },
    { "snapshot", required_argument, NULL, OPT_SNAPSHOT },
    { "snapshot-interval-s", required_argument, NULL, OPT_SNAPSHOT_INTERVAL },
    { "fault-5xx-share", required_argument, NULL, OPT_FAULT_5XX_SHARE },
    { "fault-5xx-status", required_argument, NULL, OPT_FAULT_5XX_STATUS },
    { "fault-429-share", required_argument, NULL, OPT_FAULT_429_SHARE },
    { "fault-drop-share", required_argument, NULL, OPT_FAULT_DROP_SHARE },
    { "fault-post-drop-share", required_argument, NULL,
      OPT_FAULT_POST_DROP_SHARE },
    { "fault-slow-ms", required_argument, NULL, OPT_FAULT_SLOW_MS },
    { "fault-slow-share", required_argument, NULL, OPT_FAULT_SLOW_SHARE },
    { "fault-job-fail-share", required_argument, NULL,
      OPT_FAULT_JOB_FAIL_SHARE },
    { "fault-job-stuck-share", required_argument, NULL,
      OPT_FAULT_JOB_STUCK_SHARE },
    { "fault-seed", required_argument, NULL, OPT_FAULT_SEED },
    { "tenant", required_argument, NULL, OPT_TENANT },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 },
};

static const char usage_text[] =
    "usage: a0sim --client-id ID --client-secret SECRET [options]\n"
    "  --listen ADDR            bind address (127.0.0.1)\n"
    "  --port N                 port, 0 = any free port (0)\n"
    "  --port-file PATH         write the bound port there\n"
    "  --domain DOMAIN          tenant domain (sim.local)\n"
    "  --tenant DOMAIN          one more tenant with the same settings,\n"
    "                           chosen by the Host header; repeatable\n"
    "  --client-id ID           the client allowed to get tokens\n"
    "  --client-secret SECRET   its secret (or A0SIM_CLIENT_SECRET[_FILE])\n"
    "  --connection NAME[:STRATEGY]  connection, repeatable; STRATEGY auth0\n"
    "                           (database, the default), google-oauth2,\n"
    "                           facebook, samlp, email, sms ...\n"
    "                           (Username-Password-Authentication)\n"
    "  --requires-username      database connections require a username\n"
    "  --username-length MIN:MAX  username length limits (1:15)\n"
    "  --config FILE            JSON: {\"clients\":[{client_id, "
    "client_secret,\n"
    "                           scope}], \"connections\":[{name, strategy,\n"
    "                           enabled_clients, requires_username,\n"
    "                           username:{min,max}}]}\n"
    "  --generate N --seed S    generate N users, reproducibly for S\n"
    "  --load FILE              seed users from an export (NDJSON[.gz])\n"
    "  --import-rate U          users/s each import job processes,\n"
    "                           0 = instantly (50000)\n"
    "  --rate R --burst B       global Management API bucket, 0 = off (0)\n"
    "  --plan NAME              rate limits of a plan: free, essentials,\n"
    "                           enterprise, enterprise-nonprod, unlimited\n"
    "  --job-retention-s S      job lifetime (86400)\n"
    "  --export-link-ttl-s S    export link lifetime (60)\n"
    "  --token-ttl-s S          access token lifetime (86400)\n"
    "  --job-timeout-s S        active jobs fail after this (7200)\n"
    "  --scope SCOPES           scopes granted to tokens\n"
    "  --max-active-imports N   concurrent import jobs (2)\n"
    "  --format-error-code C    code of a failed format check (FORMAT)\n"
    "  --additional-property-code C  code of an unknown property\n"
    "                           (OBJECT_ADDITIONAL_PROPERTIES)\n"
    "  --failed-job-errors 204|object  /errors of a failed job (204)\n"
    "  --snapshot FILE          load state from FILE, save it there on\n"
    "                           SIGTERM and every --snapshot-interval-s (30)\n"
    "  --fault-5xx-share S      share of API requests answered 5xx\n"
    "  --fault-5xx-status N     the status of those (503)\n"
    "  --fault-429-share S      share answered with a rate-limit 429\n"
    "  --fault-drop-share S     share whose connection is closed unanswered\n"
    "  --fault-post-drop-share S  share of POSTs handled, then dropped\n"
    "  --fault-slow-ms N        delay requests by N ms (with\n"
    "                           --fault-slow-share S, default 1)\n"
    "  --fault-job-fail-share S   share of new jobs that fail\n"
    "  --fault-job-stuck-share S  share of new jobs that stay pending\n"
    "  --fault-seed N           seed of the fault draws\n"
    "  --log-level LEVEL        debug|info|warn|error (info)\n";

/* Fault flags, collected until finish() turns them into rules. */
typedef struct {
    double share_5xx, share_429, share_drop, share_post_drop;
    double slow_share, share_job_fail, share_job_stuck;
    int64_t status_5xx, slow_ms, seed;
} fault_flags_t;

static fault_flags_t ff;
static char *config_path;

static void defaults(sim_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->import_rate = 50000;
    cfg->job_retention_s = 86400;
    cfg->export_link_ttl_s = 60;
    cfg->token_ttl_s = 86400;
    cfg->job_timeout_s = 7200;
    cfg->max_active_imports = 2;
    cfg->log_level = A0_LOG_INFO;
    cfg->connections = json_array();
    cfg->tenants = json_array();
    cfg->username_min = 1;
    cfg->username_max = 15;
    cfg->snapshot_interval_s = 30;
    memset(&ff, 0, sizeof ff);
    ff.status_5xx = 503;
    ff.slow_share = 1;
    config_path = NULL;
}

static int num(const char *opt, const char *s, double min, double max,
               double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "a0sim: --%s: invalid value '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int whole(const char *opt, const char *s, double min, double max,
                 int64_t *out)
{
    double v;
    if (num(opt, s, min, max, &v) < 0)
        return -1;
    if (floor(v) < v) {
        fprintf(stderr, "a0sim: --%s: '%s' is not a whole number\n", opt, s);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static int level_of(const char *s)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int apply_string(sim_cfg_t *cfg, int opt, const char *v)
{
    switch (opt) {
    case OPT_LISTEN:
        set_str(&cfg->listen, v);
        return 0;
    case OPT_PORT_FILE:
        set_str(&cfg->port_file, v);
        return 0;
    case OPT_DOMAIN:
        set_str(&cfg->domain, v);
        return 0;
    case OPT_CLIENT_ID:
        set_str(&cfg->client_id, v);
        return 0;
    case OPT_CLIENT_SECRET:
        set_str(&cfg->client_secret, v);
        return 0;
    case OPT_LOAD:
        set_str(&cfg->load_path, v);
        return 0;
    case OPT_SCOPE:
        set_str(&cfg->scope, v);
        return 0;
    case OPT_FORMAT_CODE:
        set_str(&cfg->format_code, v);
        return 0;
    case OPT_ADDITIONAL_CODE:
        set_str(&cfg->additional_code, v);
        return 0;
    case OPT_SNAPSHOT:
        set_str(&cfg->snapshot_path, v);
        return 0;
    case OPT_CONFIG:
        set_str(&config_path, v);
        return 0;
    default:
        return 1;
    }
}

static int apply_fault_flag(int opt, const char *v)
{
    switch (opt) {
    case OPT_FAULT_5XX_SHARE:
        return num("fault-5xx-share", v, 0, 1, &ff.share_5xx);
    case OPT_FAULT_5XX_STATUS:
        return whole("fault-5xx-status", v, 500, 599, &ff.status_5xx);
    case OPT_FAULT_429_SHARE:
        return num("fault-429-share", v, 0, 1, &ff.share_429);
    case OPT_FAULT_DROP_SHARE:
        return num("fault-drop-share", v, 0, 1, &ff.share_drop);
    case OPT_FAULT_POST_DROP_SHARE:
        return num("fault-post-drop-share", v, 0, 1, &ff.share_post_drop);
    case OPT_FAULT_SLOW_MS:
        return whole("fault-slow-ms", v, 0, 600000, &ff.slow_ms);
    case OPT_FAULT_SLOW_SHARE:
        return num("fault-slow-share", v, 0, 1, &ff.slow_share);
    case OPT_FAULT_JOB_FAIL_SHARE:
        return num("fault-job-fail-share", v, 0, 1, &ff.share_job_fail);
    case OPT_FAULT_JOB_STUCK_SHARE:
        return num("fault-job-stuck-share", v, 0, 1, &ff.share_job_stuck);
    case OPT_FAULT_SEED:
        return whole("fault-seed", v, 1, 9007199254740992.0, &ff.seed);
    default:
        return 1;
    }
}

static int apply_number(sim_cfg_t *cfg, int opt, const char *v)
{
    int64_t n = 0;
    switch (opt) {
    case OPT_PORT:
        if (whole("port", v, 0, 65535, &n) < 0)
            return -1;
        cfg->port = (int)n;
        return 0;
    case OPT_GENERATE:
        if (whole("generate", v, 0, 100000000, &n) < 0)
            return -1;
        cfg->generate = (long)n;
        return 0;
    case OPT_SEED:
        if (whole("seed", v, 0, 9007199254740992.0, &n) < 0)
            return -1;
        cfg->seed = (uint64_t)n;
        return 0;
    case OPT_IMPORT_RATE:
        return num("import-rate", v, 0, 1e9, &cfg->import_rate);
    case OPT_RATE:
        return num("rate", v, 0, 1e9, &cfg->rate);
    case OPT_BURST:
        return num("burst", v, 0, 1e9, &cfg->burst);
    case OPT_JOB_RETENTION:
        return whole("job-retention-s", v, 1, 1e9, &cfg->job_retention_s);
    case OPT_LINK_TTL:
        return whole("export-link-ttl-s", v, 0, 1e9, &cfg->export_link_ttl_s);
    case OPT_TOKEN_TTL:
        return whole("token-ttl-s", v, 1, 1e9, &cfg->token_ttl_s);
    case OPT_JOB_TIMEOUT:
        return whole("job-timeout-s", v, 1, 1e9, &cfg->job_timeout_s);
    case OPT_MAX_IMPORTS:
        if (whole("max-active-imports", v, 1, 1000, &n) < 0)
            return -1;
        cfg->max_active_imports = (int)n;
        return 0;
    case OPT_SNAPSHOT_INTERVAL:
        return whole("snapshot-interval-s", v, 1, 1e6,
                     &cfg->snapshot_interval_s);
    default:
        return apply_fault_flag(opt, v);
    }
}

/* NAME or NAME:STRATEGY; a strategy the simulator does not know is a
 * usage error rather than a silent social connection. */
static int add_connection_flag(sim_cfg_t *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    char *name = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
    const char *strategy = colon ? colon + 1 : "auth0";
    int rc = 0;
    if (!*name || store_strategy_kind(strategy) < 0) {
        fprintf(stderr, "a0sim: --connection %s: unknown strategy\n", v);
        rc = -1;
    } else {
        json_array_append_new(cfg->connections,
                              json_pack("{s:s, s:s, s:b}", "name", name,
                                        "strategy", strategy, "flag", 1));
    }
    free(name);
    return rc;
}

static int add_tenant(sim_cfg_t *cfg, const char *v)
{
    if (!*v || strlen(v) > 200 ||
        strspn(v, "abcdefghijklmnopqrstuvwxyz"
                  "0123456789.-") != strlen(v)) {
        fprintf(stderr, "a0sim: --tenant %s: a lower-case domain name\n", v);
        return -1;
    }
    if (json_array_size(cfg->tenants) + 1 >= SIM_MAX_TENANTS) {
        fprintf(stderr, "a0sim: at most %d tenants\n", SIM_MAX_TENANTS);
        return -1;
    }
    json_array_append_new(cfg->tenants, json_string(v));
    return 0;
}

static int username_length(sim_cfg_t *cfg, const char *v)
{
    int lo, hi, used = 0;
    if (sscanf(v, "%d:%d%n", &lo, &hi, &used) != 2 || v[used] || lo < 1 ||
        hi < lo || hi > 128) {
        fprintf(stderr, "a0sim: --username-length: MIN:MAX with 1 <= MIN "
                        "<= MAX <= 128\n");
        return -1;
    }
    cfg->username_min = lo;
    cfg->username_max = hi;
    return 0;
}

static int apply_other(sim_cfg_t *cfg, int opt, const char *v)
{
    switch (opt) {
    case OPT_CONNECTION:
        return add_connection_flag(cfg, v);
    case OPT_TENANT:
        return add_tenant(cfg, v);
    case OPT_REQUIRES_USERNAME:
        cfg->requires_username = 1;
        return 0;
    case OPT_USERNAME_LENGTH:
        return username_length(cfg, v);
    case OPT_FAILED_ERRORS:
        if (strcmp(v, "204") && strcmp(v, "object")) {
            fprintf(stderr, "a0sim: --failed-job-errors: 204 or object\n");
            return -1;
        }
        cfg->failed_job_errors_object = strcmp(v, "object") == 0;
        return 0;
    case OPT_PLAN:
        if (!limits_plan_known(v)) {
            fprintf(stderr, "a0sim: --plan: free, essentials, enterprise, "
                            "enterprise-nonprod or unlimited\n");
            return -1;
        }
        set_str(&cfg->plan, v);
        return 0;
    case OPT_LOG_LEVEL:
        cfg->log_level = level_of(v);
        if (cfg->log_level < 0) {
            fprintf(stderr, "a0sim: --log-level: debug|info|warn|error\n");
            return -1;
        }
        return 0;
    default:
        fprintf(stderr, "%s", usage_text);
        return -1;
    }
}

static int add_client(sim_cfg_t *cfg, const char *id, const char *secret,
                      const char *scope)
{
    for (int i = 0; i < cfg->nclients; i++) {
        if (strcmp(cfg->clients[i].id, id) == 0) {
            fprintf(stderr, "a0sim: client %s defined twice\n", id);
            return -1;
        }
    }
    if (cfg->nclients == SIM_MAX_CLIENTS) {
        fprintf(stderr, "a0sim: at most %d clients\n", SIM_MAX_CLIENTS);
        return -1;
    }
    sim_client_t *c = &cfg->clients[cfg->nclients++];
    c->id = xstrdup(id);
    c->secret = xstrdup(secret);
    c->scope = scope ? xstrdup(scope) : NULL;
    return 0;
}

static int config_clients(sim_cfg_t *cfg, const json_t *clients)
{
    size_t i;
    json_t *c;
    json_array_foreach(clients, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "client_id"));
        const char *secret =
            json_string_value(json_object_get(c, "client_secret"));
        json_t *scope = json_object_get(c, "scope");
        if (!id || !secret || (scope && !json_is_string(scope))) {
            fprintf(stderr,
                    "a0sim: --config: clients[%zu] needs client_id, "
                    "client_secret and a scope string\n",
                    i);
            return -1;
        }
        if (add_client(cfg, id, secret, json_string_value(scope)) < 0)
            return -1;
    }
    return 0;
}

static int config_connections(sim_cfg_t *cfg, const json_t *conns)
{
    size_t i;
    json_t *c;
    json_array_foreach(conns, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *strategy =
            json_string_value(json_object_get(c, "strategy"));
        if (!name || !*name || !strategy || store_strategy_kind(strategy) < 0) {
            fprintf(stderr,
                    "a0sim: --config: connections[%zu] needs a name "
                    "and a known strategy\n",
                    i);
            return -1;
        }
        json_array_append(cfg->connections, c);
    }
    return 0;
}

/* Reads the --config file (at most CONFIG_MAX_BYTES). */
static int load_config(sim_cfg_t *cfg, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "a0sim: --config %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *text = xmalloc(CONFIG_MAX_BYTES + 1);
    size_t n = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
    fclose(f);
    json_error_t err;
    json_t *j = n <= CONFIG_MAX_BYTES ? json_loadb(text, n, 0, &err) : NULL;
    free(text);
    json_t *clients = json_object_get(j, "clients");
    json_t *conns = json_object_get(j, "connections");
    int rc = -1;
    if (!json_is_object(j) || (clients && !json_is_array(clients)) ||
        (conns && !json_is_array(conns)))
        fprintf(stderr,
                "a0sim: --config %s: not a JSON object with "
                "clients and connections arrays (max 1 MB)\n",
                path);
    else if (config_clients(cfg, clients) == 0 &&
             config_connections(cfg, conns) == 0)
        rc = 0;
    json_decref(j);
    return rc;
}

static void fault_rule(json_t *rules, const char *match, const char *action,
                       double share)
{
    if (share <= 0)
        return;
    json_t *r = json_pack("{s:s, s:s, s:I, s:f}", "match", match, "action",
                          action, "count", (json_int_t)-1, "share", share);
    if (strcmp(action, "status") == 0)
        json_object_set_new(r, "status", json_integer(ff.status_5xx));
    if (strcmp(action, "delay") == 0)
        json_object_set_new(r, "delay_ms", json_integer(ff.slow_ms));
    json_array_append_new(rules, r);
}

/* The --fault flags as rules, in the order a request meets them. */
static void fault_rules(sim_cfg_t *cfg)
{
    json_t *rules = json_array();
    if (ff.slow_ms > 0)
        fault_rule(rules, "*", "delay", ff.slow_share);
    fault_rule(rules, "*", "drop", ff.share_drop);
    fault_rule(rules, "*", "status", ff.share_5xx);
    fault_rule(rules, "*", "rate_limit", ff.share_429);
    fault_rule(rules, "POST *", "drop_after", ff.share_post_drop);
    fault_rule(rules, "POST *", "job_fail", ff.share_job_fail);
    fault_rule(rules, "POST *", "job_stuck", ff.share_job_stuck);
    if (json_array_size(rules) && ff.seed)
        json_object_set_new(json_array_get(rules, 0), "seed",
                            json_integer(ff.seed));
    cfg->fault_rules = rules;
}

static int finish_clients(sim_cfg_t *cfg)
{
    if (!cfg->client_secret && cfg->client_id)
        cfg->client_secret = util_getenv_secret("A0SIM_CLIENT_SECRET");
    if (cfg->client_id && cfg->client_secret) {
        if (!cfg->scope)
            cfg->scope = xstrdup(DEFAULT_SCOPE);
        /* The command-line client goes first: it is the default. */
        sim_client_t tmp[SIM_MAX_CLIENTS];
        int n = cfg->nclients;
        memcpy(tmp, cfg->clients, sizeof tmp);
        cfg->nclients = 0;
        if (add_client(cfg, cfg->client_id, cfg->client_secret, cfg->scope))
            return -1;
        for (int i = 0; i < n && cfg->nclients < SIM_MAX_CLIENTS; i++)
            cfg->clients[cfg->nclients++] = tmp[i];
        return 0;
    }
    if (cfg->nclients == 0 || cfg->client_id) {
        fprintf(stderr,
                "a0sim: --client-id and --client-secret (or "
                "A0SIM_CLIENT_SECRET, or clients in --config) are "
                "required\n%s",
                usage_text);
        return -1;
    }
    cfg->client_id = xstrdup(cfg->clients[0].id);
    cfg->client_secret = xstrdup(cfg->clients[0].secret);
    cfg->scope = xstrdup(cfg->clients[0].scope ? cfg->clients[0].scope : "");
    return 0;
}

/* Connections from flags get the username settings of the flags. */
static void finish_connections(sim_cfg_t *cfg)
{
    if (json_array_size(cfg->connections) == 0)
        json_array_append_new(cfg->connections,
                              json_pack("{s:s, s:s, s:b}", "name",
                                        DEFAULT_CONNECTION, "strategy", "auth0",
                                        "flag", 1));
    size_t i;
    json_t *c;
    json_array_foreach(cfg->connections, i, c)
    {
        if (!json_is_true(json_object_get(c, "flag")))
            continue;
        json_object_del(c, "flag");
        json_object_set_new(c, "requires_username",
                            json_boolean(cfg->requires_username));
        json_object_set_new(c, "username",
                            json_pack("{s:i, s:i}", "min", cfg->username_min,
                                      "max", cfg->username_max));
    }
}

static int finish(sim_cfg_t *cfg)
{
    if (config_path && load_config(cfg, config_path) < 0)
        return -1;
    if (finish_clients(cfg) < 0)
        return -1;
    if (!cfg->listen)
        cfg->listen = xstrdup("127.0.0.1");
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, cfg->listen, addr) != 1 &&
        inet_pton(AF_INET6, cfg->listen, addr) != 1) {
        fprintf(stderr, "a0sim: --listen: '%s' is not an IP address\n",
                cfg->listen);
        return -1;
    }
    if (!cfg->domain)
        cfg->domain = xstrdup("sim.local");
    for (size_t i = 0; i < json_array_size(cfg->tenants); i++) {
        if (strcmp(json_string_value(json_array_get(cfg->tenants, i)),
                   cfg->domain) == 0) {
            fprintf(stderr, "a0sim: --tenant repeats --domain\n");
            return -1;
        }
    }
    cfg->audience = xasprintf("https://%s/api/v2/", cfg->domain);
    if (!cfg->format_code)
        cfg->format_code = xstrdup("FORMAT");
    if (!cfg->additional_code)
        cfg->additional_code = xstrdup("OBJECT_ADDITIONAL_PROPERTIES");
    finish_connections(cfg);
    if (cfg->rate > 0 && cfg->burst < 1)
        cfg->burst = ceil(cfg->rate);
    fault_rules(cfg);
    return 0;
}

int cli_parse(int argc, char **argv, sim_cfg_t *cfg)
{
    defaults(cfg);
    int opt;
    opterr = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_HELP) {
            printf("%s", usage_text);
            return 1;
        }
        if (opt == OPT_VERSION) {
            printf("a0sim %s\n", A0_VERSION);
            return 1;
        }
        int rc = apply_string(cfg, opt, optarg);
        if (rc == 1)
            rc = apply_number(cfg, opt, optarg);
        if (rc == 1)
            rc = apply_other(cfg, opt, optarg);
        if (rc < 0) {
            free(config_path);
            config_path = NULL;
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "a0sim: unexpected argument '%s'\n%s", argv[optind],
                usage_text);
        return -1;
    }
    int rc = finish(cfg);
    free(config_path);
    config_path = NULL;
    return rc;
}

void cli_free(sim_cfg_t *cfg)
{
    free(cfg->listen);
    free(cfg->port_file);
    free(cfg->domain);
    free(cfg->audience);
    free(cfg->client_id);
    free(cfg->client_secret);
    free(cfg->scope);
    free(cfg->load_path);
    free(cfg->format_code);
    free(cfg->additional_code);
    for (int i = 0; i < cfg->nclients; i++) {
        free(cfg->clients[i].id);
        free(cfg->clients[i].secret);
        free(cfg->clients[i].scope);
    }
    json_decref(cfg->connections);
    json_decref(cfg->tenants);
    json_decref(cfg->fault_rules);
    free(cfg->plan);
    free(cfg->snapshot_path);
    memset(cfg, 0, sizeof *cfg);
}
