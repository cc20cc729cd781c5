#!/usr/bin/env bash
# Benchmark of a0sim with limits off: requests per second on loopback
# (wrk, Debian package "wrk": GET /api/v2/users/{id} with a bearer token,
# and GET /api/v2/jobs/{id}) and import processing speed (users per second
# the job worker validates and stores, read from /__sim/counters, plus the
# wall time of the whole run of jobs). Usage: tests/bench/bench_sim.sh
# [BUILD_DIR] [SECONDS]. Prints one "name value unit" line per figure.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$SRC/build}/sim/a0sim
SECS=${2:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
TMP=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

"$BIN" --port 0 --port-file "$TMP/port" --client-id bench --client-secret bench-secret \
    --import-rate 0 --generate 10000 --seed 1 --max-active-imports 2 \
    --log-level warn 2>"$TMP/log" &
PID=$!
for _ in $(seq 1 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
B=http://127.0.0.1:$(cat "$TMP/port")
TOK=$(curl -s "$B/oauth/token" -d grant_type=client_credentials -d client_id=bench \
    -d client_secret=bench-secret --data-urlencode audience=https://sim.local/api/v2/ |
    jq -r .access_token)
AUTH="Authorization: Bearer $TOK"
UID1=$(curl -s "$B/api/v2/users?per_page=1" -H "$AUTH" | jq -r '.[0].user_id | @uri')

rps() { wrk -t2 -c"$2" -d"${SECS}s" -H "$AUTH" "$1" | awk '/^Requests\/sec/ {print $2}'; }
echo "get_user_rps_c16 $(rps "$B/api/v2/users/$UID1" 16) req/s"
echo "get_user_rps_c64 $(rps "$B/api/v2/users/$UID1" 64) req/s"
echo "get_connections_rps_c16 $(rps "$B/api/v2/connections" 16) req/s"

# Import processing: 40 jobs of 1,000 users each (about 200 KB per file),
# two at a time as Auth0 allows.
python3 - "$TMP" <<'PY'
import json, sys
for j in range(40):
    users = [{"email": "b%d-%d@example.test" % (j, i), "email_verified": True,
              "given_name": "G%d" % i, "user_metadata": {"plan": "pro", "n": i},
              "password_hash": "$2b$10$KIB5sWJ3SgFc3pbn7iIibOXSPpDaH6HKqsGE.u/npam9hRAxxytSO"}
             for i in range(1000)]
    json.dump(users, open("%s/job%d.json" % (sys.argv[1], j), "w"))
PY
CONN=$(curl -s "$B/api/v2/connections" -H "$AUTH" | jq -r '.[0].id')
T0=$(date +%s%N)
for j in $(seq 0 39); do
    until R=$(curl -s -w '\n%{http_code}' "$B/api/v2/jobs/users-imports" -H "$AUTH" \
              -F "users=@$TMP/job$j.json" -F "connection_id=$CONN" \
              -F send_completion_email=false) && [ "$(tail -1 <<<"$R")" = 202 ]; do
        sleep 0.002
    done
done
until [ "$(curl -s "$B/__sim/counters" | jq '.jobs.completed')" = 40 ]; do sleep 0.01; done
T1=$(date +%s%N)
C=$(curl -s "$B/__sim/counters")
USERS=$(jq .jobs.users_processed <<<"$C")
US=$(jq .jobs.processing_us <<<"$C")
echo "import_users $USERS users"
echo "import_processing_users_per_s $(( USERS * 1000000 / (US > 0 ? US : 1) )) users/s"
echo "import_end_to_end_users_per_s $(( USERS * 1000000000 / (T1 - T0) )) users/s"
echo "inserted $(jq .inserts.total <<<"$C") users"
