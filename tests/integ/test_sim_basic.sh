#!/usr/bin/env bash
# Integration test of a0sim against its documented Auth0 behaviour: token
# grant, bearer checks, connections, users, import jobs (validation,
# duplicates, upsert, job-level failure, concurrency cap, size cap), export
# jobs and their links, the rate limiter, the /__sim inspection endpoints
# and a clean SIGTERM. Needs curl, jq, gzip; talks to 127.0.0.1 only.
set -euo pipefail

BIN=${A0_BIN:?set A0_BIN to the build directory}/sim/a0sim
TMP=$(mktemp -d)
PIDS=()
SECRET="s3cr3t-$RANDOM-$RANDOM-not-logged"
AUD="https://sim.local/api/v2/"
PASS=0
FAIL=0

cleanup()
{
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
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

# start_sim NAME ARGS...: starts a simulator, sets PORT_<NAME> and PID_<NAME>.
start_sim()
{
    local name=$1
    shift
    local dir=$TMP/$name
    mkdir -p "$dir"
    "$BIN" --port 0 --port-file "$dir/port" --client-id cid \
        --client-secret "$SECRET" "$@" 2>"$dir/log" &
    local pid=$!
    PIDS+=("$pid")
    local i
    for i in $(seq 1 100); do
        [[ -s $dir/port ]] && break
        sleep 0.05
    done
    [[ -s $dir/port ]] || { echo "a0sim $name did not start" >&2; exit 1; }
    printf -v "PORT_$name" '%s' "$(cat "$dir/port")"
    printf -v "PID_$name" '%s' "$pid"
}

# req METHOD URL [curl args...]: status into $ST, body into $TMP/body,
# headers into $TMP/headers.
req()
{
    local method=$1 url=$2
    shift 2
    ST=$(curl -s -X "$method" -o "$TMP/body" -D "$TMP/headers" \
        -w '%{http_code}' "$url" "$@")
}

body() { cat "$TMP/body"; }
jqb() { jq -r "$@" "$TMP/body"; }
header() { grep -i "^$1:" "$TMP/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

get_token()
{
    curl -s -X POST "http://127.0.0.1:$1/oauth/token" \
        --data-urlencode grant_type=client_credentials \
        --data-urlencode client_id=cid \
        --data-urlencode "client_secret=$SECRET" \
        --data-urlencode "audience=$AUD" | jq -r .access_token
}

# import PORT TOKEN FILE CONN [extra -F args...]
import()
{
    local port=$1 tok=$2 file=$3 conn=$4
    shift 4
    req POST "http://127.0.0.1:$port/api/v2/jobs/users-imports" \
        -H "Authorization: Bearer $tok" -F "users=@$file;type=application/json" \
        -F "connection_id=$conn" -F send_completion_email=false "$@"
}

# wait_job PORT TOKEN ID: polls until the job is completed or failed.
wait_job()
{
    local i
    for i in $(seq 1 200); do
        req GET "http://127.0.0.1:$1/api/v2/jobs/$3" -H "Authorization: Bearer $2"
        case $(jqb .status) in completed|failed) return 0 ;; esac
        sleep 0.05
    done
    echo "job $3 did not finish" >&2
    return 1
}

start_sim main --generate 200 --seed 1 --export-link-ttl-s 2
M=http://127.0.0.1:$PORT_main

# --- /oauth/token ---------------------------------------------------------
req POST "$M/oauth/token" -H 'content-type: application/json' \
    -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"cid\",\"client_secret\":\"$SECRET\",\"audience\":\"$AUD\"}"
check "token status" 200 "$ST"
check "token type" Bearer "$(jqb .token_type)"
check "token expires_in" 86400 "$(jqb .expires_in)"
check "token scope" "read:users create:users update:users delete:users read:connections read:authentication_methods" "$(jqb .scope)"
check "token is 64 hex" 1 "$(jqb '.access_token | test("^[0-9a-f]{64}$") | if . then 1 else 0 end')"
TOK=$(jqb .access_token)
AUTH=(-H "Authorization: Bearer $TOK")

req POST "$M/oauth/token" -d grant_type=client_credentials -d client_id=cid \
    -d client_secret=wrong --data-urlencode "audience=$AUD"
check "bad secret status" 401 "$ST"
check "bad secret body" '{"error":"access_denied","error_description":"Unauthorized"}' "$(body)"
req POST "$M/oauth/token" -d grant_type=client_credentials -d client_id=other \
    --data-urlencode "client_secret=$SECRET" --data-urlencode "audience=$AUD"
check "bad client status" 401 "$ST"
req POST "$M/oauth/token" -d grant_type=client_credentials -d client_id=cid \
    --data-urlencode "client_secret=$SECRET" -d audience=https://other/api/v2/
check "bad audience status" 403 "$ST"
check "bad audience body" '{"error":"access_denied","error_description":"Service not enabled within domain: https://other/api/v2/"}' "$(body)"
req POST "$M/oauth/token" -d client_id=cid
check "missing grant status" 400 "$ST"
check "missing grant error" invalid_request "$(jqb .error)"
req POST "$M/oauth/token" -d grant_type=authorization_code -d client_id=cid
check "unsupported grant status" 400 "$ST"
check "unsupported grant error" unsupported_grant_type "$(jqb .error)"

# --- bearer checks ----------------------------------------------------------
INVALID='{"statusCode":401,"error":"Unauthorized","message":"Invalid token."}'
req GET "$M/api/v2/connections"
check "no token status" 401 "$ST"
check "no token body" "$INVALID" "$(body)"
req GET "$M/api/v2/connections" -H "Authorization: Bearer 0123456789abcdef"
check "unknown token status" 401 "$ST"
check "unknown token body" "$INVALID" "$(body)"
check "Date header" 1 "$(header Date | grep -c GMT)"

# --- connections ------------------------------------------------------------
req GET "$M/api/v2/connections?strategy=auth0" "${AUTH[@]}"
check "connections status" 200 "$ST"
check "connections count" 1 "$(jqb length)"
check "connection name" Username-Password-Authentication "$(jqb '.[0].name')"
check "connection id pattern" true "$(jqb '.[0].id | test("^con_[A-Za-z0-9]{16}$")')"
check "list leaves enabled_clients out" false "$(jqb '.[0] | has("enabled_clients")')"
CONN=$(jqb '.[0].id')
req GET "$M/api/v2/connections" "${AUTH[@]}"
check "all connections (database + social)" \
    "Username-Password-Authentication google-oauth2" "$(jqb '[.[].name] | join(" ")')"
req GET "$M/api/v2/connections?name=Username-Password-Authentication" "${AUTH[@]}"
check "connection by name" "$CONN" "$(jqb '.[0].id')"
req GET "$M/api/v2/connections/$CONN" "${AUTH[@]}"
check "connection by id" Username-Password-Authentication "$(jqb .name)"
check "connection enabled client" cid "$(jqb '.enabled_clients[0]')"
req GET "$M/api/v2/connections?take=1" "${AUTH[@]}"
check "checkpoint page" "1|1|$CONN" "$(jqb '"\(.connections | length)|\(.next)|\(.connections[0].id)"')"
req GET "$M/api/v2/connections?take=1&from=1" "${AUTH[@]}"
check "checkpoint last page" "google-oauth2|false" "$(jqb '"\(.connections[0].name)|\(has("next"))"')"
req GET "$M/api/v2/connections?include_totals=true&per_page=1&page=1" "${AUTH[@]}"
check "offset envelope" "2|1|1|google-oauth2" "$(jqb '"\(.total)|\(.start)|\(.limit)|\(.connections[0].name)"')"
req GET "$M/api/v2/connections?take=x" "${AUTH[@]}"
check "bad take" 400 "$ST"
req GET "$M/api/v2/connections/con_AAAAAAAAAAAAAAAA" "${AUTH[@]}"
check "connection 404" 404 "$ST"
check "connection 404 body" '{"statusCode":404,"error":"Not Found","message":"The connection does not exist","errorCode":"inexistent_connection"}' "$(body)"
SOCIAL=$(curl -s "$M/api/v2/connections?strategy=google-oauth2" "${AUTH[@]}" | jq -r '.[0].id')

# --- a valid import ---------------------------------------------------------
HASH='$2b$10$KIB5sWJ3SgFc3pbn7iIibOXSPpDaH6HKqsGE.u/npam9hRAxxytSO'
cat >"$TMP/valid.json" <<JSON
[{"email":"Alice@Example.test","email_verified":true,"user_id":"aaaaaaaaaaaaaaaaaaaaaaa1",
  "password_hash":"$HASH","user_metadata":{"a":1,"b":2}},
 {"email":"bob@example.test","username":"Bobby","given_name":"Bob"},
 {"email":"carol@example.test","name":"Carol C","app_metadata":{"plan":"pro"}}]
JSON
import "$PORT_main" "$TOK" "$TMP/valid.json" "$CONN" -F external_id=run1-b1
check "import status" 202 "$ST"
check "import type" users_import "$(jqb .type)"
check "import pending" pending "$(jqb .status)"
check "import connection" Username-Password-Authentication "$(jqb .connection)"
check "import connection_id" "$CONN" "$(jqb .connection_id)"
check "import external_id" run1-b1 "$(jqb .external_id)"
check "import job id" true "$(jqb '.id | test("^job_[A-Za-z0-9]{16}$")')"
check "import created_at" true "$(jqb '.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$")')"
JOB1=$(jqb .id)
wait_job "$PORT_main" "$TOK" "$JOB1"
check "import completed" completed "$(jqb .status)"
check "import summary" '{"failed":0,"updated":0,"inserted":3,"total":3}' "$(jq -c .summary "$TMP/body")"
req GET "$M/api/v2/jobs/$JOB1/errors" "${AUTH[@]}"
check "no errors -> 204" 204 "$ST"
check "204 body empty" "" "$(body)"

