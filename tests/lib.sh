# Shell helpers for integration tests and the demo: free loopback ports, a
# private redis-server and a0sim tenants in a temporary directory, and
# cleanup of everything started, on any exit. Source it; it sets
# A0_TMP and defines the functions below.

A0_SRC=${A0_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
A0_BIN=${A0_BIN:-$A0_SRC/build}
A0_TMP=$(mktemp -d "${TMPDIR:-/tmp}/a0test.XXXXXX")
A0_PIDS=()
A0_PASSED=0
A0_FAILED=0

a0_cleanup() {
    local pid
    for pid in "${A0_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${A0_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${A0_KEEP_TMP:-0}" = 1 ]; then
        echo "kept $A0_TMP" >&2
    else
        rm -rf "$A0_TMP"
    fi
}
trap a0_cleanup EXIT

# A TCP port on 127.0.0.1 that nothing listens on now.
a0_free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# Waits up to $2 seconds (default 10) for command $1 to succeed.
a0_wait_for() {
    local deadline=$(( $(date +%s) + ${2:-10} ))
    until eval "$1" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# Starts redis-server with AOF on a free port; sets REDIS_PORT, REDIS_URL
# and REDIS_PID.
a0_start_redis() {
    REDIS_PORT=$(a0_free_port)
    mkdir -p "$A0_TMP/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$A0_TMP/redis" \
        --appendonly yes --appendfsync always --save "" \
        --maxmemory-policy noeviction --daemonize no \
        >"$A0_TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    A0_PIDS+=("$REDIS_PID")
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    a0_wait_for "redis-cli -p $REDIS_PORT ping | grep -q PONG" 10 ||
        { echo "redis did not start" >&2; cat "$A0_TMP/redis.log" >&2; return 1; }
}

# a0_start_sim NAME [a0sim options...]: starts a tenant; sets
# <NAME>_PORT, <NAME>_URL and <NAME>_PID (NAME upper-cased).
a0_start_sim() {
    local name=$1
    shift
    local portfile="$A0_TMP/$name.port"
    rm -f "$portfile"
    "$A0_BIN/sim/a0sim" --port 0 --port-file "$portfile" \
        --domain "$name.sim.local" --client-id "${name}-client" \
        --client-secret "${name}-secret" "$@" \
        >"$A0_TMP/$name.log" 2>&1 &
    local pid=$!
    A0_PIDS+=("$pid")
    a0_wait_for "test -s $portfile" 20 ||
        { echo "a0sim $name did not start" >&2; cat "$A0_TMP/$name.log" >&2; return 1; }
    local port
    port=$(cat "$portfile")
    local up=${name^^}
    printf -v "${up}_PORT" '%s' "$port"
    printf -v "${up}_URL" '%s' "http://127.0.0.1:$port"
    printf -v "${up}_PID" '%s' "$pid"
}

# Points the A0_TARGET_* (or A0_SOURCE_*) variables at sim tenant NAME.
a0_use_tenant() {
    local role=$1 name=$2
    local up=${name^^}
    local url_var="${up}_URL"
    export "A0_${role}_DOMAIN=$name.sim.local"
    export "A0_${role}_BASE_URL=${!url_var}"
    export "A0_${role}_CLIENT_ID=${name}-client"
    export "A0_${role}_CLIENT_SECRET=${name}-secret"
}

# check DESCRIPTION EXPECTED ACTUAL: counts and reports one assertion.
check() {
    if [ "$2" == "$3" ]; then
        A0_PASSED=$((A0_PASSED + 1))
        echo "ok - $1"
    else
        A0_FAILED=$((A0_FAILED + 1))
        echo "not ok - $1: expected '$2', got '$3'"
    fi
}

# Prints the closing line and returns the status for the script.
a0_finish() {
    echo "$A0_PASSED passed, $A0_FAILED failed"
    [ "$A0_FAILED" -eq 0 ]
}
