#!/usr/bin/env bash
# The farm against a tenant with Auth0's enterprise limits (a0sim: 16
# requests/s, burst 50, 2 import jobs at a time), for 1, 2, 4 and 8 worker
# processes (two executors each). The farm runs the enterprise preset
# (--plan enterprise: half the published rate, burst 10, unless
# BENCH_SHARE says otherwise). For each run: Management API requests/s
# achieved against the farm's allowance, 429s, requests per batch (the
# import POST, status polls and error reads) and users/s.
#
# usage: tests/bench/bench_farm.sh [--write]   (build first: scripts/build.sh)
#   --write  append the table to tests/bench/RESULTS.md
# env: BENCH_USERS (20000), BENCH_BATCH (1000), BENCH_IMPORT_RATE (users/s
#   one job imports, 2000), BENCH_WORKERS ("1 2 4 8"), BENCH_SHARE (0.5)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
CHECK="python3 $here/../integ/rate_check.py"
users=${BENCH_USERS:-20000}
batch=${BENCH_BATCH:-1000}
import_rate=${BENCH_IMPORT_RATE:-2000}
share=${BENCH_SHARE:-0.5}
write=0
[ "${1:-}" = --write ] && write=1
allowed=$(awk -v s="$share" 'BEGIN { printf "%g", 16 * s }')

a0_start_sim source --generate "$users" --seed 11 --import-rate 0
a0_use_tenant SOURCE source
a0_start_redis
export A0_REDIS_URL=$REDIS_URL
"$A0_BIN/coordinator/a0migrate" export --out "$A0_TMP/export.ndjson.gz" \
    2>"$A0_TMP/export.log"
gzip -dc "$A0_TMP/export.ndjson.gz" >"$A0_TMP/input.ndjson"

# Requests by kind from a0sim's counters ("METHOD ROUTE STATUS": count):
# "posts polls error-reads other".
kinds() {
    jq -r '.requests | to_entries
        | map(select(.key | startswith("POST /oauth") | not)) as $all
        | def n(re): [$all[] | select(.key | test(re)) | .value] | add // 0;
        [ n("^POST /api/v2/jobs/users-imports "),
          n("^GET /api/v2/jobs/\\{id\\} "),
          n("^GET /api/v2/jobs/\\{id\\}/errors "),
          n("^(?!POST /api/v2/jobs/users-imports |GET /api/v2/jobs/)") ]
        | map(tostring) | join(" ")'
}

run_one() {
    local w=$1 name="t$1"
    a0_start_sim "$name" --rate 16 --burst 50 --import-rate "$import_rate" \
        --max-active-imports 2
    a0_use_tenant TARGET "$name"
    local url_var="${name^^}_URL"
    local url=${!url_var}
    local t0 t1
    t0=$(date +%s%3N)
    "$A0_BIN/coordinator/a0migrate" run --input "$A0_TMP/input.ndjson" \
        --run-id "bench$w" --local-workers "$w" --plan enterprise \
        --plan-share "$share" --batch-users "$batch" \
        >"$A0_TMP/run$w.out" 2>"$A0_TMP/run$w.log" || true
    t1=$(date +%s%3N)
    curl -sf "$url/__sim/requests" >"$A0_TMP/req$w.ndjson"
    local counters imported batches rps
    counters=$(curl -sf "$url/__sim/counters")
    imported=$("$A0_BIN/coordinator/a0migrate" status --run-id "bench$w" \
        --json | jq -r '.imported // 0')
    batches=$("$A0_BIN/coordinator/a0migrate" status --run-id "bench$w" \
        --json | jq -r '.batches // 0')
    rps=$($CHECK rate "$A0_TMP/req$w.ndjson" 0)
    most=$($CHECK window "$A0_TMP/req$w.ndjson" 1000)
    read -r post polls errors other <<<"$(kinds <<<"$counters")"
    awk -v w="$w" -v rps="$rps" -v al="$allowed" -v maxw="$most" \
        -v lim="$(jq -r .rate_limited <<<"$counters")" \
        -v post="$post" -v polls="$polls" -v errs="$errors" -v other="$other" \
        -v b="$batches" -v u="$imported" -v ms="$((t1 - t0))" \
        'BEGIN {
            printf "| %d | %.2f / %s | %d | %d | %d ", w, rps, al, maxw, lim, b
            printf "| %d / %d / %d (+%d) ", post, polls, errs, other
            printf "| %.2f | %d | %.1f | %.0f |\n",
                b ? (post + polls + errs) / b : 0, u, ms / 1000,
                ms ? u * 1000 / ms : 0
        }'
}

header="| workers | requests/s achieved / allowed | most in 1 s | 429s |"
header+=" batches | POST / polls / error reads (+other) | requests per batch |"
header+=" users imported | seconds | users/s |"
header+=$'\n'"|$(printf ' --- |%.0s' $(seq 10))"
rows=""
for w in ${BENCH_WORKERS:-1 2 4 8}; do
    row=$(run_one "$w")
    echo "$row" >&2
    rows+="$row"$'\n'
done

table="$header
$rows"
echo "$table"
if [ "$write" = 1 ]; then
    {
        echo
        echo "## Farm rate limit and job slots: share $share, jobs at" \
            "$import_rate users/s (bench_farm.sh)"
        echo
        echo "$(date -u +%Y-%m-%d), $(nproc) cores. a0sim target with Auth0's"
        echo "enterprise limits (16 requests/s, burst 50, 2 import jobs at a"
        echo "time), jobs importing $import_rate users/s; $users generated"
        echo "users in batches of at most $batch; farm on --plan enterprise"
        echo "--plan-share $share ($allowed requests/s, burst 10). Requests"
        echo "are Management API calls in a0sim's log (the token request is"
        echo "not one)."
        echo "\"most in 1 s\" is the largest count in any 1-second window."
        echo
        echo "$table"
    } >>"$here/RESULTS.md"
fi
