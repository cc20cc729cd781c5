#!/usr/bin/env bash
# A tenant whose limit (3 requests/s, burst 3) is below what the farm was
# told (10/s, burst 10): 429s must come, and every one must be honoured by
# the whole farm. The pause each 429 asks for (x-ratelimit-reset, rebuilt
# by replaying a0sim's bucket over its request log) must hold no request
# from any worker, bar those already on their way when the 429 came (sent
# before the farm could know of it: arriving within 50 ms), and no user
# may be lost or imported twice.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
CHECK="python3 $(dirname "$0")/rate_check.py"

a0_start_redis
a0_start_sim source --generate 300 --seed 5 --import-rate 0
a0_start_sim target --import-rate 0 --rate 3 --burst 3
a0_use_tenant SOURCE source
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

"$A0_BIN/coordinator/a0migrate" export --out "$A0_TMP/export.ndjson.gz" \
    2>"$A0_TMP/export.log"
gzip -dc "$A0_TMP/export.ndjson.gz" >"$A0_TMP/input.ndjson"

set +e
"$A0_BIN/coordinator/a0migrate" run --input "$A0_TMP/input.ndjson" \
    --run-id over --local-workers 4 --rate 10 --burst 10 --batch-users 10 \
    >"$A0_TMP/run.out" 2>"$A0_TMP/run.log"
rc=$?
set -e
cat "$A0_TMP/run.out"
check "run exit status" 0 "$rc"

log="$A0_TMP/requests.ndjson"
curl -sf "$TARGET_URL/__sim/requests" >"$log"
counters=$(curl -sf "$TARGET_URL/__sim/counters")
limited=$(jq -r .rate_limited <<<"$counters")
echo "# $(grep -c . "$log") requests, $limited answered 429"
check "the tenant answered 429s" yes \
    "$([ "$limited" -gt 0 ] && echo yes || echo no)"
check "the replay of the tenant's bucket matches its log" 100 \
    "$($CHECK agree "$log" 3 3)"
check "no request inside a pause a 429 asked for" 0 \
    "$($CHECK inside "$log" 3 3 50)"
penalties=$(rcli hget 'a0m:{target.sim.local}:rl:stats' penalties)
check "each 429 paused the farm" "$limited" "${penalties:-0}"

stats() {
    "$A0_BIN/coordinator/a0migrate" status --run-id over --json |
        jq -r ".$1 // 0"
}
check "no user left pending" 0 "$(stats pending)"
check "every imported user inserted exactly once" "$(stats imported) 0" \
    "$(jq -r '"\(.inserts.total) \(.inserts.ids_inserted_more_than_once)"' \
        <<<"$counters")"
check "imported and deferred make the total" "$(stats total)" \
    "$(($(stats imported) + $(stats deferred)))"

a0_finish
