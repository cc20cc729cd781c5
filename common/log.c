/* log: the process-wide logger. Writes whole lines to stderr with one
 * write(2) each so that lines from threads and processes sharing a terminal
 * never interleave. */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_role = "a0migrate";
static log_level_t log_threshold = A0_LOG_INFO;
static int log_json = 0;

static const char *level_names[] = { "debug", "info", "warn", "error" };

static log_level_t parse_level(const char *s, log_level_t dflt)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0)
            return (log_level_t)i;
    }
    return dflt;
}

void log_init(const char *role)
{
    log_role = role;
    const char *lvl = getenv("A0_LOG_LEVEL");
    if (lvl)
        log_threshold = parse_level(lvl, A0_LOG_INFO);
    const char *fmt = getenv("A0_LOG_FORMAT");
    if (fmt && strcmp(fmt, "json") == 0)
        log_json = 1;
}

void log_set_level(log_level_t level)
{
    log_threshold = level;
}

void log_set_json(int on)
{
    log_json = on;
}

int log_enabled(log_level_t level)
{
    return level >= log_threshold;
}

void log_write(log_level_t level, const char *module, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    char line[2600];
    int len;
    if (log_json) {
        json_t *o = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s}", "ts", ts, "pid",
                              (int)getpid(), "role", log_role, "level",
                              level_names[level], "module", module, "msg", msg);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        len = snprintf(line, sizeof line, "%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
    } else {
        len =
            snprintf(line, sizeof line, "%s %d %s %-5s %s: %s\n", ts,
                     (int)getpid(), log_role, level_names[level], module, msg);
    }
    if (len < 0)
        return;
    if ((size_t)len >= sizeof line)
        len = (int)sizeof line - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)len);
    (void)w;
}
