#!/usr/bin/env bash
# Integration test of a0sim's fault injection (/__sim/faults): injected
# statuses, rate-limit 429s, delays, dropped connections before and after
# handling, failed and stuck jobs, and the job timeout that ends a stuck
# job. Needs curl and jq; talks to 127.0.0.1 only.
set -euo pipefail

BIN=${A0_BIN:?set A0_BIN to the build directory}/sim/a0sim
TMP=$(mktemp -d)
PID=
SECRET="fault-secret-$RANDOM"
PASS=0
FAIL=0

cleanup()
{
    if [[ -n $PID ]]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

check()
{
    if [[ "$2" == "$3" ]]; then
        PASS=$((PASS + 1))
    else
        FAIL=$((FAIL + 1))
        echo "FAIL: $1: expected [$2], got [$3]" >&2
    fi
}

"$BIN" --port 0 --port-file "$TMP/port" --client-id cid --client-secret "$SECRET" \
    --import-rate 0 --job-timeout-s 2 2>"$TMP/log" &
PID=$!
for _ in $(seq 1 100); do
    [[ -s $TMP/port ]] && break
    sleep 0.05
done
B=http://127.0.0.1:$(cat "$TMP/port")

req()
{
    local method=$1 url=$2
    shift 2
    CURL_RC=0
    ST=$(curl -s -X "$method" -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' \
        "$url" "$@") || CURL_RC=$?
}
body() { cat "$TMP/body"; }
jqb() { jq -r "$@" "$TMP/body"; }
header() { grep -i "^$1:" "$TMP/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
arm() { req POST "$B/__sim/faults" -H 'content-type: application/json' -d "$1"; }

TOK=$(curl -s -X POST "$B/oauth/token" -d grant_type=client_credentials -d client_id=cid \
    --data-urlencode "client_secret=$SECRET" -d audience=https://sim.local/api/v2/ |
    jq -r .access_token)
AUTH=(-H "Authorization: Bearer $TOK")
CONN=$(curl -s "$B/api/v2/connections" "${AUTH[@]}" | jq -r '.[0].id')
echo '[{"email":"f1@example.test"}]' >"$TMP/one.json"
import_one()
{
    req POST "$B/api/v2/jobs/users-imports" "${AUTH[@]}" -F "users=@$TMP/one.json" \
        -F "connection_id=$CONN" "$@"
}
wait_job()
{
    for _ in $(seq 1 100); do
        req GET "$B/api/v2/jobs/$1" "${AUTH[@]}"
        case $(jqb .status) in completed|failed) return 0 ;; esac
        sleep 0.05
    done
}

# --- rules --------------------------------------------------------------------
arm '{"match":"GET /api/v2/connections","action":"status","status":503,"count":2}'
check "arm status" 200 "$ST"
check "armed list" '[{"match":"GET /api/v2/connections","action":"status","count":2,"status":503}]' "$(jq -c . "$TMP/body")"
arm '{"match":"GET /api/v2/connections","action":"explode"}'
check "unknown action" "400|unknown action" "$ST|$(jqb .message)"
arm 'not json'
check "bad body" 400 "$ST"

# --- injected status ------------------------------------------------------------
req GET "$B/api/v2/connections" "${AUTH[@]}"
check "503 once" '503|{"statusCode":503,"error":"Service Unavailable","message":"Service Unavailable"}' "$ST|$(body)"
req GET "$B/api/v2/connections" "${AUTH[@]}"
check "503 twice" 503 "$ST"
req GET "$B/api/v2/connections" "${AUTH[@]}"
check "then normal" 200 "$ST"
req GET "$B/__sim/faults"
check "rule used up" '[]' "$(jq -c . "$TMP/body")"

# --- injected rate limit ----------------------------------------------------------
arm '{"match":"*","action":"rate_limit","count":1}'
req GET "$B/api/v2/jobs/job_AAAAAAAAAAAAAAAA" "${AUTH[@]}"
NOW=$(date +%s)
check "fake 429" "429|too_many_requests" "$ST|$(jqb .errorCode)"
check "fake 429 remaining" 0 "$(header x-ratelimit-remaining)"
check "fake 429 reset" 1 "$(( $(header x-ratelimit-reset) >= NOW && $(header x-ratelimit-reset) <= NOW + 2 ? 1 : 0 ))"
check "fake 429 counted" 1 "$(curl -s "$B/__sim/counters" | jq .rate_limited)"

# --- token endpoint ---------------------------------------------------------------
arm '{"match":"POST /oauth/token","action":"status","status":500}'
req POST "$B/oauth/token" -d grant_type=client_credentials
check "token 500" 500 "$ST"

# --- delay, on its own connection -----------------------------------------------------
arm '{"match":"GET /api/v2/users/{id}","action":"delay","delay_ms":1500}'
T0=$(date +%s%N)
curl -s -o /dev/null "$B/api/v2/users/auth0%7Cslow" "${AUTH[@]}" &
SLOW=$!
sleep 0.2
req GET "$B/api/v2/connections" "${AUTH[@]}"
T1=$(date +%s%N)
check "other requests not held up" 1 "$(( (T1 - T0) / 1000000 < 1000 ? 1 : 0 ))"
wait "$SLOW"
T2=$(date +%s%N)
check "delayed request waited" 1 "$(( (T2 - T0) / 1000000 >= 1400 ? 1 : 0 ))"

# --- dropped connections ----------------------------------------------------------------
arm '{"match":"POST /api/v2/jobs/users-imports","action":"drop"}'
import_one
check "drop: no response" 52 "$CURL_RC"
check "drop: no job" 0 "$(curl -s "$B/__sim/counters" | jq .jobs.created)"
arm '{"match":"POST /api/v2/jobs/users-imports","action":"drop_after"}'
import_one
check "drop_after: no response" 52 "$CURL_RC"
sleep 0.3
check "drop_after: job created" 1 "$(curl -s "$B/__sim/counters" | jq .jobs.created)"
check "drop_after: user inserted" 1 "$(curl -s "$B/__sim/inserts" | grep -c '"count":1')"
check "drop_after: logged as 202" 1 "$(curl -s "$B/__sim/requests" | grep -c '"route":"/api/v2/jobs/users-imports","status":202')"
check "drop: logged as 0" 1 "$(curl -s "$B/__sim/requests" | grep -c '"route":"/api/v2/jobs/users-imports","status":0')"

# --- failed and stuck jobs -----------------------------------------------------------------
arm '{"match":"POST /api/v2/jobs/users-imports","action":"job_fail"}'
import_one
check "job_fail accepted" 202 "$ST"
J=$(jqb .id)
wait_job "$J"
check "job_fail fails" "failed|Internal error." "$(jqb '"\(.status)|\(.status_details)"')"
arm '{"match":"POST /api/v2/jobs/users-imports","action":"job_stuck","count":2}'
import_one
S1=$(jqb .id)
import_one
check "stuck jobs hold the slots" 202 "$ST"
sleep 0.5
req GET "$B/api/v2/jobs/$S1" "${AUTH[@]}"
check "stuck job pending" pending "$(jqb .status)"
import_one
check "slots full" 429 "$ST"
sleep 1.5
wait_job "$S1"
check "stuck job times out" "failed|Job timed out." "$(jqb '"\(.status)|\(.status_details)"')"
import_one
check "slot free again" 202 "$ST"
req DELETE "$B/__sim/faults"
check "clear" 204 "$ST"

kill -TERM "$PID"
RC=0
wait "$PID" || RC=$?
PID=
check "SIGTERM exit status" 0 "$RC"
check "no sanitizer report" 0 "$(grep -c -e 'runtime error' -e 'Sanitizer' "$TMP/log" || true)"
check "log has no secret" 0 "$(grep -c -F "$SECRET" "$TMP/log" || true)"

# --- faults from flags ----------------------------------------------------------------
# flagged NAME ARGS...: starts a simulator with fault flags; sets FB and FAUTH.
flagged()
{
    local dir=$TMP/$1
    shift
    mkdir -p "$dir"
    "$BIN" --port 0 --port-file "$dir/port" --client-id cid --client-secret "$SECRET" \
        --import-rate 0 "$@" 2>"$dir/log" &
    PID=$!
    for _ in $(seq 1 100); do
        [[ -s $dir/port ]] && break
        sleep 0.05
    done
    FB=http://127.0.0.1:$(cat "$dir/port")
    local t
    t=$(curl -s -X POST "$FB/oauth/token" -d grant_type=client_credentials -d client_id=cid \
        --data-urlencode "client_secret=$SECRET" -d audience=https://sim.local/api/v2/ |
        jq -r .access_token)
    FAUTH=(-H "Authorization: Bearer $t")
}
stop_flagged()
{
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
}
statuses()
{
    local n=$1 url=$2 i
    shift 2
    for i in $(seq 1 "$n"); do
        curl -s -o /dev/null -w '%{http_code}\n' "$url" "$@" || true
    done | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'
}

flagged all5xx --fault-5xx-share 1 --fault-5xx-status 502
req GET "$FB/api/v2/connections" "${FAUTH[@]}"
check "flag: 5xx" "502|Bad Gateway" "$ST|$(jqb .error)"
check "flag: rule listed" '[{"match":"*","action":"status","count":-1,"status":502}]' "$(curl -s "$FB/__sim/faults" | jq -c .)"
req POST "$FB/oauth/token" -d grant_type=client_credentials
check "flag: token endpoint spared" 401 "$ST"
stop_flagged

flagged half --fault-5xx-share 0.5 --fault-seed 11
A=$(statuses 200 "$FB/api/v2/connections" "${FAUTH[@]}")
N503=$(sed -n 's/.*503:\([0-9]*\).*/\1/p' <<<"$A")
check "flag: share 0.5 of 200 fire (60..140)" 1 "$(( N503 >= 60 && N503 <= 140 ? 1 : 0 ))"
stop_flagged
flagged half2 --fault-5xx-share 0.5 --fault-seed 11
check "flag: seeded draws repeat" "$A" "$(statuses 200 "$FB/api/v2/connections" "${FAUTH[@]}")"
stop_flagged

flagged limited --fault-429-share 1
req GET "$FB/api/v2/users/auth0%7Cx" "${FAUTH[@]}"
check "flag: 429" "429|Global limit has been reached|0" "$ST|$(jqb .message)|$(header x-ratelimit-remaining)"
stop_flagged

flagged dropped --fault-drop-share 1
req GET "$FB/api/v2/connections" "${FAUTH[@]}"
check "flag: drop" 52 "$CURL_RC"
stop_flagged

flagged postdrop --fault-post-drop-share 1
CONN=$(curl -s "$FB/api/v2/connections" "${FAUTH[@]}" | jq -r '.[0].id')
check "flag: GET not dropped" true "$(jq -rn --arg c "$CONN" '$c | startswith("con_")')"
req POST "$FB/api/v2/jobs/users-imports" "${FAUTH[@]}" -F "users=@$TMP/one.json" -F "connection_id=$CONN"
check "flag: POST dropped" 52 "$CURL_RC"
sleep 0.3
check "flag: POST took effect" "1|1" "$(curl -s "$FB/__sim/counters" | jq -r '"\(.jobs.created)|\(.inserts.total)"')"
stop_flagged

flagged slow --fault-slow-ms 400
T0=$(date +%s%N)
req GET "$FB/api/v2/connections" "${FAUTH[@]}"
T1=$(date +%s%N)
check "flag: slow" "200|1" "$ST|$(( (T1 - T0) / 1000000 >= 380 ? 1 : 0 ))"
stop_flagged
flagged slowfail --fault-slow-ms 300 --fault-5xx-share 1
T0=$(date +%s%N)
req GET "$FB/api/v2/connections" "${FAUTH[@]}"
T1=$(date +%s%N)
check "flag: slow, then 5xx" "503|1" "$ST|$(( (T1 - T0) / 1000000 >= 280 ? 1 : 0 ))"
stop_flagged

flagged jobs --fault-job-fail-share 1
CONN=$(curl -s "$FB/api/v2/connections" "${FAUTH[@]}" | jq -r '.[0].id')
req POST "$FB/api/v2/jobs/users-imports" "${FAUTH[@]}" -F "users=@$TMP/one.json" -F "connection_id=$CONN"
J=$(jqb .id)
sleep 0.3
req GET "$FB/api/v2/jobs/$J" "${FAUTH[@]}"
check "flag: job fails" failed "$(jqb .status)"
stop_flagged
flagged stuck --fault-job-stuck-share 1
CONN=$(curl -s "$FB/api/v2/connections" "${FAUTH[@]}" | jq -r '.[0].id')
req POST "$FB/api/v2/jobs/users-imports" "${FAUTH[@]}" -F "users=@$TMP/one.json" -F "connection_id=$CONN"
J=$(jqb .id)
sleep 0.3
req GET "$FB/api/v2/jobs/$J" "${FAUTH[@]}"
check "flag: job stays pending" pending "$(jqb .status)"
stop_flagged

"$BIN" --client-id cid --client-secret x --fault-5xx-share 2 2>/dev/null && RC=0 || RC=$?
check "flag: share out of range" 2 "$RC"

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
