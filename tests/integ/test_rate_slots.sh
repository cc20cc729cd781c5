#!/usr/bin/env bash
# The import-job cap: four workers, 20 batches, 2 job slots, against an
# a0sim that would take 10 jobs at once. No more than 2 jobs may ever be
# active there. One worker is killed with SIGKILL right after it submits a
# job: that job's slot must stay held (a0m:{T}:jobs) for as long as the job
# runs, until another worker adopts the batch and polls the job to its end.
# Then a tenant that runs one job at a time while the farm thinks it may
# run two: its "active import users jobs" 429s put batches back behind the
# semaphore and never pause the farm.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

a0_start_redis
a0_start_sim source --generate 515 --seed 3 --import-rate 0
a0_start_sim target --import-rate 10 --max-active-imports 10
a0_use_tenant SOURCE source
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
JOBS='a0m:{target.sim.local}:jobs'

"$A0_BIN/coordinator/a0migrate" export --out "$A0_TMP/export.ndjson.gz" \
    2>"$A0_TMP/export.log"
gzip -dc "$A0_TMP/export.ndjson.gz" >"$A0_TMP/input.ndjson"

port=$(a0_free_port)
"$A0_BIN/coordinator/a0migrate" run --input "$A0_TMP/input.ndjson" \
    --run-id cap --bind "tcp://127.0.0.1:$port" --job-slots 2 \
    --rate 50 --burst 20 --batch-users 25 --lease-ms 4000 \
    --heartbeat-ms 500 --liveness 4 --reconcile-wait-ms 20000 \
    >"$A0_TMP/run.out" 2>"$A0_TMP/run.log" &
coord=$!
A0_PIDS+=("$coord")
workers=()
for i in 1 2 3 4; do
    "$A0_BIN/worker/a0migrate-worker" --coordinator "tcp://127.0.0.1:$port" \
        --heartbeat-ms 500 >"$A0_TMP/worker$i.log" 2>&1 &
    workers+=($!)
    A0_PIDS+=($!)
done

# Samples the farm's holders and the tenant's active jobs while the run
# lasts.
(
    while kill -0 "$coord" 2>/dev/null; do
        echo "$(rcli zcard "$JOBS") $(curl -sf "$TARGET_URL/__sim/counters" |
            jq -r .jobs.active)"
        sleep 0.1
    done
) >"$A0_TMP/samples.txt" &
A0_PIDS+=($!)

# The first batch to reach SUBMITTED, and its worker.
submitted() {
    local key
    for key in $(rcli --scan --pattern 'a0m:{cap}:batch:*'); do
        if [ "$(rcli hget "$key" state)" = SUBMITTED ]; then
            echo "$key"
            return 0
        fi
    done
    return 1
}
a0_wait_for submitted 30 || true
batch_key=$(submitted)
wid=$(rcli hget "$batch_key" worker)
job=$(rcli hget "$batch_key" job_id)
holder="cap:${batch_key##*:}"
victim=""
for i in 1 2 3 4; do
    if grep -q "worker $wid connecting" "$A0_TMP/worker$i.log"; then
        victim=${workers[$((i - 1))]}
    fi
done
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
echo "# killed worker pid $victim right after it submitted $job"

token=$(curl -s -X POST "$TARGET_URL/oauth/token" \
    --data-urlencode grant_type=client_credentials \
    --data-urlencode client_id=target-client \
    --data-urlencode client_secret=target-secret \
    --data-urlencode "audience=https://target.sim.local/api/v2/" |
    jq -r .access_token)
job_status() {
    curl -s -H "Authorization: Bearer $token" \
        "$TARGET_URL/api/v2/jobs/$job" | jq -r .status
}

