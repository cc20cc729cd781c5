#ifndef A0_LOG_H
#define A0_LOG_H

/* One logger per process. Each line carries the wall time with
 * milliseconds, the pid, the role (coordinator, worker, sim), the level, the
 * module and the message; A0_LOG_FORMAT=json (or log_set_json) switches to
 * one JSON object per line. Never pass a secret, token, password hash or
 * e-mail address to these functions. */

typedef enum {
    A0_LOG_DEBUG = 0,
    A0_LOG_INFO,
    A0_LOG_WARN,
    A0_LOG_ERROR,
} log_level_t;

/* Sets role, threshold (from A0_LOG_LEVEL when set) and format. */
void log_init(const char *role);
void log_set_level(log_level_t level);
void log_set_json(int on);
int log_enabled(log_level_t level);

void log_write(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...)                              \
    do {                                                 \
        if (log_enabled(A0_LOG_DEBUG))                   \
            log_write(A0_LOG_DEBUG, (mod), __VA_ARGS__); \
    } while (0)
#define log_info(mod, ...)  log_write(A0_LOG_INFO, (mod), __VA_ARGS__)
#define log_warn(mod, ...)  log_write(A0_LOG_WARN, (mod), __VA_ARGS__)
#define log_error(mod, ...) log_write(A0_LOG_ERROR, (mod), __VA_ARGS__)

#endif