req GET "$M/api/v2/users/auth0%7Caaaaaaaaaaaaaaaaaaaaaaa1" "${AUTH[@]}"
check "user get status" 200 "$ST"
check "user email lower-cased" alice@example.test "$(jqb .email)"
check "user name default" alice@example.test "$(jqb .name)"
check "user nickname default" alice "$(jqb .nickname)"
check "user identity" '{"connection":"Username-Password-Authentication","user_id":"aaaaaaaaaaaaaaaaaaaaaaa1","provider":"auth0","isSocial":false}' "$(jq -c '.identities[0]' "$TMP/body")"
check "user has no hash" "false" "$(jqb 'has("password_hash")')"
check "user hash not in body" 0 "$(grep -c -F "$HASH" "$TMP/body" || true)"
check "user created_at" true "$(jqb '.created_at | test("Z$")')"
req GET "$M/api/v2/users/auth0%7Caaaaaaaaaaaaaaaaaaaaaaa1?fields=user_id,email" "${AUTH[@]}"
check "fields filter" "email,user_id" "$(jqb 'keys | join(",")')"
req GET "$M/api/v2/users/auth0%7Caaaaaaaaaaaaaaaaaaaaaaa1?fields=identities,picture&include_fields=false" "${AUTH[@]}"
check "fields excluded" "false|false|true" "$(jqb '"\(has("identities"))|\(has("picture"))|\(has("email"))"')"
req GET "$M/api/v2/users-by-email?email=bob@example.test" "${AUTH[@]}"
check "by email count" 1 "$(jqb length)"
check "by email username lower-cased" bobby "$(jqb '.[0].username')"
check "generated id" true "$(jqb '.[0].user_id | test("^auth0\\|[0-9a-f]{24}$")')"
req GET "$M/api/v2/users-by-email?email=Bob@example.test" "${AUTH[@]}"
check "by email is case-sensitive" 0 "$(jqb length)"

