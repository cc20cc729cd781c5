#ifndef A0_PROTO_H
#define A0_PROTO_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

/* proto: the messages between the coordinator (ROUTER) and workers
 * (DEALER). A message is three frames: the version tag PROTO_VERSION, the
 * command name ("READY", "ASSIGN", ...) and a msgpack map with the fields
 * below. The ROUTER's identity frame, when present, is handled by the
 * caller. Decoding bounds every length: frames, strings, arrays, depth. */

#define PROTO_VERSION    "A0M1"
#define PROTO_MAX_BODY   (2 * 1024 * 1024)
#define PROTO_MAX_STRING (1024 * 1024) /* any one string but payload */
#define PROTO_MAX_USERS  100000
#define PROTO_MAX_HELD   1024
#define PROTO_MAX_KEYS   64 /* entries in one body map */

typedef enum {
    PROTO_NONE = 0,
    /* worker -> coordinator */
    PROTO_READY,
    PROTO_HEARTBEAT,
    PROTO_PROGRESS,
    PROTO_DONE,
    PROTO_FAIL,
    PROTO_BYE,
    /* coordinator -> worker (HEARTBEAT goes both ways) */
    PROTO_ASSIGN,
    PROTO_CANCEL,
    PROTO_DRAIN,
    PROTO_RECONNECT,
} proto_cmd_t;

typedef enum {
    PROTO_FAIL_RETRYABLE = 0, /* try again later, maybe elsewhere */
    PROTO_FAIL_POISON,        /* this batch can never succeed as is */
    PROTO_FAIL_DRAINING,      /* the worker is leaving; batch untouched */
    PROTO_FAIL_SPLIT,         /* 413: split the batch in two */
} proto_fail_t;

/* Every field is optional on the wire; which ones a command uses is noted.
 * Strings are NUL-terminated copies owned by the message. */
typedef struct {
    proto_cmd_t cmd;

    /* READY, HEARTBEAT, BYE */
    char *worker_id;
    char *host;
    int64_t pid;
    char *version;
    int64_t credit; /* batches the worker can take now */
    int64_t *held;  /* batches the worker still holds */
    size_t nheld;

    /* ASSIGN, PROGRESS, DONE, FAIL, CANCEL */
    char *run_id;
    int64_t batch;
    int64_t token; /* fencing token of the lease */
    int64_t epoch; /* coordinator epoch */
    int64_t lease_ms;
    int64_t attempt;
    char *connection_id;
    char *job_id;    /* ASSIGN: adopt and poll this job, don't post */
    char **user_ids; /* ASSIGN: source user ids in payload order */
    size_t nusers;
    char *payload; /* ASSIGN: the users file (JSON text),
                      payload_len bytes, NUL-terminated */
    size_t payload_len;

    /* DONE, FAIL, PROGRESS */
    proto_fail_t fail;
    char *reason; /* FAIL: short text without secrets */
    int64_t inserted;
    int64_t failed;
    int64_t total;
} proto_msg_t;

/* "READY", "ASSIGN", ...; "UNKNOWN" for anything else. */
const char *proto_cmd_name(proto_cmd_t cmd);

/* Builds the three frames of m: fields are sent only when set (strings
 * non-NULL, integers non-zero, arrays non-empty, payload non-NULL, as bin).
 * Returns a new message (caller destroys), or NULL when m->cmd is no
 * command or m breaks a bound the decoder enforces. */
zmsg_t *proto_encode(const proto_msg_t *m);

/* Takes the frames of msg (version, command, body) and fills *out, which the
 * caller zeroes first. Returns 0, or -1 with a reason in err (and *out
 * cleared). Does not destroy msg. Keys it does not know are skipped; a key
 * given twice, a value of the wrong type, a string holding a NUL byte, or
 * any container inside an array is refused. */
int proto_decode(zmsg_t *msg, proto_msg_t *out, char *err, size_t errlen);

/* Frees what *m owns and zeroes it. */
void proto_msg_clear(proto_msg_t *m);

#endif
