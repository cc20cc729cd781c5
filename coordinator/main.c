/* a0migrate: the operator's command. Parses the command line and the
 * environment into a run configuration and hands over to run.c. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "log.h"
#include "planner.h"
#include "run.h"
#include "util.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: a0migrate run --input FILE [options]\n"
        "       a0migrate status --run-id ID [--redis URL] [--json]\n"
        "       a0migrate export --out FILE [--connection NAME]\n"
        "       a0migrate version\n"
        "\n"
        "run options:\n"
        "  --input FILE            source export: NDJSON, JSON array or CSV,\n"
        "                          plain or gzip\n"
        "  --hashes FILE           password-hash file from Auth0 support\n"
        "  --run-id ID             name of the run (default: from the input)\n"
        "  --redis URL             redis://HOST:PORT[/DB] (A0_REDIS_URL)\n"
        "  --bind ENDPOINT         ROUTER endpoint (default "
        "tcp://127.0.0.1:*)\n"
        "  --local-workers N       start N workers on this host\n"
        "  --target-connection N   import everyone into connection N\n"
        "  --connection-map S=T    import users of source connection S into\n"
        "                          target connection T (repeatable; wins over\n"
        "                          --target-connection; default: same name)\n"
        "  --connection-map-file F one S=T per line (# comments)\n"
        "  --rewrite-metadata-keys rewrite metadata keys holding '.' or '$'\n"
        "                          ('_' instead) and reserved app_metadata\n"
        "                          keys (prefix src_), each one logged,\n"
        "                          instead of refusing the user\n"
        "  --expect-hashes         fail (exit 2) before anything is sent when\n"
        "                          a database user has no password hash\n"
        "  --batch-users N         users per import job (default 1000)\n"
        "  --max-request-bytes N   request bound (default 512000, Auth0's;\n"
        "                          larger batches are split on 413)\n"
        "  --plan P                Auth0 plan of the target: free,\n"
        "                          essentials, enterprise (default) or\n"
        "                          unlimited; the farm takes --plan-share of\n"
        "                          its published limits\n"
        "  --plan-share F          0 < F <= 1 (default 0.5)\n"
        "  --rate R --burst B      the farm's Management API requests/s and\n"
        "                          burst (default: from the plan)\n"
        "  --group-rate G=R[/B]    own bucket for group G: jobs_write,\n"
        "                          jobs_read, users_read, users_write, token\n"
        "                          (repeatable; R 0 removes it)\n"
        "  --brake-below PCT       slow down when Auth0's\n"
        "                          x-ratelimit-remaining falls under PCT%% of\n"
        "                          its limit (0, off)\n"
        "  --job-slots N           concurrent import jobs (default 2)\n"
        "  --max-attempts N        tries before a batch is POISON (5)\n"
        "  --lease-ms N            batch lease (default 120000)\n"
        "  --heartbeat-ms N        heartbeat interval (default 1000)\n"
        "  --liveness N            missed heartbeats before death (5)\n"
        "  --reconcile-wait-ms N   wait before re-submitting an ambiguous\n"
        "                          batch (default 600000)\n"
        "  --lock-wait-ms N        how long to wait for the lease of a\n"
        "                          coordinator that died (default 17000)\n"
        "  --dry-run               plan and classify only, no Redis; prints\n"
        "                          one line per record and a summary\n"
        "\n"
        "source tenant (export): A0_SOURCE_DOMAIN, A0_SOURCE_CLIENT_ID,\n"
        "A0_SOURCE_CLIENT_SECRET (or A0_SOURCE_CLIENT_SECRET_FILE),\n"
        "A0_SOURCE_BASE_URL.\n"
        "target tenant: A0_TARGET_DOMAIN, A0_TARGET_CLIENT_ID,\n"
        "A0_TARGET_CLIENT_SECRET (or A0_TARGET_CLIENT_SECRET_FILE), and\n"
        "A0_TARGET_BASE_URL (with a base URL, the domain must still be the\n"
        "tenant's: for a0sim, its --domain). Redis: --redis or A0_REDIS_URL\n"
        "(default redis://127.0.0.1:6379).\n"
        "exit: 0 all done, 1 some failed, 2 usage or configuration, 4 cannot\n"
        "run (Redis, credentials, target)\n");
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* The worker binary next to this one. */
static char *sibling_worker(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return xstrdup("a0migrate-worker");
    self[n] = '\0';
    char *dir = dirname(self);
    char *p = xasprintf("%s/../worker/a0migrate-worker", dir);
    if (access(p, X_OK) != 0) {
        free(p);
        p = xasprintf("%s/a0migrate-worker", dir);
    }
    return p;
}