# --- invalid users ----------------------------------------------------------
cat >"$TMP/invalid.json" <<JSON
[{"email_verified":true},
 {"email":"x1@example.test","logins_count":3},
 {"email":"x2@example.test","password_hash":"\$2y\$10\$KIB5sWJ3SgFc3pbn7iIibOXSPpDaH6HKqsGE.u/npam9hRAxxytSO"},
 {"email":"x3@example.test","app_metadata":{"clientID":"z"}},
 {"email":"x4@example.test","password_hash":"$HASH","custom_password_hash":{"algorithm":"md5","hash":{"value":"d41d8cd98f00b204e9800998ecf8427e","encoding":"hex"}}},
 {"email":"x5@","user_metadata":{"a.b":1}},
 {"email":"x6@example.test","email_verified":"yes"},
 {"email":"x7@example.test","mfa_factors":[{"totp":{"secret":"jbswy3dpehpk3pnp===="}}]},
 {"email":"x8@example.test"}]
JSON
import "$PORT_main" "$TOK" "$TMP/invalid.json" "$CONN"
check "invalid import accepted" 202 "$ST"
JOB2=$(jqb .id)
wait_job "$PORT_main" "$TOK" "$JOB2"
check "invalid summary" '{"failed":8,"updated":0,"inserted":1,"total":9}' "$(jq -c .summary "$TMP/body")"
req GET "$M/api/v2/jobs/$JOB2/errors" "${AUTH[@]}"
check "errors status" 200 "$ST"
check "errors entries" 8 "$(jqb length)"
check "missing email" OBJECT_REQUIRED/email "$(jqb '.[0].errors[0] | "\(.code)/\(.path)"')"
check "unknown property" OBJECT_ADDITIONAL_PROPERTIES/logins_count "$(jqb '.[1].errors[0] | "\(.code)/\(.path)"')"
check "bad bcrypt" PATTERN/password_hash "$(jqb '.[2].errors[0] | "\(.code)/\(.path)"')"
check "bad bcrypt redacted" '*****' "$(jqb '.[2].user.password_hash')"
check "reserved app_metadata" NOT_PASSED/app_metadata.clientID "$(jqb '.[3].errors[0] | "\(.code)/\(.path)"')"
check "both hashes" NOT_PASSED/custom_password_hash "$(jqb '.[4].errors[0] | "\(.code)/\(.path)"')"
check "both hashes redacted" '*****|*****' "$(jqb '.[4].user | "\(.password_hash)|\(.custom_password_hash.hash.value)"')"
check "bad email" FORMAT/email "$(jqb '.[5].errors[0] | "\(.code)/\(.path)"')"
check "dotted metadata key" NOT_PASSED/user_metadata.a.b "$(jqb '.[5].errors[1] | "\(.code)/\(.path)"')"
check "wrong type" INVALID_TYPE/email_verified "$(jqb '.[6].errors[0] | "\(.code)/\(.path)"')"
check "totp pattern" PATTERN/mfa_factors[0].totp.secret "$(jqb '.[7].errors[0] | "\(.code)/\(.path)"')"
check "totp redacted" '*****' "$(jqb '.[7].user.mfa_factors[0].totp.secret')"
check "no hash in errors" 0 "$(grep -c -e 'KIB5sWJ3' -e d41d8cd9 -e jbswy3 "$TMP/body" || true)"

