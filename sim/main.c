/* main: a0sim, simulated Auth0 tenants on a loopback port. Owns the
 * process lifecycle: parse the command line, build each tenant (the one of
 * --domain and those of --tenant, which share one HTTP daemon and are told
 * apart by the Host header), seed users or load snapshots, start the
 * daemon and one job worker per tenant, write the port file, wait for
 * SIGTERM or SIGINT (saving snapshots on the way), then stop the daemon
 * before the workers, save the snapshots and free everything. Signals are
 * blocked in every thread and taken by sigwait in the main thread, so no
 * handler runs in the middle of tenant code. */
#include "api.h"
#include "cli.h"
#include "counters.h"
#include "faults.h"
#include "http.h"
#include "jobs.h"
#include "limits.h"
#include "log.h"
#include "rand.h"
#include "seed.h"
#include "sim.h"
#include "snapshot.h"
#include "store.h"
#include "tokens.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HTTP_MAX_CONNS  1024
#define REQUEST_LOG_MAX 1000000
#define DRAIN_MS        5000 /* how long active jobs may finish at exit */

void sim_lock(sim_t *sim)
{
    pthread_mutex_lock(&sim->lock);
}

void sim_unlock(sim_t *sim)
{
    pthread_mutex_unlock(&sim->lock);
}

static int add_connections(sim_t *sim)
{
    size_t i;
    json_t *spec;
    json_array_foreach(sim->cfg.connections, i, spec)
    {
        char err[160];
        store_conn_t *conn = store_add_connection(
            sim->store, json_string_value(json_object_get(spec, "name")),
            json_string_value(json_object_get(spec, "strategy")));
        if (!conn) {
            log_error("sim", "too many connections");
            return -1;
        }
        if (store_conn_configure(conn, spec, err, sizeof err) < 0) {
            log_error("sim", "%s", err);
            return -1;
        }
    }
    return 0;
}

static int arm_faults(sim_t *sim)
{
    size_t i;
    json_t *rule;
    json_array_foreach(sim->cfg.fault_rules, i, rule)
    {
        char err[128];
        if (faults_add(sim->faults, rule, err, sizeof err) < 0) {
            log_error("sim", "fault flags: %s", err);
            return -1;
        }
    }
    return 0;
}

static int seed_users(sim_t *sim)
{
    sim_cfg_t *cfg = &sim->cfg;
    if (cfg->load_path) {
        long n = seed_load(sim->store, cfg->load_path);
        if (n < 0)
            return -1;
        log_info("sim", "loaded %ld users", n);
    }
    if (cfg->generate > 0) {
        long n = seed_generate(sim->store, cfg->generate, cfg->seed);
        log_info("sim", "generated %ld users (seed %llu)", n,
                 (unsigned long long)cfg->seed);
    }
    return 0;
}

static int build_tenant(sim_t *sim)
{
    sim_cfg_t *cfg = &sim->cfg;
    pthread_mutex_init(&sim->lock, NULL);
    json_t *ids = json_array();
    for (int i = 0; i < cfg->nclients; i++)
        json_array_append_new(ids, json_string(cfg->clients[i].id));
    sim->store = store_new(ids);
    json_decref(ids);
    sim->tokens = tokens_new();
    sim->counters = counters_new(REQUEST_LOG_MAX);
    int bad = 0;
    sim->limits = limits_new(cfg->plan, cfg->rate, cfg->burst, &bad);
    sim->jobs = jobs_new(sim);
    sim->faults = faults_new();
    sim->link_key = rand_secure_seed();
    if (add_connections(sim) < 0 || arm_faults(sim) < 0)
        return -1;

    /* A snapshot replaces the seed: it already holds what was seeded. */
    int loaded = 0;
    if (cfg->snapshot_path) {
        loaded = snapshot_load(sim, cfg->snapshot_path);
        if (loaded < 0)
            return -1;
    }
    return loaded ? 0 : seed_users(sim);
}

static void destroy_tenant(sim_t *sim)
{
    jobs_destroy(&sim->jobs);
    faults_destroy(&sim->faults);
    limits_destroy(&sim->limits);
    counters_destroy(&sim->counters);
    tokens_destroy(&sim->tokens);
    store_destroy(&sim->store);
    pthread_mutex_destroy(&sim->lock);
    free(sim->base_url);
}

static char *base_url(const char *listen, int port)
{
    if (strcmp(listen, "0.0.0.0") == 0)
        return xasprintf("http://127.0.0.1:%d", port);
    if (strcmp(listen, "::") == 0)
        return xasprintf("http://[::1]:%d", port);
    if (strchr(listen, ':'))
        return xasprintf("http://[%s]:%d", listen, port);
    return xasprintf("http://%s:%d", listen, port);
}

