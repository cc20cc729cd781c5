#!/usr/bin/env bash
# ctest-labels: slow
# The farm-wide rate limit at full use: eight worker processes (two
# executors each) share one 10 requests/s, burst 10 budget against an
# a0sim tenant that enforces exactly that limit, for about a minute of
# requests (small batches, sixteen job slots, so that the farm always has
# more requests ready than the budget allows). a0sim's request log must
# show no one-second window over rate + burst, not a single 429, and a
# sustained throughput of at least 95% of the configured rate.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
CHECK="python3 $(dirname "$0")/rate_check.py"

a0_start_redis
a0_start_sim source --generate 1500 --seed 3 --import-rate 0
a0_start_sim target --import-rate 0 --rate 10 --burst 10 \
    --max-active-imports 16
a0_use_tenant SOURCE source
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

"$A0_BIN/coordinator/a0migrate" export --out "$A0_TMP/export.ndjson.gz" \
    2>"$A0_TMP/export.log"
gzip -dc "$A0_TMP/export.ndjson.gz" >"$A0_TMP/input.ndjson"

set +e
"$A0_BIN/coordinator/a0migrate" run --input "$A0_TMP/input.ndjson" \
    --run-id rl --local-workers 8 --rate 10 --burst 10 --batch-users 5 \
    --job-slots 16 >"$A0_TMP/run.out" 2>"$A0_TMP/run.log"
rc=$?
set -e
cat "$A0_TMP/run.out"
check "run exit status" 0 "$rc"

log="$A0_TMP/requests.ndjson"
curl -sf "$TARGET_URL/__sim/requests" >"$log"
counters=$(curl -sf "$TARGET_URL/__sim/counters")
n=$(grep -c . "$log")
span=$($CHECK span "$log")
echo "# $n Management API requests over $span s"
check "about a minute of requests" yes \
    "$([ "$span" -ge 50 ] && echo yes || echo "no ($span s)")"
logged=$(grep -c '"status":429' "$log" || true)
check "no 429 at all" "0 0" "$(jq -r .rate_limited <<<"$counters") $logged"
most=$($CHECK window "$log" 1000)
check "no one-second window over rate + burst (20)" yes \
    "$([ "$most" -le 20 ] && echo yes || echo "no ($most)")"
rate=$($CHECK rate "$log" 10)
echo "# sustained $rate requests/s (10 allowed)"
check "sustained throughput at least 95% of 10/s" yes \
    "$(awk -v r="$rate" \
        'BEGIN { print (r >= 9.5 && r <= 10.2) ? "yes" : "no (" r ")" }')"

stats() {
    "$A0_BIN/coordinator/a0migrate" status --run-id rl --json | jq -r ".$1 // 0"
}
check "no user left pending" 0 "$(stats pending)"
check "every imported user inserted exactly once" "$(stats imported) 0" \
    "$(jq -r '"\(.inserts.total) \(.inserts.ids_inserted_more_than_once)"' \
        <<<"$counters")"
workers=$(for key in $(rcli --scan --pattern 'a0m:{rl}:batch:*'); do
    rcli hget "$key" worker
done | sort -u | wc -l)
check "all eight workers took batches" 8 "$workers"
check "the limiter recorded Auth0's x-ratelimit-limit" 10 \
    "$(rcli hget 'a0m:{target.sim.local}:rl:last' limit)"

a0_finish