# --- duplicates -------------------------------------------------------------
cat >"$TMP/dups.json" <<'JSON'
[{"email":"dave@example.test"},
 {"email":"DAVE@example.test"},
 {"email":"alice@example.test"},
 {"email":"erin@example.test","username":"bobby"},
 {"email":"frank@example.test","user_id":"aaaaaaaaaaaaaaaaaaaaaaa1"}]
JSON
import "$PORT_main" "$TOK" "$TMP/dups.json" "$CONN"
JOB3=$(jqb .id)
wait_job "$PORT_main" "$TOK" "$JOB3"
check "dups summary" '{"failed":4,"updated":0,"inserted":1,"total":5}' "$(jq -c .summary "$TMP/body")"
req GET "$M/api/v2/jobs/$JOB3/errors" "${AUTH[@]}"
check "dup in file" "DUPLICATED_USER|A user with this email was already provided." "$(jqb '.[0].errors[0] | "\(.code)|\(.message)"')"
check "dup existing email" "DUPLICATED_USER|The user already exist and upsert parameter is false" "$(jqb '.[1].errors[0] | "\(.code)|\(.message)"')"
check "dup existing username" DUPLICATED_USER "$(jqb '.[2].errors[0].code')"
check "dup existing user_id" DUPLICATED_USER "$(jqb '.[3].errors[0].code')"
check "dup user echoed" DAVE@example.test "$(jqb '.[0].user.email')"

