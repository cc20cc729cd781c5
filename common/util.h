#ifndef A0_UTIL_H
#define A0_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Allocation wrappers: out of memory aborts the process with a message, so
 * callers never test for NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* printf into a new string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock and monotonic time in milliseconds. */
int64_t util_wall_ms(void);
int64_t util_mono_ms(void);

/* Sleep for ms milliseconds (restarts after signals). */
void util_sleep_ms(int64_t ms);

/* A growable byte buffer. data is always NUL-terminated. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_reset(buf_t *b);
void buf_free(buf_t *b);

/* Read a whole file of at most max_bytes into a new string (NUL-terminated).
 * Returns NULL and sets errno on failure or when the file is larger. */
char *util_read_file(const char *path, size_t max_bytes, size_t *len);

/* Reads a secret: the value of env var NAME, or the contents of the file
 * named by NAME_FILE (trailing newline stripped). Returns a new string or
 * NULL when neither is set. When NAME_FILE is set but can't be read, prints
 * an error naming the variable and the file and exits with status 2. */
char *util_getenv_secret(const char *name);

/* Hex-encoded SHA-256-free checksum: 64-bit FNV-1a of a file, as 16 hex
 * characters into out[17]. Returns 0, or -1 if the file can't be read. */
int util_file_checksum(const char *path, char out[17]);

#endif