enum {
    OPT_INPUT = 256,
    OPT_HASHES,
    OPT_RUN_ID,
    OPT_REDIS,
    OPT_BIND,
    OPT_LOCAL,
    OPT_TCONN,
    OPT_BUSERS,
    OPT_MAXREQ,
    OPT_RATE,
    OPT_BURST,
    OPT_PLAN,
    OPT_SHARE,
    OPT_GROUP_RATE,
    OPT_BRAKE,
    OPT_SLOTS,
    OPT_ATTEMPTS,
    OPT_LEASE,
    OPT_HB,
    OPT_LIVE,
    OPT_RECWAIT,
    OPT_LOCKWAIT,
    OPT_DRY,
    OPT_JSON,
    OPT_OUT,
    OPT_CONN,
    OPT_CMAP,
    OPT_CMAP_FILE,
    OPT_REWRITE,
    OPT_EXPECT_HASHES,
};

static const struct option run_opts[] = {
    { "input", required_argument, NULL, OPT_INPUT },
    { "hashes", required_argument, NULL, OPT_HASHES },
    { "run-id", required_argument, NULL, OPT_RUN_ID },
    { "redis", required_argument, NULL, OPT_REDIS },
    { "bind", required_argument, NULL, OPT_BIND },
    { "local-workers", required_argument, NULL, OPT_LOCAL },
    { "target-connection", required_argument, NULL, OPT_TCONN },
    { "batch-users", required_argument, NULL, OPT_BUSERS },
    { "max-request-bytes", required_argument, NULL, OPT_MAXREQ },
    { "rate", required_argument, NULL, OPT_RATE },
    { "burst", required_argument, NULL, OPT_BURST },
    { "plan", required_argument, NULL, OPT_PLAN },
    { "plan-share", required_argument, NULL, OPT_SHARE },
    { "group-rate", required_argument, NULL, OPT_GROUP_RATE },
    { "brake-below", required_argument, NULL, OPT_BRAKE },
    { "job-slots", required_argument, NULL, OPT_SLOTS },
    { "max-attempts", required_argument, NULL, OPT_ATTEMPTS },
    { "lease-ms", required_argument, NULL, OPT_LEASE },
    { "heartbeat-ms", required_argument, NULL, OPT_HB },
    { "liveness", required_argument, NULL, OPT_LIVE },
    { "reconcile-wait-ms", required_argument, NULL, OPT_RECWAIT },
    { "lock-wait-ms", required_argument, NULL, OPT_LOCKWAIT },
    { "dry-run", no_argument, NULL, OPT_DRY },
    { "json", no_argument, NULL, OPT_JSON },
    { "out", required_argument, NULL, OPT_OUT },
    { "connection", required_argument, NULL, OPT_CONN },
    { "connection-map", required_argument, NULL, OPT_CMAP },
    { "connection-map-file", required_argument, NULL, OPT_CMAP_FILE },
    { "rewrite-metadata-keys", no_argument, NULL, OPT_REWRITE },
    { "expect-hashes", no_argument, NULL, OPT_EXPECT_HASHES },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Parses a positive integer option or exits with a usage error. */
static long long num(const char *name, const char *s, long long min,
                     long long max)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "a0migrate: --%s wants a number from %lld to %lld\n",
                name, min, max);
        exit(EXIT_USAGE);
    }
    return v;
}

static double fnum(const char *name, const char *s, double min, double max)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= min && v <= max)) {
        fprintf(stderr, "a0migrate: --%s wants a number from %g to %g\n", name,
                min, max);
        exit(EXIT_USAGE);
    }
    return v;
}

