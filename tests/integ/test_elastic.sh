#!/usr/bin/env bash
# ctest-labels: slow
# Workers join and leave a running migration: a worker started mid-run gets
# batches within seconds, SIGTERM drains a worker within its bound, a
# second coordinator on the same run is refused, and the run ends complete
# with everyone inserted once.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

a0_start_redis
a0_start_sim source --generate 6000 --seed 11 --import-rate 0
a0_start_sim target --import-rate 1500
a0_use_tenant SOURCE source
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL
A0M="$A0_BIN/coordinator/a0migrate"
"$A0M" export --out "$A0_TMP/in.ndjson.gz" 2>/dev/null
ZPORT=$(a0_free_port)

"$A0M" run --input "$A0_TMP/in.ndjson.gz" --run-id elastic \
    --bind "tcp://127.0.0.1:$ZPORT" --batch-users 150 --rate 100 --burst 20 \
    --heartbeat-ms 300 >"$A0_TMP/coord.out" 2>"$A0_TMP/coord.log" &
CPID=$!
A0_PIDS+=($CPID)

id_of() { sed -n 's/.*worker \([0-9a-f-]*\) connecting.*/\1/p' "$1" | head -1; }

"$A0_BIN/worker/a0migrate-worker" --coordinator "tcp://127.0.0.1:$ZPORT" \
    --heartbeat-ms 300 --drain-ms 8000 --concurrency 1 \
    2>"$A0_TMP/w1.log" &
W1=$!
A0_PIDS+=($W1)
a0_wait_for "grep -q 'done by' $A0_TMP/coord.log" 30
check "the first worker is working" yes \
    "$(grep -q 'done by' "$A0_TMP/coord.log" && echo yes || echo no)"

"$A0_BIN/worker/a0migrate-worker" --coordinator "tcp://127.0.0.1:$ZPORT" \
    --heartbeat-ms 300 --drain-ms 8000 --concurrency 1 \
    2>"$A0_TMP/w2.log" &
W2=$!
A0_PIDS+=($W2)
a0_wait_for "test -n \"\$(id_of $A0_TMP/w2.log)\"" 5
ID2=$(id_of "$A0_TMP/w2.log")
joined=no
a0_wait_for "grep -q 'done by $ID2' $A0_TMP/coord.log" 8 && joined=yes
check "a worker started mid-run finished a batch within 8 s" yes "$joined"

start=$(date +%s)
kill -TERM "$W1"
set +e
wait "$W1"
w1rc=$?
set -e
took=$(($(date +%s) - start))
check "a drained worker exits with 0" 0 "$w1rc"
check "drain took at most 10 s" yes "$([ "$took" -le 10 ] && echo yes || echo "no (${took}s)")"
check "the coordinator saw it leave" yes \
    "$(grep -q 'said goodbye' "$A0_TMP/coord.log" && echo yes || echo no)"

set +e
"$A0M" run --input "$A0_TMP/in.ndjson.gz" --run-id elastic \
    --bind "tcp://127.0.0.1:$(a0_free_port)" --batch-users 150 --rate 100 \
    --burst 20 --lock-wait-ms 500 >/dev/null 2>"$A0_TMP/second.log"
second=$?
set -e
check "a second coordinator on the run is refused" 4 "$second"
check "the refusal names the lease" yes \
    "$(grep -q 'another coordinator is running' "$A0_TMP/second.log" &&
        echo yes || echo no)"

set +e
wait "$CPID"
crc=$?
set -e
check "the run completes" 0 "$crc"
stats=$("$A0M" status --run-id elastic --json)
check "nobody pending" 0 "$(jq -r '.pending // 0' <<<"$stats")"
counters=$(curl -sf "$TARGET_URL/__sim/counters")
check "nobody inserted twice" 0 \
    "$(jq -r .inserts.ids_inserted_more_than_once <<<"$counters")"
check "inserts equal imported" "$(jq -r .imported <<<"$stats")" \
    "$(jq -r .inserts.total <<<"$counters")"
a0_finish
