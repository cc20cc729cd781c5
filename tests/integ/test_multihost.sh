#!/usr/bin/env bash
# ctest-labels: slow
# Several hosts: two network namespaces made here, each a worker host with
# two workers, joined to this one (Redis, the coordinator, the target
# tenant) by a bridge. Mid-run one host is cut off the network for longer
# than the liveness window: its batches are taken back and finished
# elsewhere, and when it comes back nothing it still holds can be written
# twice. Needs root and iproute2; says so and stops otherwise.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
    echo "skipped: needs root and ip netns"
    echo "0 passed, 0 failed"
    exit 0
fi

tag=$$
BR="a0br$tag"
NET=10.231.$((tag % 200 + 20))
HOSTS=("a0h1-$tag" "a0h2-$tag")
net_cleanup() {
    for ns in "${HOSTS[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "$BR" 2>/dev/null || true
    a0_cleanup
}
trap net_cleanup EXIT

ip link add "$BR" type bridge
ip addr add "$NET.1/24" dev "$BR"
ip link set "$BR" up
i=2
for ns in "${HOSTS[@]}"; do
    ip netns add "$ns"
    ip link add "v$i-$tag" type veth peer name eth0 netns "$ns"
    ip link set "v$i-$tag" master "$BR" up
    ip -n "$ns" addr add "$NET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    i=$((i + 1))
done

# Services listen on the bridge address only.
REDIS_PORT=$(a0_free_port)
mkdir -p "$A0_TMP/redis"
redis-server --port "$REDIS_PORT" --bind "$NET.1" --protected-mode no \
    --dir "$A0_TMP/redis" --appendonly yes --appendfsync always --save "" \
    >"$A0_TMP/redis.log" 2>&1 &
A0_PIDS+=($!)
REDIS_URL="redis://$NET.1:$REDIS_PORT"
a0_wait_for "redis-cli -h $NET.1 -p $REDIS_PORT ping | grep -q PONG" 10
for ns in "${HOSTS[@]}"; do
    check "$ns reaches Redis over the bridge" PONG \
        "$(ip netns exec "$ns" redis-cli -h "$NET.1" -p "$REDIS_PORT" ping)"
done

a0_start_sim source --generate 8000 --seed 5 --import-rate 0
a0_use_tenant SOURCE source
"$A0_BIN/coordinator/a0migrate" export --out "$A0_TMP/in.ndjson.gz" 2>/dev/null
SIM_PORT=$(a0_free_port)
"$A0_BIN/sim/a0sim" --listen "$NET.1" --port "$SIM_PORT" --domain t.sim.local \
    --client-id t-client --client-secret t-secret --import-rate 800 \
    >"$A0_TMP/target.log" 2>&1 &
A0_PIDS+=($!)
TARGET_URL="http://$NET.1:$SIM_PORT"
a0_wait_for "curl -sf $TARGET_URL/__sim/counters" 10
export A0_TARGET_DOMAIN=t.sim.local A0_TARGET_BASE_URL=$TARGET_URL
export A0_TARGET_CLIENT_ID=t-client A0_TARGET_CLIENT_SECRET=t-secret
export A0_REDIS_URL=$REDIS_URL

ZPORT=$(a0_free_port)
"$A0_BIN/coordinator/a0migrate" run --input "$A0_TMP/in.ndjson.gz" \
    --run-id hosts --bind "tcp://$NET.1:$ZPORT" --batch-users 200 \
    --rate 100 --burst 20 --heartbeat-ms 300 --liveness 5 --lease-ms 6000 \
    --reconcile-wait-ms 3000 >"$A0_TMP/coord.out" 2>"$A0_TMP/coord.log" &
CPID=$!
A0_PIDS+=($CPID)
for ns in "${HOSTS[@]}"; do
    for _ in 1 2; do
        ip netns exec "$ns" "$A0_BIN/worker/a0migrate-worker" \
            --coordinator "tcp://$NET.1:$ZPORT" --redis "$REDIS_URL" \
            --heartbeat-ms 300 --concurrency 1 2>>"$A0_TMP/$ns.log" &
        A0_PIDS+=($!)
    done
done

a0_wait_for "grep -c 'done by' $A0_TMP/coord.log | grep -qv '^[0-3]$'" 60
ip link set "v2-$tag" down
echo "# host 1 cut off"
a0_wait_for "grep -q 'went silent' $A0_TMP/coord.log" 15 && cut=yes || cut=no
check "the cut-off host's workers were declared dead" yes "$cut"
sleep 3
ip link set "v2-$tag" up
echo "# host 1 back"

set +e
wait "$CPID"
rc=$?
set -e
check "the run completes" 0 "$rc"
check "both hosts did work" 2 \
    "$(for ns in "${HOSTS[@]}"; do grep -q connecting "$A0_TMP/$ns.log" && echo "$ns"; done | wc -l)"
stats=$("$A0_BIN/coordinator/a0migrate" status --run-id hosts --json)
check "nobody pending" 0 "$(jq -r '.pending // 0' <<<"$stats")"
check "every record counted" 8000 "$(jq -r .total <<<"$stats")"
counters=$(curl -sf "$TARGET_URL/__sim/counters")
check "nobody inserted twice" 0 \
    "$(jq -r .inserts.ids_inserted_more_than_once <<<"$counters")"
check "target holds imported + present" \
    "$(jq -r '(.imported // 0) + (.present // 0)' <<<"$stats")" \
    "$(curl -sf "$TARGET_URL/__sim/users" | grep -c .)"
a0_finish
