#!/usr/bin/env bash
# The demo: a private Redis and two simulated tenants on free loopback
# ports (source with 10,000 generated users, target empty), an export of the
# source, a migration with 4 workers, the summary, and a check that the
# target holds exactly the users counted imported. Stops everything it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
export A0_BIN=$PWD/build A0_SRC=$PWD
. tests/lib.sh

users=${A0_DEMO_USERS:-10000}
echo "== starting Redis and two simulated tenants"
a0_start_redis
a0_start_sim source --generate "$users" --seed 42 --import-rate 0
a0_start_sim target --import-rate 20000
a0_use_tenant SOURCE source
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL

echo "== exporting $users users from the source tenant"
build/coordinator/a0migrate export --out "$A0_TMP/source.ndjson.gz"

echo "== migrating with 4 workers"
start=$(date +%s.%N)
set +e
build/coordinator/a0migrate run --input "$A0_TMP/source.ndjson.gz" \
    --run-id demo --local-workers 4 --rate 50 --burst 20 \
    2>"$A0_TMP/run.log"
rc=$?
set -e
end=$(date +%s.%N)
echo "exit status $rc, $(echo "$end - $start" | awk '{ printf "%.1f", $1 - $3 }') s"

imported=$(build/coordinator/a0migrate status --run-id demo --json |
    jq -r '.imported // 0')
in_target=$(curl -sf "$TARGET_URL/__sim/users" | grep -c . || true)
twice=$(curl -sf "$TARGET_URL/__sim/counters" |
    jq -r .inserts.ids_inserted_more_than_once)
echo "== target holds $in_target users; $imported counted imported;" \
    "$twice inserted more than once"
if [ "$in_target" != "$imported" ] || [ "$twice" != 0 ]; then
    echo "demo: MISMATCH (log: $A0_TMP/run.log)" >&2
    A0_KEEP_TMP=1
    exit 1
fi
echo "demo: OK"