static void defaults(run_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->redis_url = env_or("A0_REDIS_URL", "redis://127.0.0.1:6379");
    c->bind = "tcp://127.0.0.1:*";
    c->batch_users = 1000;
    c->max_request_bytes = 512000;
    c->rate = -1;
    c->burst = 0;
    c->job_slots = 2;
    c->max_attempts = 5;
    c->lease_ms = 120000;
    c->heartbeat_ms = 1000;
    c->liveness = 5;
    c->reconcile_wait_ms = 600000;
    c->lock_wait_ms = 17000;
    c->poll_max_ms = 5000;
    c->target_domain = getenv("A0_TARGET_DOMAIN");
    c->target_base_url = getenv("A0_TARGET_BASE_URL");
    c->target_client_id = getenv("A0_TARGET_CLIENT_ID");
}

static const char *export_out;
static const char *export_connection;

/* --connection-map entries, from flags and files, in the order given. */
static char **cmap;
static size_t cmap_n;

static int cmap_add(const char *entry, const char *where)
{
    if (planner_map_entry_ok(entry) != 0) {
        fprintf(stderr,
                "a0migrate: %s: connection map entry must be "
                "SOURCE=TARGET\n",
                where);
        return -1;
    }
    cmap = xrealloc(cmap, (cmap_n + 1) * sizeof *cmap);
    cmap[cmap_n++] = xstrdup(entry);
    return 0;
}

