#!/usr/bin/env bash
# A batch Auth0 refuses with 413 is split in two, recursively, until every
# part fits; the split survives a resume, and nobody is imported twice.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

a0_start_redis
a0_start_sim target --import-rate 0
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL

# 2,400 users of about 700 bytes each: 1,000 of them are ~700 KB, over
# Auth0's 512,000-byte request limit, which this run is told to ignore.
input="$A0_TMP/fat.ndjson"
bio=$(printf 'x%.0s' $(seq 1 560))
for i in $(seq 1 2400); do
    printf '{"user_id":"auth0|fat%05d","email":"fat%05d@example.test",' "$i" "$i"
    printf '"email_verified":true,"identities":[{"connection":'
    printf '"Username-Password-Authentication","provider":"auth0",'
    printf '"user_id":"fat%05d","isSocial":false}],' "$i"
    printf '"user_metadata":{"bio":"%s"}}\n' "$bio"
done >"$input"

run() {
    set +e
    "$A0_BIN/coordinator/a0migrate" run --input "$input" --run-id split \
        --local-workers 2 --rate 100 --burst 20 --max-request-bytes 1000000 \
        >"$A0_TMP/run$1.out" 2>"$A0_TMP/run$1.log"
    echo $?
    set -e
}
stats() {
    "$A0_BIN/coordinator/a0migrate" status --run-id split --json |
        jq -r ".$1 // 0"
}

check "first run succeeds" 0 "$(run 1)"
check "everyone imported" 2400 "$(stats imported)"
check "nobody pending" 0 "$(stats pending)"
splits=$(grep -c "was too large for Auth0; split" "$A0_TMP/run1.log" || true)
# Batches of 1,000, 1,000 and 400 users: the last one fits as it is.
check "the two full batches were split" 2 "$splits"
counters=$(curl -sf "$TARGET_URL/__sim/counters")
check "413s were answered" 2 \
    "$(jq -r '.requests["POST /api/v2/jobs/users-imports 413"] // 0' \
        <<<"$counters")"
check "each user inserted once" 0 \
    "$(jq -r .inserts.ids_inserted_more_than_once <<<"$counters")"
check "target holds everyone" 2400 \
    "$(curl -sf "$TARGET_URL/__sim/users" | grep -c .)"
state=$(redis-cli -p "$REDIS_PORT" hget 'a0m:{split}:batch:1' state)
check "the parent batch is SPLIT" SPLIT "$state"
ledger=0
for key in $(redis-cli -p "$REDIS_PORT" --scan --pattern 'a0m:{split}:users:*'); do
    ledger=$((ledger + $(redis-cli -p "$REDIS_PORT" hlen "$key")))
done
check "each user once in the ledger" 2400 "$ledger"

jobs=$(jq -r .jobs.created <<<"$counters")
check "resume succeeds" 0 "$(run 2)"
check "resume rebuilt the split and posted nothing" "$jobs" \
    "$(curl -sf "$TARGET_URL/__sim/counters" | jq -r .jobs.created)"
check "resume still counts everyone imported" 2400 "$(stats imported)"

set +e
"$A0_BIN/coordinator/a0migrate" run --input "$input" --run-id split \
    --max-request-bytes 1000000 --batch-users 500 >/dev/null \
    2>"$A0_TMP/changed.log"
changed=$?
set -e
check "a resume with other plan settings is refused" 2 "$changed"
check "the refusal names the settings" yes \
    "$(grep -q 'other inputs or settings' "$A0_TMP/changed.log" && echo yes || echo no)"

a0_finish
