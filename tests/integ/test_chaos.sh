#!/usr/bin/env bash
# ctest-labels: slow
# Chaos: 20,000 users, four workers, a target that answers 3% of requests
# with 503, 2% with 429, drops 1% of connections unanswered and 1% of the
# import POSTs after creating the job; during the run a worker killed
# with SIGKILL every few seconds (and a new one started), the coordinator
# killed once and restarted, Redis restarted once. At the end every source
# user has exactly one terminal outcome, the target holds exactly the users
# counted imported or present, and each was inserted exactly once.
# A0_CHAOS_SEEDS (default "1 2") picks the seeds; each is printed so a
# failure can be replayed with A0_CHAOS_SEEDS=<seed>.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

USERS=${A0_CHAOS_USERS:-20000}
COORD=("$A0_BIN/coordinator/a0migrate")
WORKER="$A0_BIN/worker/a0migrate-worker"

start_worker() {
    "$WORKER" --coordinator "tcp://127.0.0.1:$ZPORT" --redis "$REDIS_URL" \
        --heartbeat-ms 300 --liveness 5 \
        >>"$A0_TMP/workers.log" 2>&1 &
    WORKERS+=($!)
    A0_PIDS+=($!)
}

start_coordinator() {
    "${COORD[@]}" run --input "$A0_TMP/input.ndjson.gz" --run-id "chaos$SEED" \
        --bind "tcp://127.0.0.1:$ZPORT" --batch-users 400 --rate 200 \
        --burst 40 --lease-ms 8000 --heartbeat-ms 300 --liveness 5 \
        --reconcile-wait-ms 3000 \
        >>"$A0_TMP/coord.out" 2>>"$A0_TMP/coord.log" &
    CPID=$!
    A0_PIDS+=($CPID)
}

restart_redis() {
    kill -9 "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null || true
    sleep 1
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$A0_TMP/redis" \
        --appendonly yes --appendfsync always --save "" \
        --maxmemory-policy noeviction >>"$A0_TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    A0_PIDS+=($REDIS_PID)
    a0_wait_for "redis-cli -p $REDIS_PORT ping | grep -q PONG" 10
}

alive() { kill -0 "$1" 2>/dev/null; }

one_seed() {
    SEED=$1
    echo "# chaos seed $SEED ($USERS users)"
    RANDOM=$SEED
    rm -rf "$A0_TMP/redis" "$A0_TMP"/*.log "$A0_TMP"/*.out
    a0_start_redis
    a0_start_sim target --import-rate 1000 --seed "$SEED"
    a0_use_tenant TARGET target
    export A0_REDIS_URL=$REDIS_URL
    local rule
    for rule in \
        '{"match":"*","action":"status","status":503,"share":0.03}' \
        '{"match":"*","action":"rate_limit","share":0.02}' \
        '{"match":"*","action":"drop","share":0.01}' \
        '{"match":"POST /api/v2/jobs/users-imports","action":"drop_after","share":0.01}'; do
        rule=$(jq -c ". + {count: -1, seed: $SEED}" <<<"$rule")
        curl -sf -X POST -H 'Content-Type: application/json' -d "$rule" \
            "$TARGET_URL/__sim/faults" >/dev/null
    done
    a0_start_sim source --generate "$USERS" --seed "$SEED" --import-rate 0
    a0_use_tenant SOURCE source
    "${COORD[@]}" export --out "$A0_TMP/input.ndjson.gz" 2>>"$A0_TMP/coord.log"
    records=$(gzip -dc "$A0_TMP/input.ndjson.gz" | grep -c .)
    ZPORT=$(a0_free_port)
    WORKERS=()
    start_coordinator
    for _ in 1 2 3 4; do start_worker; done

    local t=0 coord_killed=0 redis_restarted=0
    while alive "$CPID" || [ $coord_killed -eq 1 ]; do
        sleep 2
        t=$((t + 2))
        # A random worker dies; a new one takes its place.
        local victim=$((RANDOM % ${#WORKERS[@]}))
        if alive "${WORKERS[$victim]}"; then
            kill -9 "${WORKERS[$victim]}"
            start_worker
        fi
        if [ $t -eq 6 ] && [ $coord_killed -eq 0 ]; then
            echo "# t=${t}s: SIGKILL to the coordinator"
            kill -9 "$CPID"
            wait "$CPID" 2>/dev/null || true
            coord_killed=1
            start_coordinator
            coord_killed=2
        fi
        if [ $t -eq 12 ] && [ $redis_restarted -eq 0 ]; then
            echo "# t=${t}s: Redis restarted"
            restart_redis
            redis_restarted=1
        fi
        [ $t -lt 600 ] || { echo "# chaos run did not end in 600 s"; break; }
    done
    set +e
    wait "$CPID"
    local rc=$?
    set -e
    tail -n 14 "$A0_TMP/coord.out"
    check "seed $SEED: coordinator ended with 0 or 1" yes \
        "$([ $rc -le 1 ] && echo yes || echo "no ($rc)")"
    check "seed $SEED: the coordinator was killed and restarted" 2 \
        "$coord_killed"
    check "seed $SEED: Redis was restarted" 1 "$redis_restarted"

    stat() {
        "${COORD[@]}" status --run-id "chaos$SEED" --json | jq -r ".$1 // 0"
    }
    check "seed $SEED: nobody pending" 0 "$(stat pending)"
    check "seed $SEED: every record counted" "$records" "$(stat total)"
    local ledger="$A0_TMP/ledger.txt"
    : >"$ledger"
    for key in $(redis-cli -p "$REDIS_PORT" --scan \
        --pattern "a0m:{chaos$SEED}:users:*"); do
        redis-cli -p "$REDIS_PORT" --raw hgetall "$key" | paste - - >>"$ledger"
    done
    check "seed $SEED: one ledger entry per record" "$records" \
        "$(cut -f1 "$ledger" | sort -u | wc -l)"
    check "seed $SEED: no user failed or in conflict" 0 \
        "$(grep -cP '\t(failed|conflict)' "$ledger" || true)"
    curl -sf "$TARGET_URL/__sim/users" | jq -r .user_id | sort >"$A0_TMP/t.txt"
    awk -F'\t' '$2 == "imported" || $2 == "present" { print $1 }' "$ledger" |
        sort >"$A0_TMP/l.txt"
    check "seed $SEED: target holds exactly imported + present" "" \
        "$(diff "$A0_TMP/t.txt" "$A0_TMP/l.txt" | head -3)"
    local counters
    counters=$(curl -sf "$TARGET_URL/__sim/counters")
    check "seed $SEED: nobody inserted twice" 0 \
        "$(jq -r .inserts.ids_inserted_more_than_once <<<"$counters")"
    check "seed $SEED: faults were injected" yes \
        "$(jq -r '[.requests | to_entries[] | select(.key | test(" (503|429|0)$"))
            | .value] | add // 0 | if . > 0 then "yes" else "no" end' \
            <<<"$counters")"
    check "seed $SEED: inserts equal imported + present" \
        "$(wc -l <"$A0_TMP/l.txt")" "$(jq -r .inserts.total <<<"$counters")"

    for pid in "${WORKERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    kill "$TARGET_PID" "$SOURCE_PID" "$REDIS_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}

for seed in ${A0_CHAOS_SEEDS:-1 2}; do
    one_seed "$seed"
done
a0_finish
