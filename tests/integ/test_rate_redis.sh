#!/usr/bin/env bash
# Fail closed: Redis is stopped for 10 seconds in the middle of a run.
# Without Redis no worker may call Auth0 (a0sim's request log must show no
# request in that window, bar the ones already on their way when Redis
# went), and once Redis is back the run must complete with every user
# accounted for and nobody imported twice. The workers run on their own:
# the coordinator stops when it cannot renew its lease, while the
# workers' batches in flight wait for Redis and go on once it is back.
# Then the run is resumed by a second coordinator with fresh workers (a
# worker does not rejoin a coordinator that replaced the one it lost),
# which adopt what the first workers left.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
CHECK="python3 $(dirname "$0")/rate_check.py"

a0_start_redis
a0_start_sim source --generate 600 --seed 9 --import-rate 0
a0_start_sim target --import-rate 200
a0_use_tenant SOURCE source
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
now_ms() { date +%s%3N; }

"$A0_BIN/coordinator/a0migrate" export --out "$A0_TMP/export.ndjson.gz" \
    2>"$A0_TMP/export.log"
gzip -dc "$A0_TMP/export.ndjson.gz" >"$A0_TMP/input.ndjson"

port=$(a0_free_port)
coordinator() {
    "$A0_BIN/coordinator/a0migrate" run --input "$A0_TMP/input.ndjson" \
        --run-id dark --bind "tcp://127.0.0.1:$port" --rate 10 --burst 5 \
        --batch-users 10 --lease-ms 4000 --reconcile-wait-ms 4000 \
        >"$A0_TMP/run$1.out" 2>"$A0_TMP/run$1.log"
}
workers=()
start_workers() {
    local i
    for i in 1 2 3 4; do
        "$A0_BIN/worker/a0migrate-worker" \
            --coordinator "tcp://127.0.0.1:$port" \
            >"$A0_TMP/worker$1-$i.log" 2>&1 &
        workers+=($!)
        A0_PIDS+=($!)
    done
}
stop_workers() {
    local pid
    for pid in "${workers[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    workers=()
}
coordinator 1 &
coord=$!
A0_PIDS+=("$coord")
start_workers 1

# Stop Redis once a fifth of the batches are done.
a0_wait_for '[ "$(rcli hget "a0m:{dark}:stats" batches_done)" -ge 12 ]' 60
done_before=$(rcli hget 'a0m:{dark}:stats' batches_done)
in_flight=$(rcli zcard 'a0m:{dark}:leases')
stopped=$(now_ms)
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
sleep 10
started=$(now_ms)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$A0_TMP/redis" \
    --appendonly yes --appendfsync always --save "" \
    --maxmemory-policy noeviction --daemonize no \
    >>"$A0_TMP/redis.log" 2>&1 &
REDIS_PID=$!
A0_PIDS+=("$REDIS_PID")
a0_wait_for "rcli ping | grep -q PONG" 10
echo "# Redis was down from $stopped to $started ($done_before batches" \
    "done, $in_flight in flight)"
check "batches were in flight when Redis went" yes \
    "$([ "$in_flight" -gt 0 ] && echo yes || echo no)"

set +e
wait "$coord"
rc1=$?
set -e
# The first workers, without a coordinator, go on with what they hold.
calls_since() {
    curl -sf "$TARGET_URL/__sim/requests" >"$A0_TMP/now.ndjson"
    $CHECK between "$A0_TMP/now.ndjson" "$1" 99999999999999
}
a0_wait_for '[ "$(calls_since "$started")" -gt 0 ]' 10 || true
resumed=$(calls_since "$started")
stop_workers
# The first coordinator's lease must run out before a second may start.
a0_wait_for '[ "$(rcli exists "a0m:{dark}:coord")" = 0 ]' 30
start_workers 2
set +e
coordinator 2
rc=$?
set -e
cat "$A0_TMP/run2.out"
check "first coordinator finished or stopped for Redis" yes \
    "$([ "$rc1" = 0 ] || [ "$rc1" = 4 ] && echo yes || echo "no ($rc1)")"
check "run exit status" 0 "$rc"
stop_workers

log="$A0_TMP/requests.ndjson"
curl -sf "$TARGET_URL/__sim/requests" >"$log"
check "no Auth0 call while Redis was down" 0 \
    "$($CHECK between "$log" $((stopped + 250)) "$started")"
check "the first workers' calls resumed after Redis came back" yes \
    "$([ "$resumed" -gt 0 ] && echo yes || echo no)"
check "the workers held their calls" yes \
    "$(cat "$A0_TMP"/worker1-*.log | grep -c 'holding all Auth0 calls' |
        awk '{ print ($1 > 0 ? "yes" : "no") }')"

counters=$(curl -sf "$TARGET_URL/__sim/counters")
stats() {
    "$A0_BIN/coordinator/a0migrate" status --run-id dark --json |
        jq -r ".$1 // 0"
}
check "no user left pending" 0 "$(stats pending)"
check "every record accounted for" "$(stats total)" \
    "$(($(stats imported) + $(stats present) + $(stats deferred)))"
check "every inserted user inserted once" \
    "$(($(stats imported) + $(stats present))) 0" \
    "$(jq -r '"\(.inserts.total) \(.inserts.ids_inserted_more_than_once)"' \
        <<<"$counters")"

a0_finish