# --- upsert -----------------------------------------------------------------
cat >"$TMP/upsert.json" <<'JSON'
[{"email":"alice@example.test","user_metadata":{"c":3},"given_name":"Alice","blocked":true}]
JSON
import "$PORT_main" "$TOK" "$TMP/upsert.json" "$CONN" -F upsert=true
JOB4=$(jqb .id)
wait_job "$PORT_main" "$TOK" "$JOB4"
check "upsert summary" '{"failed":0,"updated":1,"inserted":0,"total":1}' "$(jq -c .summary "$TMP/body")"
req GET "$M/api/v2/users/auth0%7Caaaaaaaaaaaaaaaaaaaaaaa1" "${AUTH[@]}"
check "upsert overwrites metadata" '{"c":3}' "$(jq -c .user_metadata "$TMP/body")"
check "upsert sets given_name" Alice "$(jqb .given_name)"
check "upsert ignores blocked" null "$(jqb .blocked)"

# --- password login against the imported hash ----------------------------------
login()
{
    req POST "$M/oauth/token" -d grant_type=http://auth0.com/oauth/grant-type/password-realm \
        -d client_id=cid --data-urlencode "client_secret=$SECRET" \
        -d realm=Username-Password-Authentication --data-urlencode "username=$1" \
        --data-urlencode "password=$2"
}
login Alice@example.test Canary-Pass-1
check "login with imported bcrypt" "200|Bearer" "$ST|$(jqb .token_type)"
LOGIN_TOK=$(jqb .access_token)
login alice@example.test wrong-password
check "wrong password" '403|{"error":"invalid_grant","error_description":"Wrong email or password."}' "$ST|$(body)"
login bob@example.test Canary-Pass-1
check "user imported without hash cannot log in" 403 "$ST"
req GET "$M/api/v2/connections" -H "Authorization: Bearer $LOGIN_TOK"
check "login token is not a Management API token" 401 "$ST"
req GET "$M/api/v2/users/auth0%7Caaaaaaaaaaaaaaaaaaaaaaa1" "${AUTH[@]}"
check "login counted" 1 "$(jqb .logins_count)"

# --- job-level failure ------------------------------------------------------
printf '[{"email":"broken@example.test"' >"$TMP/broken.json"
import "$PORT_main" "$TOK" "$TMP/broken.json" "$CONN"
check "malformed file accepted" 202 "$ST"
JOB5=$(jqb .id)
wait_job "$PORT_main" "$TOK" "$JOB5"
check "malformed file fails job" failed "$(jqb .status)"
check "failed job has no summary" false "$(jqb 'has("summary")')"
req GET "$M/api/v2/jobs/$JOB5/errors" "${AUTH[@]}"
check "failed job errors 204" 204 "$ST"

# --- request validation -----------------------------------------------------
U=$M/api/v2/jobs/users-imports
req POST "$U" "${AUTH[@]}" -F "connection_id=$CONN"
check "missing users" "400|Must provide 'users' file as multipart part." "$ST|$(jqb .message)"
: >"$TMP/empty.json"
req POST "$U" "${AUTH[@]}" -F "users=@$TMP/empty.json" -F "connection_id=$CONN"
check "empty users" "400|Users file must not be empty." "$ST|$(jqb .message)"
req POST "$U" "${AUTH[@]}" -F "users=@$TMP/valid.json"
check "missing connection_id" "400|Must provide 'connection_id' as multipart part." "$ST|$(jqb .message)"
req POST "$U" "${AUTH[@]}" -F "users=@$TMP/valid.json" -F connection_id=Username-Password-Authentication
check "connection_id pattern" "400|Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}\$' on property connection_id." "$ST|$(jqb .message)"
check "400 shape" "400|Bad Request" "$(jqb '"\(.statusCode)|\(.error)"')"
req POST "$U" "${AUTH[@]}" -F "users=@$TMP/valid.json" -F connection_id=con_AAAAAAAAAAAAAAAA
check "unknown connection" "400|The connection does not exist." "$ST|$(jqb .message)"
req POST "$U" "${AUTH[@]}" -F "users=@$TMP/valid.json" -F "connection_id=$SOCIAL"
check "social connection" "400|Connection must be a database connection." "$ST|$(jqb .message)"