/* Reads SOURCE=TARGET lines; blank lines and # comments are skipped. */
static int cmap_file(const char *path)
{
    size_t len;
    char *text = util_read_file(path, 1 << 20, &len);
    if (!text) {
        fprintf(stderr, "a0migrate: cannot read %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    int rc = 0, line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && rc == 0;
         l = strtok_r(NULL, "\n", &save)) {
        line++;
        l[strcspn(l, "\r")] = '\0';
        if (*l && *l != '#') {
            char *where = xasprintf("%s:%d", path, line);
            rc = cmap_add(l, where);
            free(where);
        }
    }
    free(text);
    return rc;
}

/* Rate-limit options, turned into run_cfg_t.limits once all are read. */
#define GROUP_RATES_MAX 16
static const char *plan = "enterprise";
static double plan_share = LIMITER_SHARE_DEFAULT;
static const char *group_rates[GROUP_RATES_MAX];
static int ngroup_rates;
static int brake_pct;

static int add_group_rate(const char *spec)
{
    if (ngroup_rates == GROUP_RATES_MAX) {
        fprintf(stderr, "a0migrate: at most %d --group-rate\n",
                GROUP_RATES_MAX);
        return -1;
    }
    group_rates[ngroup_rates++] = spec;
    return 0;
}

/* Plan, then --rate/--burst, then --group-rate, in that order. */
static int build_limits(run_cfg_t *c)
{
    char err[256];
    if (limiter_cfg_plan(&c->limits, plan, plan_share) != 0) {
        fprintf(stderr, "a0migrate: --plan: free, essentials, enterprise or "
                        "unlimited\n");
        return -1;
    }
    double rate = c->rate >= 0 ? c->rate : c->limits.global.rate;
    if ((c->rate >= 0 || c->burst > 0) && rate <= 0) {
        fprintf(stderr, "a0migrate: --burst needs --rate on plan %s\n", plan);
        return -1;
    }
    if (c->rate >= 0 || c->burst > 0)
        limiter_cfg_set(&c->limits, "global", rate, c->burst);
    for (int i = 0; i < ngroup_rates; i++) {
        if (limiter_cfg_parse(&c->limits, group_rates[i], err, sizeof err)) {
            fprintf(stderr, "a0migrate: --group-rate %s\n", err);
            return -1;
        }
    }
    c->limits.brake_pct = brake_pct;
    return 0;
}

static int parse_run(int argc, char **argv, run_cfg_t *c, int *json)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "h", run_opts, NULL)) != -1) {
        switch (opt) {
        case OPT_INPUT:
            c->input = optarg;
            break;
        case OPT_HASHES:
            c->hashes = optarg;
            break;
        case OPT_RUN_ID:
            c->run_id = optarg;
            break;
        case OPT_REDIS:
            c->redis_url = optarg;
            break;
        case OPT_BIND:
            c->bind = optarg;
            break;
        case OPT_LOCAL:
            c->local_workers = (int)num("local-workers", optarg, 0, 256);
            break;
        case OPT_TCONN:
            c->target_connection = optarg;
            break;
        case OPT_BUSERS:
            c->batch_users = (size_t)num("batch-users", optarg, 1, 10000);
            break;
        case OPT_MAXREQ:
            c->max_request_bytes =
                (size_t)num("max-request-bytes", optarg, 4096, 1000000);
            break;
        case OPT_RATE:
            c->rate = fnum("rate", optarg, 0.01, 100000);
            break;
        case OPT_BURST:
            c->burst = num("burst", optarg, 1, 100000);
            break;
        case OPT_PLAN:
            plan = optarg;
            break;
        case OPT_SHARE:
            plan_share = fnum("plan-share", optarg, 0.001, 1);
            break;
        case OPT_GROUP_RATE:
            if (add_group_rate(optarg) != 0)
                return -1;
            break;
        case OPT_BRAKE:
            brake_pct = (int)num("brake-below", optarg, 0, 100);
            break;
        case OPT_SLOTS:
            c->job_slots = num("job-slots", optarg, 1, 64);
            break;
        case OPT_ATTEMPTS:
            c->max_attempts = num("max-attempts", optarg, 1, 100);
            break;
        case OPT_LEASE:
            c->lease_ms = num("lease-ms", optarg, 1000, 86400000);
            break;
        case OPT_HB:
            c->heartbeat_ms = num("heartbeat-ms", optarg, 50, 60000);
            break;
        case OPT_LIVE:
            c->liveness = num("liveness", optarg, 2, 100);
            break;
        case OPT_RECWAIT:
            c->reconcile_wait_ms =
                num("reconcile-wait-ms", optarg, 0, 86400000);
            break;
        case OPT_LOCKWAIT:
            c->lock_wait_ms = num("lock-wait-ms", optarg, 0, 3600000);
            break;
        case OPT_DRY:
            c->dry_run = 1;
            break;
        case OPT_JSON:
            *json = 1;
            break;
        case OPT_OUT:
            export_out = optarg;
            break;
        case OPT_CONN:
            export_connection = optarg;
            break;
        case OPT_CMAP:
            if (cmap_add(optarg, "--connection-map") != 0)
                return -1;
            break;
        case OPT_CMAP_FILE:
            if (cmap_file(optarg) != 0)
                return -1;
            break;
        case OPT_REWRITE:
            c->rewrite_metadata_keys = 1;
            break;
        case OPT_EXPECT_HASHES:
            c->expect_hashes = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "a0migrate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    c->connection_map = (const char *const *)cmap;
    c->connection_map_n = cmap_n;
    return 0;
}

int main(int argc, char **argv)
{
    log_init("coordinator");
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("a0migrate %s\n", A0_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    run_cfg_t c;
    defaults(&c);
    int json = 0;
    optind = 2;
    if (parse_run(argc, argv, &c, &json) != 0)
        return EXIT_USAGE;
    if (strcmp(cmd, "status") == 0) {
        if (!c.run_id) {
            fprintf(stderr, "a0migrate: status needs --run-id\n");
            return EXIT_USAGE;
        }
        return run_status(c.redis_url, c.run_id, json);
    }
    if (strcmp(cmd, "export") == 0) {
        if (!export_out) {
            fprintf(stderr, "a0migrate: export needs --out FILE\n");
            return EXIT_USAGE;
        }
        return export_main(export_out, export_connection);
    }
    if (strcmp(cmd, "run") != 0) {
        fprintf(stderr, "a0migrate: unknown command '%s'\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!c.input) {
        fprintf(stderr, "a0migrate: run needs --input FILE\n");
        return EXIT_USAGE;
    }
    if (build_limits(&c) != 0)
        return EXIT_USAGE;
    char *secret = util_getenv_secret("A0_TARGET_CLIENT_SECRET");
    c.target_client_secret = secret;
    char *worker = sibling_worker();
    c.worker_bin = worker;
    int rc = run_main(&c);
    free(worker);
    for (size_t i = 0; i < cmap_n; i++)
        free(cmap[i]);
    free(cmap);
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    return rc;
}
