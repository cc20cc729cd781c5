#!/usr/bin/env bash
# Misconfigured workers cost nothing: a worker whose secret the target
# refuses hands its batches back without burning their attempts and exits
# with 4; a worker given a non-ZeroMQ endpoint exits with 2; a worker whose
# Redis is unreachable still stops within its drain bound on SIGTERM.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

a0_start_redis
a0_start_sim target --import-rate 2000
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL
W="$A0_BIN/worker/a0migrate-worker"

set +e
"$W" --coordinator http://nope 2>"$A0_TMP/bad-endpoint.log"
check "a non-ZeroMQ endpoint is a usage error" 2 "$?"
set -e

input="$A0_TMP/in.ndjson"
for i in $(seq 1 600); do
    printf '{"user_id":"auth0|bw%04d","email":"bw%04d@example.test",' "$i" "$i"
    printf '"identities":[{"connection":"Username-Password-Authentication",'
    printf '"provider":"auth0","user_id":"bw%04d","isSocial":false}]}\n' "$i"
done >"$input"
ZPORT=$(a0_free_port)
"$A0_BIN/coordinator/a0migrate" run --input "$input" --run-id bw \
    --bind "tcp://127.0.0.1:$ZPORT" --batch-users 50 --max-attempts 1 \
    --heartbeat-ms 300 >"$A0_TMP/coord.out" 2>"$A0_TMP/coord.log" &
CPID=$!
A0_PIDS+=($CPID)

# The bad worker starts first, so it is offered batches before anyone else.
A0_TARGET_CLIENT_SECRET=wrong "$W" --coordinator "tcp://127.0.0.1:$ZPORT" \
    --heartbeat-ms 300 2>"$A0_TMP/bad.log" &
BAD=$!
A0_PIDS+=($BAD)
set +e
wait "$BAD"
badrc=$?
set -e
check "the refused worker exits with 4" 4 "$badrc"
check "it says why" yes \
    "$(grep -q 'refuses this worker' "$A0_TMP/bad.log" && echo yes || echo no)"
"$W" --coordinator "tcp://127.0.0.1:$ZPORT" --heartbeat-ms 300 \
    2>"$A0_TMP/good.log" &
A0_PIDS+=($!)
set +e
wait "$CPID"
rc=$?
set -e
check "the run completes with --max-attempts 1" 0 "$rc"
stats=$("$A0_BIN/coordinator/a0migrate" status --run-id bw --json || true)
check "everyone imported" 600 "$(jq -r '.imported // 0' <<<"$stats")"
check "no batch poisoned" 0 "$(jq -r '.batches_poison // 0' <<<"$stats")"
check "no secret in the logs" 0 \
    "$(cat "$A0_TMP"/*.log | grep -c -e 'target-secret' || true)"

# Redis unreachable: SIGTERM still ends the worker within its drain bound.
"$W" --coordinator "tcp://127.0.0.1:$(a0_free_port)" \
    --redis "redis://127.0.0.1:$(a0_free_port)" --drain-ms 2000 \
    2>"$A0_TMP/noredis.log" &
NR=$!
A0_PIDS+=($NR)
sleep 1
start=$(date +%s)
kill -TERM "$NR"
set +e
wait "$NR"
set -e
took=$(($(date +%s) - start))
check "a worker without Redis stops within 4 s of SIGTERM" yes \
    "$([ "$took" -le 4 ] && echo yes || echo "no (${took}s)")"
a0_finish