/* Writes the port atomically so that a reader never sees a partial
 * number. */
static int write_port_file(const char *path, int port)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%d\n", port) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok) {
        log_error("sim", "cannot write port file %s: %s", path,
                  strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

static void save_snapshots(api_tenants_t *t)
{
    for (int i = 0; i < t->n; i++)
        if (t->sims[i]->cfg.snapshot_path)
            snapshot_save(t->sims[i], t->sims[i]->cfg.snapshot_path);
}

/* Waits for a stop signal, saving the snapshots every interval. */
static int wait_for_signal(api_tenants_t *t, const sigset_t *set)
{
    const sim_cfg_t *cfg = &t->sims[0]->cfg;
    struct timespec every = { (time_t)cfg->snapshot_interval_s, 0 };
    for (;;) {
        int sig = cfg->snapshot_path ? sigtimedwait(set, NULL, &every)
                                     : sigwaitinfo(set, NULL);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            save_snapshots(t);
    }
}

static int start_jobs(api_tenants_t *t, int port, const char *listen)
{
    for (int i = 0; i < t->n; i++) {
        t->sims[i]->port = port;
        t->sims[i]->base_url = base_url(listen, port);
        if (jobs_start(t->sims[i]->jobs) < 0) {
            log_error("sim", "cannot start the job worker");
            return -1;
        }
    }
    return 0;
}

static void stop_jobs(api_tenants_t *t)
{
    for (int i = 0; i < t->n; i++)
        jobs_drain(t->sims[i]->jobs, DRAIN_MS);
    for (int i = 0; i < t->n; i++)
        jobs_stop(t->sims[i]->jobs);
}

static int serve(api_tenants_t *t, const sigset_t *sigs)
{
    sim_t *sim = t->sims[0];
    sim_cfg_t *cfg = &sim->cfg;
    http_t *http = http_new(cfg->listen, cfg->port, HTTP_MAX_CONNS,
                            api_dispatch, api_body_limit, t);
    if (!http)
        return -1;
    int rc = start_jobs(t, http_port(http), cfg->listen);
    if (rc == 0 && cfg->port_file &&
        write_port_file(cfg->port_file, sim->port) < 0)
        rc = -1;
    if (rc == 0) {
        log_info("sim",
                 "listening on %s (domain %s, %zu users, %d "
                 "connections, %d tenants)",
                 sim->base_url, cfg->domain, store_user_count(sim->store),
                 store_conn_count(sim->store), t->n);
        int sig = wait_for_signal(t, sigs);
        log_info("sim", "signal %d, shutting down", sig);
    }
    http_destroy(&http);
    stop_jobs(t);
    if (rc == 0)
        save_snapshots(t);
    return rc;
}

/* The settings of tenant i: those of the command line, with the domain
 * of --tenant, its audience and a snapshot file of its own. */
static void tenant_cfg(sim_t *sim, const sim_cfg_t *cfg, int i)
{
    sim->cfg = *cfg;
    sim->index = i;
    if (i == 0)
        return;
    const char *domain =
        json_string_value(json_array_get(cfg->tenants, (size_t)i - 1));
    sim->cfg.domain = sim->owned[0] = xstrdup(domain);
    sim->cfg.audience = sim->owned[1] = xasprintf("https://%s/api/v2/", domain);
    sim->cfg.snapshot_path = sim->owned[2] =
        cfg->snapshot_path ? xasprintf("%s.%s", cfg->snapshot_path, domain)
                           : NULL;
    sim->cfg.port_file = NULL;
}

int main(int argc, char **argv)
{
    static sim_cfg_t cfg;
    static api_tenants_t tenants;
    log_init("sim");
    int rc = cli_parse(argc, argv, &cfg);
    if (rc != 0) {
        cli_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    log_set_level((log_level_t)cfg.log_level);

    /* Block the stop signals before any thread exists, so that all
     * threads inherit the mask and only sigwait sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    tenants.n = 1 + (int)json_array_size(cfg.tenants);
    rc = 0;
    for (int i = 0; i < tenants.n; i++) {
        tenants.sims[i] = xcalloc(1, sizeof(sim_t));
        tenant_cfg(tenants.sims[i], &cfg, i);
        if (rc == 0 && build_tenant(tenants.sims[i]) < 0)
            rc = 1;
    }
    if (rc == 0 && serve(&tenants, &sigs) < 0)
        rc = 1;
    for (int i = 0; i < tenants.n; i++) {
        destroy_tenant(tenants.sims[i]);
        for (int k = 0; k < 3; k++)
            free(tenants.sims[i]->owned[k]);
        free(tenants.sims[i]);
    }
    cli_free(&cfg);
    return rc;
}