# Until the batch is done: whenever the tenant still runs the job, its
# slot must be held.
running_held=0 running_free=0 deadline=$(($(date +%s) + 60))
while [ "$(rcli hget "$batch_key" state)" != DONE ] &&
    [ "$(date +%s)" -lt "$deadline" ]; do
    held=$(rcli zscore "$JOBS" "$holder")
    st=$(job_status)
    if [ "$st" != completed ] && [ "$st" != failed ]; then
        if [ -n "$held" ]; then
            running_held=$((running_held + 1))
        else
            running_free=$((running_free + 1))
        fi
    fi
    sleep 0.2
done
check "the dead worker's job was seen running with its slot held" yes \
    "$([ "$running_held" -gt 0 ] && echo yes || echo "no ($running_held)")"
check "its slot was never free while the job ran" 0 "$running_free"
check "the batch ended DONE" DONE "$(rcli hget "$batch_key" state)"
check "another worker finished it" yes \
    "$([ "$(rcli hget "$batch_key" worker)" != "$wid" ] && echo yes || echo no)"
check "its slot was released when the job ended" "" \
    "$(rcli zscore "$JOBS" "$holder")"

set +e
wait "$coord"
rc=$?
set -e
# A worker told to stop after its coordinator left would wait for it.
for pid in "${workers[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
cat "$A0_TMP/run.out"
check "run exit status" 0 "$rc"
stats() {
    "$A0_BIN/coordinator/a0migrate" status --run-id cap --json |
        jq -r ".$1 // 0"
}
counters=$(curl -sf "$TARGET_URL/__sim/counters")
check "20 batches" 20 "$(stats batches)"
check "no user left pending" 0 "$(stats pending)"
# A POST cut short by the kill may have imported users that a later
# attempt then finds present.
check "every imported or present user inserted exactly once" \
    "$(($(stats imported) + $(stats present))) 0" \
    "$(jq -r '"\(.inserts.total) \(.inserts.ids_inserted_more_than_once)"' \
        <<<"$counters")"
check "never more than 2 jobs active on the tenant" yes \
    "$([ "$(jq -r .jobs.max_active <<<"$counters")" -le 2 ] && echo yes ||
        jq -r .jobs.max_active <<<"$counters")"
check "every job created ran to completion" \
    "$(jq -r .jobs.created <<<"$counters")" \
    "$(jq -r .jobs.completed <<<"$counters")"
check "never more than 2 holders in $JOBS" yes \
    "$(awk '$1 > 2 { bad = 1 } END { print bad ? "no" : "yes" }' \
        "$A0_TMP/samples.txt")"
check "no rate-limit 429" 0 "$(jq -r .rate_limited <<<"$counters")"

# ---- a tenant busy with a job the farm does not know of ----
a0_start_sim busy --import-rate 40 --max-active-imports 1
a0_use_tenant TARGET busy
head -200 "$A0_TMP/input.ndjson" >"$A0_TMP/input2.ndjson"
set +e
"$A0_BIN/coordinator/a0migrate" run --input "$A0_TMP/input2.ndjson" \
    --run-id busy --local-workers 2 --job-slots 2 --rate 50 --burst 20 \
    --batch-users 20 >"$A0_TMP/busy.out" 2>"$A0_TMP/busy.log"
rc=$?
set -e
check "busy run exit status" 0 "$rc"
counters=$(curl -sf "$BUSY_URL/__sim/counters")
caps=$(jq -r '.requests["POST /api/v2/jobs/users-imports 429"] // 0' \
    <<<"$counters")
check "the tenant refused jobs for its own count" yes \
    "$([ "$caps" -gt 0 ] && echo yes || echo "no ($caps)")"
check "which never paused the farm" "" \
    "$(rcli hget 'a0m:{busy.sim.local}:rl:stats' penalties)"
check "busy: no user left pending" 0 \
    "$("$A0_BIN/coordinator/a0migrate" status --run-id busy --json |
        jq -r '.pending // 0')"
check "busy: one job at a time on the tenant" 1 \
    "$(jq -r .jobs.max_active <<<"$counters")"

a0_finish