# --- 413 --------------------------------------------------------------------
jq -n '[range(0; 12000) | {email: "big\(.)@example.test", user_metadata: {pad: "xxxxxxxxxx"}}]' >"$TMP/big.json"
import "$PORT_main" "$TOK" "$TMP/big.json" "$CONN"
check "413 status" 413 "$ST"
check "413 body" '{"statusCode":413,"error":"Request Entity Too Large","message":"Payload content length greater than maximum allowed: 512000."}' "$(body)"
import "$PORT_main" "$TOK" "$TMP/big.json" "$CONN" -H 'Expect:'
check "413 without 100-continue" 413 "$ST"

# --- users ------------------------------------------------------------------
NOUSER='{"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"}'
req GET "$M/api/v2/users/auth0%7Cnobody" "${AUTH[@]}"
check "user 404" 404 "$ST"
check "user 404 body" "$NOUSER" "$(body)"
CAROL=$(curl -s "$M/api/v2/users-by-email?email=carol@example.test" "${AUTH[@]}" | jq -r '.[0].user_id')
ENC=$(jq -rn --arg s "$CAROL" '$s | @uri')
req DELETE "$M/api/v2/users/$ENC" "${AUTH[@]}"
check "delete 204" 204 "$ST"
req GET "$M/api/v2/users/$ENC" "${AUTH[@]}"
check "deleted user 404" 404 "$ST"
req DELETE "$M/api/v2/users/$ENC" "${AUTH[@]}"
check "delete again 204" 204 "$ST"
req GET "$M/api/v2/jobs/job_AAAAAAAAAAAAAAAA" "${AUTH[@]}"
check "job 404" '404|{"statusCode":404,"error":"Not Found","message":"The job does not exist."}' "$ST|$(body)"

# --- export -----------------------------------------------------------------
USERS=$(curl -s "$M/__sim/users" | wc -l)
check "users after imports" 204 "$USERS"
req POST "$M/api/v2/jobs/users-exports" "${AUTH[@]}" -H 'content-type: application/json' \
    -d '{"format":"json","fields":[{"name":"user_id"},{"name":"email"},{"name":"identities[0].connection","export_as":"connection"}]}'
check "export status" 200 "$ST"
check "export pending" users_export/pending "$(jqb '"\(.type)/\(.status)"')"
EJOB=$(jqb .id)
wait_job "$PORT_main" "$TOK" "$EJOB"
check "export completed" completed "$(jqb .status)"
LOC=$(jqb .location)
check "export location" true "$(jq -r --arg p "http://127.0.0.1:$PORT_main/__exports/$EJOB.json.gz?expires=" '.location | startswith($p)' "$TMP/body")"
curl -s -o "$TMP/export.gz" "$LOC"
check "export lines" "$USERS" "$(gunzip -c "$TMP/export.gz" | wc -l)"
check "export keys" "connection,email,user_id" "$(gunzip -c "$TMP/export.gz" | head -1 | jq -r 'keys | join(",")')"
check "export has alice" 1 "$(gunzip -c "$TMP/export.gz" | grep -c '"alice@example.test"')"
req POST "$M/api/v2/jobs/users-exports" "${AUTH[@]}" -H 'content-type: application/json' \
    -d "{\"format\":\"json\",\"connection_id\":\"$CONN\"}"
EJOB2=$(jqb .id)
wait_job "$PORT_main" "$TOK" "$EJOB2"
curl -s "$(jqb .location)" | gunzip -c >"$TMP/export2.ndjson"
check "default fields include identities" true "$(head -1 "$TMP/export2.ndjson" | jq 'has("identities") and has("user_id") and has("created_at")')"
check "connection filter" 0 "$(grep -c '"google-oauth2|' "$TMP/export2.ndjson" || true)"
req POST "$M/api/v2/jobs/users-exports" "${AUTH[@]}" -H 'content-type: application/json' -d '{"format":"xml"}'
check "export bad format" 400 "$ST"
sleep 3.2
req GET "$LOC"
check "expired link" 403 "$ST"

