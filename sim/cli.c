/* cli: parses the a0sim command line into sim_cfg_t and applies the
 * defaults. Options for behaviour that Auth0 does not document fully carry
 * the documented guess as their default. */
#include "cli.h"

#include "log.h"
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
#define DEFAULT_SCOPE \
    "read:users create:users update:users delete:users read:connections"

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
    "  --client-id ID           the client allowed to get tokens\n"
    "  --client-secret SECRET   its secret (or A0SIM_CLIENT_SECRET[_FILE])\n"
    "  --connection NAME        database connection, repeatable\n"
    "                           (Username-Password-Authentication)\n"
    "  --generate N --seed S    generate N users, reproducibly for S\n"
    "  --load FILE              seed users from an export (NDJSON[.gz])\n"
    "  --import-rate U          users/s each import job processes,\n"
    "                           0 = instantly (50000)\n"
    "  --rate R --burst B       Management API token bucket, 0 = off (0)\n"
    "  --plan NAME              rate and burst of a plan: free, essentials,\n"
    "                           enterprise, enterprise-nonprod\n"
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
    "  --log-level LEVEL        debug|info|warn|error (info)\n";

/* Management API limits per plan (Auth0's rate-limit configuration
 * pages): sustained requests per second and burst. Essentials has no
 * global row; its "all other endpoints" 150/minute stands in. */
typedef struct {
    const char *name;
    double rate;
    double burst;
} plan_t;

static const plan_t plans[] = {
    { "free", 2, 2 },         { "essentials", 2.5, 10 },
    { "enterprise", 16, 50 }, { "enterprise-nonprod", 2, 10 },
    { NULL, 0, 0 },
};

static const plan_t *chosen_plan;

static int set_plan(const char *name)
{
    for (const plan_t *p = plans; p->name; p++) {
        if (strcmp(p->name, name) == 0) {
            chosen_plan = p;
            return 0;
        }
    }
    fprintf(stderr, "a0sim: --plan: free, essentials, enterprise or "
                    "enterprise-nonprod\n");
    return -1;
}

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
    default:
        return 1;
    }
}

static int apply_other(sim_cfg_t *cfg, int opt, const char *v)
{
    switch (opt) {
    case OPT_CONNECTION:
        if (cfg->nconnections == SIM_MAX_CONNECTIONS) {
            fprintf(stderr, "a0sim: at most %d connections\n",
                    SIM_MAX_CONNECTIONS);
            return -1;
        }
        cfg->connections[cfg->nconnections++] = xstrdup(v);
        return 0;
    case OPT_FAILED_ERRORS:
        if (strcmp(v, "204") && strcmp(v, "object")) {
            fprintf(stderr, "a0sim: --failed-job-errors: 204 or object\n");
            return -1;
        }
        cfg->failed_job_errors_object = strcmp(v, "object") == 0;
        return 0;
    case OPT_PLAN:
        return set_plan(v);
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

static int finish(sim_cfg_t *cfg)
{
    if (!cfg->client_secret)
        cfg->client_secret = util_getenv_secret("A0SIM_CLIENT_SECRET");
    if (!cfg->client_id || !cfg->client_secret) {
        fprintf(stderr,
                "a0sim: --client-id and --client-secret (or "
                "A0SIM_CLIENT_SECRET) are required\n%s",
                usage_text);
        return -1;
    }
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
    cfg->audience = xasprintf("https://%s/api/v2/", cfg->domain);
    if (!cfg->scope)
        cfg->scope = xstrdup(DEFAULT_SCOPE);
    if (!cfg->format_code)
        cfg->format_code = xstrdup("FORMAT");
    if (!cfg->additional_code)
        cfg->additional_code = xstrdup("OBJECT_ADDITIONAL_PROPERTIES");
    if (cfg->nconnections == 0)
        cfg->connections[cfg->nconnections++] = xstrdup(DEFAULT_CONNECTION);
    if (chosen_plan && cfg->rate <= 0) {
        cfg->rate = chosen_plan->rate;
        if (cfg->burst < 1)
            cfg->burst = chosen_plan->burst;
    }
    if (cfg->rate > 0 && cfg->burst < 1)
        cfg->burst = ceil(cfg->rate);
    return 0;
}

int cli_parse(int argc, char **argv, sim_cfg_t *cfg)
{
    defaults(cfg);
    chosen_plan = NULL;
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
        if (rc < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "a0sim: unexpected argument '%s'\n%s", argv[optind],
                usage_text);
        return -1;
    }
    return finish(cfg);
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
    for (int i = 0; i < cfg->nconnections; i++)
        free(cfg->connections[i]);
    memset(cfg, 0, sizeof *cfg);
}