# --- counters and ledger ----------------------------------------------------
req GET "$M/__sim/counters"
check "counters inserts" 5 "$(jqb .inserts.total)"
check "counters repeated ids" 0 "$(jqb .inserts.ids_inserted_more_than_once)"
check "counters jobs" "5/4/1/0" "$(jqb '.jobs | "\(.created)/\(.completed)/\(.failed)/\(.active)"')"
check "counters users" 204 "$(jqb .users)"
check "counters imports 202" 5 "$(jqb '.requests["POST /api/v2/jobs/users-imports 202"]')"
check "counters 401" 3 "$(jqb '.requests["GET /api/v2/connections 401"]')"
check "counters user 404" 2 "$(jqb '.requests["GET /api/v2/users/{id} 404"]')"
req GET "$M/__sim/inserts"
check "inserts lines" 5 "$(body | wc -l)"
check "inserts all once" 5 "$(body | jq -s 'map(select(.count == 1)) | length')"
check "inserts has alice" 1 "$(body | grep -c 'auth0|aaaaaaaaaaaaaaaaaaaaaaa1')"
req GET "$M/__sim/requests"
check "request log size" "$(curl -s "$M/__sim/counters" | jq '[.requests | to_entries[] | select(.key | test(" /api/v2/")) | .value] | add')" "$(body | wc -l)"
check "request log shape" true "$(body | head -1 | jq 'has("t_ms") and has("method") and has("route") and has("status")')"
req GET "$M/__sim/users"
check "sim users hide hashes" 0 "$(grep -c -e password_hash -e 'KIB5sWJ3' "$TMP/body" || true)"

# --- second tenant: concurrency cap, rate limit, determinism -----------------
start_sim slow --generate 200 --seed 1 --import-rate 1 --rate 2 --burst 2
S=http://127.0.0.1:$PORT_slow
check "same connection id after restart" "$CONN" "$(curl -s "$S/api/v2/connections?strategy=auth0" -H "Authorization: Bearer $(get_token "$PORT_slow")" | jq -r '.[0].id')"
check "generator is deterministic" "$(curl -s "$M/__sim/users" | head -200 | md5sum)" "$(curl -s "$S/__sim/users" | md5sum)"
sleep 1.1
TOK2=$(get_token "$PORT_slow")
jq -n '[range(0; 5) | {email: "slow\(.)@example.test"}]' >"$TMP/slow.json"
import "$PORT_slow" "$TOK2" "$TMP/slow.json" "$CONN"
check "slow job 1" 202 "$ST"
sleep 0.6
import "$PORT_slow" "$TOK2" "$TMP/slow.json" "$CONN"
check "slow job 2" 202 "$ST"
SJOB=$(jqb .id)
sleep 1.1
import "$PORT_slow" "$TOK2" "$TMP/slow.json" "$CONN"
check "third job 429" 429 "$ST"
check "third job body" '{"statusCode":429,"error":"Too Many Requests","message":"There are 2 active import users jobs, please wait until some of them are finished and try again"}' "$(body)"
sleep 1.1
req GET "$S/api/v2/jobs/$SJOB" -H "Authorization: Bearer $TOK2"
check "processing status" processing "$(jqb .status)"
check "processing progress" true "$(jqb 'has("percentage_done") and has("time_left_seconds")')"
sleep 1.1
for i in 1 2 3 4 5 6; do
    req GET "$S/api/v2/connections" -H "Authorization: Bearer $TOK2"
    [[ $ST == 429 ]] && break
done
NOW=$(date +%s)
check "rate limit 429" 429 "$ST"
check "rate limit body" '{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}' "$(body)"
check "x-ratelimit-limit" 2 "$(header x-ratelimit-limit)"
check "x-ratelimit-remaining" 0 "$(header x-ratelimit-remaining)"
RESET=$(header x-ratelimit-reset)
check "x-ratelimit-reset is absolute" 1 "$(( RESET >= NOW && RESET <= NOW + 2 ? 1 : 0 ))"
check "429 has Date" 1 "$(header Date | grep -c GMT)"
check "rate_limited counter" true "$(curl -s "$S/__sim/counters" | jq '.rate_limited >= 1')"
check "max_active" 2 "$(curl -s "$S/__sim/counters" | jq '.jobs.max_active')"

# --- third tenant: seed file, several connections, short lifetimes ----------
{
    printf '\xef\xbb\xbf{"user_id":"auth0|5f0000000000000000000001","email":"seed1@example.test","identities":[{"connection":"DB-A","user_id":"5f0000000000000000000001","provider":"auth0","isSocial":false}]}\r\n'
    printf '\n'
    printf '{"user_id":"github|42","email":"seed2@example.test","identities":[{"connection":"github","user_id":"42","provider":"github","isSocial":true}]}\n'
} | gzip -c >"$TMP/seed.ndjson.gz"
start_sim edge --load "$TMP/seed.ndjson.gz" --connection DB-A --connection DB-B \
    --job-retention-s 2 --token-ttl-s 3 --failed-job-errors object
E=http://127.0.0.1:$PORT_edge
TOK3=$(get_token "$PORT_edge")
check "seeded users" 2 "$(curl -s "$E/__sim/users" | wc -l)"
req GET "$E/api/v2/connections" -H "Authorization: Bearer $TOK3"
check "connections from flags and seed" "DB-A DB-B github" "$(jqb '[.[].name] | join(" ")')"
DBB=$(jqb '.[] | select(.name == "DB-B") | .id')
cat >"$TMP/cross.json" <<'JSON'
[{"email":"other@example.test","user_id":"5f0000000000000000000001"},
 {"email":"seed1@example.test"}]
JSON
import "$PORT_edge" "$TOK3" "$TMP/cross.json" "$DBB"
XJOB=$(jqb .id)
wait_job "$PORT_edge" "$TOK3" "$XJOB"
check "ids unique across connections, e-mails per connection" \
    '{"failed":1,"updated":0,"inserted":1,"total":2}' "$(jq -c .summary "$TMP/body")"
import "$PORT_edge" "$TOK3" "$TMP/broken.json" "$DBB"
FJOB=$(jqb .id)
wait_job "$PORT_edge" "$TOK3" "$FJOB"
req GET "$E/api/v2/jobs/$FJOB/errors" -H "Authorization: Bearer $TOK3"
check "failed job errors as object" "200|failed|users_import|$FJOB" \
    "$ST|$(jqb '"\(.status)|\(.type)|\(.id)"')"
check "failed job status_details" true "$(jqb 'has("status_details")')"
sleep 3.1
req GET "$E/api/v2/connections" -H "Authorization: Bearer $TOK3"
check "expired token" '401|{"statusCode":401,"error":"Unauthorized","message":"Expired token received for JSON Web Token validation"}' "$ST|$(body)"
req GET "$E/api/v2/jobs/$XJOB" -H "Authorization: Bearer $(get_token "$PORT_edge")"
check "job past retention" 404 "$ST"

start_sim scoped --scope "read:users read:connections" --plan enterprise
req POST "http://127.0.0.1:$PORT_scoped/api/v2/jobs/users-imports" \
    -H "Authorization: Bearer $(get_token "$PORT_scoped")" \
    -F "users=@$TMP/valid.json" -F "connection_id=$CONN"
check "insufficient scope" '403|{"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: create:users","errorCode":"insufficient_scope"}' "$ST|$(body)"
check "enterprise plan burst" 50 "$(header x-ratelimit-limit)"

# --- logs and shutdown --------------------------------------------------------
for name in main slow edge scoped; do
    pid_var=PID_$name
    kill -TERM "${!pid_var}"
    RC=0
    wait "${!pid_var}" || RC=$?
    check "$name: SIGTERM exit status" 0 "$RC"
    check "$name: no sanitizer report" 0 \
        "$(grep -c -e 'runtime error' -e 'Sanitizer' "$TMP/$name/log" || true)"
    check "$name: log has no secret" 0 \
        "$(grep -c -F "$SECRET" "$TMP/$name/log" || true)"
    check "$name: log has no e-mail" 0 \
        "$(grep -c '@example.test' "$TMP/$name/log" || true)"
done
check "log has no token" 0 "$(grep -c -F "$TOK" "$TMP/main/log" || true)"
check "log has no hash" 0 "$(grep -c 'KIB5sWJ3' "$TMP/main/log" || true)"

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
