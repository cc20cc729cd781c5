#!/usr/bin/env bash
# Integration test of a0sim's user endpoints and tenant configuration:
# GET /users paging and search, PATCH, account linking and unlinking, MFA
# enrollments and authentication methods, connections of every kind from a
# config file, clients with their own scopes, username rules, custom
# password hashes checked by the password grant (expected values computed
# independently with Python's hashlib), plan limits per endpoint group,
# the 1 MB cap and snapshots across a restart. Needs curl, jq, python3.
set -euo pipefail
# shellcheck source=../lib.sh
source "${A0_SRC:-$(dirname "$0")/../..}/tests/lib.sh"

req()
{
    local method=$1 url=$2
    shift 2
    CURL_RC=0
    ST=$(curl -s -X "$method" -o "$A0_TMP/body" -D "$A0_TMP/headers" \
        -w '%{http_code}' "$url" "$@") || CURL_RC=$?
}
body() { cat "$A0_TMP/body"; }
jqb() { jq -r "$@" "$A0_TMP/body"; }
header() { grep -i "^$1:" "$A0_TMP/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
uri() { jq -rn --arg s "$1" '$s | @uri'; }

# token URL CLIENT SECRET [extra form args...]; the tenant is named after
# the client (NAME-client).
token()
{
    local url=$1 id=$2 secret=$3
    shift 3
    local tenant=${id%-client}
    [[ $id == *-client ]] || tenant=main
    req POST "$url/oauth/token" -d grant_type=client_credentials \
        -d "client_id=$id" --data-urlencode "client_secret=$secret" \
        --data-urlencode "audience=https://$tenant.sim.local/api/v2/" "$@"
}

cat >"$A0_TMP/config.json" <<'JSON'
{"clients": [
   {"client_id": "reader", "client_secret": "reader-secret", "scope": "read:users"},
   {"client_id": "nogrant", "client_secret": "nogrant-secret"}],
 "connections": [
   {"name": "Username-Password-Authentication", "strategy": "auth0"},
   {"name": "google-oauth2", "strategy": "google-oauth2"},
   {"name": "facebook", "strategy": "facebook"},
   {"name": "corp-saml", "strategy": "samlp", "enabled_clients": ["main-client"]},
   {"name": "email", "strategy": "email"},
   {"name": "sms", "strategy": "sms"},
   {"name": "Strict-DB", "strategy": "auth0", "requires_username": true,
    "username": {"min": 3, "max": 8}}]}
JSON
SNAP=$A0_TMP/main.snapshot
a0_start_sim main --config "$A0_TMP/config.json" --generate 1100 --seed 3 \
    --import-rate 0 --snapshot "$SNAP" --snapshot-interval-s 1
M=$MAIN_URL

# --- clients and scopes -----------------------------------------------------------
token "$M" main-client main-secret
check "main client token" 200 "$ST"
check "main client scope" "read:users create:users update:users delete:users read:connections read:authentication_methods" "$(jqb .scope)"
TOK=$(jqb .access_token)
AUTH=(-H "Authorization: Bearer $TOK")
token "$M" main-client main-secret -d 'scope=read:users read:connections'
check "scope subset" "200|read:users read:connections" "$ST|$(jqb .scope)"
token "$M" main-client main-secret -d 'scope=read:users create:clients'
check "scope not granted" '403|{"error":"access_denied","error_description":"Client has not been granted scopes: create:clients"}' "$ST|$(body)"
token "$M" reader reader-secret
check "reader token scope" "200|read:users" "$ST|$(jqb .scope)"
RTOK=$(jqb .access_token)
token "$M" nogrant nogrant-secret
check "client without grant" "403|access_denied" "$ST|$(jqb .error)"
check "client without grant message" true "$(jqb '.error_description | startswith("Client is not authorized to access \"https://main.sim.local/api/v2/\".")')"
token "$M" reader wrong-secret
check "reader wrong secret" 401 "$ST"
req POST "$M/oauth/token" -H 'content-type: application/json' \
    -d '{"grant_type":"client_credentials","client_id":"reader","client_secret":"reader-secret","audience":"https://main.sim.local/api/v2/"}'
check "JSON token body" "200|read:users" "$ST|$(jqb .scope)"
req GET "$M/api/v2/users?per_page=1" -H "Authorization: Bearer $RTOK"
check "reader may list" 200 "$ST"
req PATCH "$M/api/v2/users/auth0%7Cx" -H "Authorization: Bearer $RTOK" \
    -H 'content-type: application/json' -d '{"name":"x"}'
check "reader may not patch" '403|{"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: update:users,update:users_app_metadata,update:current_user_metadata","errorCode":"insufficient_scope"}' "$ST|$(body)"
req GET "$M/api/v2/connections" -H "Authorization: Bearer $RTOK"
check "reader may not read connections" "403|Insufficient scope, expected any of: read:connections" "$ST|$(jqb .message)"

# --- connections --------------------------------------------------------------------
req GET "$M/api/v2/connections" "${AUTH[@]}"
check "connection strategies" "auth0 google-oauth2 facebook samlp email sms auth0" "$(jqb '[.[].strategy] | join(" ")')"
SAML=$(jqb '.[] | select(.name == "corp-saml") | .id')
check "strict requires_username" true "$(jqb '.[] | select(.name == "Strict-DB") | .options.requires_username')"
check "strict username limits" '{"min":3,"max":8}' "$(jq -c '.[] | select(.name == "Strict-DB") | .options.validation.username' "$A0_TMP/body")"
check "default username limits" '{"min":1,"max":15}' "$(jq -c '.[0].options.validation.username' "$A0_TMP/body")"
DB=$(jqb '.[0].id')
STRICT=$(jqb '.[] | select(.name == "Strict-DB") | .id')
check "default enabled clients" "main-client reader nogrant" "$(curl -s "$M/api/v2/connections/$DB" "${AUTH[@]}" | jq -r '.enabled_clients | join(" ")')"
check "saml enabled clients" main-client "$(curl -s "$M/api/v2/connections/$SAML" "${AUTH[@]}" | jq -r '.enabled_clients | join(" ")')"
echo '[{"email":"n1@example.test"}]' >"$A0_TMP/one.json"
for name in google-oauth2 facebook corp-saml email sms; do
    CID=$(jqb --arg n "$name" '.[] | select(.name == $n) | .id')
    R=$(curl -s "$M/api/v2/jobs/users-imports" "${AUTH[@]}" -F "users=@$A0_TMP/one.json" -F "connection_id=$CID")
    check "import into $name refused" "Connection must be a database connection." "$(jq -r .message <<<"$R")"
done

# import FILE CONN [-F ...]: runs one import job to its end; body = the job
import()
{
    local file=$1 conn=$2
    shift 2
    req POST "$M/api/v2/jobs/users-imports" "${AUTH[@]}" \
        -F "users=@$file;type=application/json" -F "connection_id=$conn" \
        -F send_completion_email=false "$@"
    JOB=$(jqb .id)
    local i
    for i in $(seq 1 100); do
        req GET "$M/api/v2/jobs/$JOB" "${AUTH[@]}"
        case $(jqb .status) in completed|failed) return 0 ;; esac
        sleep 0.05
    done
}

# --- username rules ---------------------------------------------------------------
cat >"$A0_TMP/strict.json" <<'JSON'
[{"email":"u1@example.test"},
 {"email":"u2@example.test","username":"ab"},
 {"email":"u3@example.test","username":"abcdefghi"},
 {"email":"u4@example.test","username":"OkName"}]
JSON
import "$A0_TMP/strict.json" "$STRICT"
check "strict summary" '{"failed":3,"updated":0,"inserted":1,"total":4}' "$(jq -c .summary "$A0_TMP/body")"
req GET "$M/api/v2/jobs/$JOB/errors" "${AUTH[@]}"
check "username required" "OBJECT_REQUIRED|username|Missing required property: username" "$(jqb '.[0].errors[0] | "\(.code)|\(.path)|\(.message)"')"
check "username too short" "MIN_LENGTH|username" "$(jqb '.[1].errors[0] | "\(.code)|\(.path)"')"
check "username too long" "MAX_LENGTH|Error in username property - String is too long (9 chars), maximum 8" "$(jqb '.[2].errors[0] | "\(.code)|\(.message)"')"

# --- custom password hashes, computed independently -----------------------------------
python3 - "$A0_TMP/hashes.json" <<'PY'
import base64, hashlib, hmac, json, sys
pw = "Corr3ct-Horse"
def b64(b): return base64.b64encode(b).decode()
users = [
 {"email": "md5@example.test", "custom_password_hash": {"algorithm": "md5",
   "hash": {"value": hashlib.md5(b"NaCl" + pw.encode()).hexdigest(), "encoding": "hex"},
   "salt": {"value": "NaCl"}}},
 {"email": "sha1@example.test", "custom_password_hash": {"algorithm": "sha1",
   "hash": {"value": hashlib.sha1(pw.encode()).hexdigest().upper(), "encoding": "hex"}}},
 {"email": "sha256@example.test", "custom_password_hash": {"algorithm": "sha256",
   "hash": {"value": b64(hashlib.sha256(pw.encode() + bytes.fromhex("00ff10")).digest()), "encoding": "base64"},
   "salt": {"value": "00ff10", "encoding": "hex", "position": "suffix"}}},
 {"email": "sha512@example.test", "custom_password_hash": {"algorithm": "sha512",
   "hash": {"value": hashlib.sha512(b"pepper" + pw.encode()).hexdigest(), "encoding": "hex"},
   "salt": {"value": b64(b"pepper"), "encoding": "base64"}}},
 {"email": "hmac@example.test", "custom_password_hash": {"algorithm": "hmac",
   "hash": {"value": hmac.new(b"k3y", pw.encode(), hashlib.sha256).hexdigest(), "encoding": "hex",
            "digest": "sha256", "key": {"value": "k3y"}}}},
 {"email": "pbkdf2@example.test", "custom_password_hash": {"algorithm": "pbkdf2",
   "hash": {"value": "$pbkdf2-sha256$i=1000,l=32$%s$%s" % (
       b64(b"saltsalt").rstrip("="),
       b64(hashlib.pbkdf2_hmac("sha256", pw.encode(), b"saltsalt", 1000, 32)).rstrip("=")),
     "encoding": "utf8"}}},
 {"email": "pbkdf512@example.test", "custom_password_hash": {"algorithm": "pbkdf2",
   "hash": {"value": "$pbkdf2-sha512$i=500,l=64$%s$%s" % (
       b64(b"NaClNaCl").rstrip("="),
       b64(hashlib.pbkdf2_hmac("sha512", pw.encode(), b"NaClNaCl", 500, 64)).rstrip("=")),
     "encoding": "utf8"}}},
 {"email": "longsalt@example.test", "custom_password_hash": {"algorithm": "sha256",
   "hash": {"value": hashlib.sha256(("s" * 70 + pw).encode()).hexdigest(), "encoding": "hex"},
   "salt": {"value": "s" * 70}}},
]
json.dump(users, open(sys.argv[1], "w"))
PY
import "$A0_TMP/hashes.json" "$DB"
check "hash users imported" '{"failed":0,"updated":0,"inserted":8,"total":8}' "$(jq -c .summary "$A0_TMP/body")"
login()
{
    req POST "$M/oauth/token" -d grant_type=http://auth0.com/oauth/grant-type/password-realm \
        -d client_id=main-client -d client_secret=main-secret \
        -d realm=Username-Password-Authentication --data-urlencode "username=$1" \
        --data-urlencode "password=$2"
}
for alg in md5 sha1 sha256 sha512 hmac pbkdf2 pbkdf512 longsalt; do
    login "$alg@example.test" Corr3ct-Horse
    check "login with $alg hash" 200 "$ST"
    login "$alg@example.test" corr3ct-horse
    check "wrong password with $alg hash" 403 "$ST"
done

# --- MFA reads ------------------------------------------------------------------------
cat >"$A0_TMP/mfa.json" <<'JSON'
[{"email":"mfa1@example.test","user_id":"mfa1",
  "mfa_factors":[{"totp":{"secret":"JBSWY3DPEHPK3PNP"}},{"phone":{"value":"+12125550001"}},
                 {"email":{"value":"chuck878@example.com"}}]},
 {"email":"nomfa@example.test","user_id":"nomfa"}]
JSON
import "$A0_TMP/mfa.json" "$DB"
check "mfa users imported" 2 "$(jqb .summary.inserted)"
req GET "$M/api/v2/users/auth0%7Cmfa1/enrollments" "${AUTH[@]}"
check "enrollments" "200|authenticator,sms" "$ST|$(jqb '[.[].type] | join(",")')"
check "enrollment phone masked" XXXXXXXX0001 "$(jqb '.[1].phone_number')"
check "enrollment confirmed" confirmed "$(jqb '.[0].status')"
check "enrollment id" true "$(jqb '.[0].id | test("^totp\\|dev_[A-Za-z0-9]{16}$")')"
check "no TOTP secret" 0 "$(grep -c JBSWY3 "$A0_TMP/body" || true)"
req GET "$M/api/v2/users/auth0%7Cmfa1/authentication-methods" "${AUTH[@]}"
check "authentication methods" "200|totp,phone,email" "$ST|$(jqb '[.[].type] | join(",")')"
check "method email masked" 'chuc****@exam*******' "$(jqb '.[2].email')"
check "method phone masked" XXXXXXXX0001 "$(jqb '.[1].phone_number')"
check "method shape" true "$(jqb '.[0] | has("id") and has("created_at") and .confirmed')"
check "no secret in methods" 0 "$(grep -c -e JBSWY3 -e chuck878 -e 5550001 "$A0_TMP/body" || true)"
req GET "$M/api/v2/users/auth0%7Cmfa1/authentication-methods?include_totals=true&per_page=2" "${AUTH[@]}"
check "methods envelope" "3|0|2|2" "$(jqb '"\(.total)|\(.start)|\(.limit)|\(.authenticators | length)"')"
req GET "$M/api/v2/users/auth0%7Cnomfa/enrollments" "${AUTH[@]}"
check "no enrollments" "200|[]" "$ST|$(body)"
req GET "$M/api/v2/users/auth0%7Cnobody/enrollments" "${AUTH[@]}"
check "enrollments 404" "404|inexistent_user" "$ST|$(jqb .errorCode)"
req GET "$M/api/v2/users/auth0%7Cnobody/authentication-methods" "${AUTH[@]}"
check "methods 404" 404 "$ST"

# --- GET /users -------------------------------------------------------------------------
NUSERS=$(curl -s "$M/__sim/counters" | jq .users)
req GET "$M/api/v2/users?per_page=10&page=0&include_totals=true" "${AUTH[@]}"
check "list envelope" "0|10|10|$NUSERS" "$(jqb '"\(.start)|\(.limit)|\(.length)|\(.total)"')"
check "envelope keys" "length,limit,start,total,users" "$(jqb 'keys | join(",")')"
FIRST_P0=$(jqb '.users[0].user_id')
req GET "$M/api/v2/users?per_page=10&page=1&include_totals=true" "${AUTH[@]}"
check "page 1 start" 10 "$(jqb .start)"
check "pages differ" true "$(jqb --arg f "$FIRST_P0" '.users | map(.user_id) | index($f) == null')"
req GET "$M/api/v2/users" "${AUTH[@]}"
check "default page is an array of 50" "array|50" "$(jqb '"\(type)|\(length)"')"
req GET "$M/api/v2/users?per_page=101" "${AUTH[@]}"
check "per_page over 100" "400|invalid_query_string" "$ST|$(jqb .errorCode)"
check "per_page message" true "$(jqb '.message | startswith("Query validation error: '"'"'Value 101 is greater than maximum 100'"'"' on property per_page")')"
req GET "$M/api/v2/users?per_page=100&page=9" "${AUTH[@]}"
check "page 9 of 100 allowed" "200|100" "$ST|$(jqb length)"
req GET "$M/api/v2/users?per_page=100&page=10" "${AUTH[@]}"
check "past 1000 refused" '400|{"statusCode":400,"error":"Bad Request","message":"You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation","errorCode":"invalid_paging"}' "$ST|$(body)"
req GET "$M/api/v2/users?per_page=50&page=19" "${AUTH[@]}"
check "page 19 of 50 allowed" 200 "$ST"
req GET "$M/api/v2/users?per_page=50&page=20" "${AUTH[@]}"
check "page 20 of 50 refused" 400 "$ST"
req GET "$M/api/v2/users?page=x" "${AUTH[@]}"
check "page not a number" 400 "$ST"
req GET "$M/api/v2/users?q=$(uri 'email:"mfa1@example.test"')&include_totals=true" "${AUTH[@]}"
check "q by email" "1|auth0|mfa1" "$(jqb '"\(.total)|\(.users[0].user_id)"')"
IN_STRICT=$(curl -s "$M/__sim/users" | jq -s '[.[] | select(.identities[0].connection == "Strict-DB")] | length')
req GET "$M/api/v2/users?q=$(uri 'identities.connection:"Strict-DB"')&include_totals=true" "${AUTH[@]}"
check "q by connection" "$IN_STRICT" "$(jqb .total)"
req GET "$M/api/v2/users?q=$(uri 'identities.connection:"Strict-DB" AND email:u4@example.test')" "${AUTH[@]}"
check "q with AND" "1|okname" "$(jqb '"\(length)|\(.[0].username)"')"
req GET "$M/api/v2/users?q=$(uri 'email:sha*')&sort=email:1" "${AUTH[@]}"
check "q prefix, sorted" "sha1@example.test,sha256@example.test,sha512@example.test" "$(jqb 'map(.email) | join(",")')"
req GET "$M/api/v2/users?q=$(uri 'email:sha*')&sort=email:-1&fields=email" "${AUTH[@]}"
check "sort descending, fields" "sha512@example.test|email" "$(jqb '"\(.[0].email)|\(.[0] | keys | join(","))"')"
req GET "$M/api/v2/users?q=$(uri 'email:a OR email:b')" "${AUTH[@]}"
check "unsupported query" 400 "$ST"

# --- PATCH ------------------------------------------------------------------------------------
cat >"$A0_TMP/people.json" <<'JSON'
[{"email":"pat@example.test","user_id":"pat","user_metadata":{"a":1,"b":2},"app_metadata":{"plan":"free"}},
 {"email":"sec@example.test","user_id":"sec","given_name":"Sec","user_metadata":{"keep":"no"},
  "password_hash":"$2b$10$KIB5sWJ3SgFc3pbn7iIibOXSPpDaH6HKqsGE.u/npam9hRAxxytSO"},
 {"email":"prim@example.test","user_id":"prim"}]
JSON
import "$A0_TMP/people.json" "$DB"
check "people imported" 3 "$(jqb .summary.inserted)"
patch() { req PATCH "$M/api/v2/users/$1" "${AUTH[@]}" -H 'content-type: application/json' -d "$2"; }
patch auth0%7Cpat '{"user_metadata":{"b":null,"c":3},"app_metadata":{"tier":"gold"},"given_name":"Pat"}'
check "patch status" 200 "$ST"
check "metadata merged" '{"a":1,"c":3}' "$(jq -c .user_metadata "$A0_TMP/body")"
check "app_metadata merged" '{"plan":"free","tier":"gold"}' "$(jq -c .app_metadata "$A0_TMP/body")"
check "given_name set" Pat "$(jqb .given_name)"
patch auth0%7Cpat '{"email":"Pat.New@Example.test"}'
check "email lower-cased, unverified" "pat.new@example.test|false" "$(jqb '"\(.email)|\(.email_verified)"')"
check "old e-mail gone" 0 "$(curl -s "$M/api/v2/users-by-email?email=pat@example.test" "${AUTH[@]}" | jq length)"
check "new e-mail found" "auth0|pat" "$(curl -s "$M/api/v2/users-by-email?email=pat.new@example.test" "${AUTH[@]}" | jq -r '.[0].user_id')"
patch auth0%7Cpat '{"email":"prim@example.test"}'
check "e-mail clash" '409|{"statusCode":409,"error":"Conflict","message":"The specified new email already exists"}' "$ST|$(body)"
patch auth0%7Cpat '{"email":"not-an-email"}'
check "bad e-mail" "400|invalid_body" "$ST|$(jqb .errorCode)"
patch auth0%7Cpat '{"blocked":"yes"}'
check "bad type" 400 "$ST"
patch auth0%7Cpat '{"password":"N3w-Passw0rd"}'
check "password set" 200 "$ST"
check "no hash in patch response" false "$(jqb 'has("password_hash") or has("password")')"
login pat.new@example.test N3w-Passw0rd
check "login with patched password" 200 "$ST"
patch auth0%7Cnobody '{"name":"x"}'
check "patch 404" "404|inexistent_user" "$ST|$(jqb .errorCode)"
patch auth0%7Cpat 'not json'
check "patch bad JSON" 400 "$ST"

# --- linking ------------------------------------------------------------------------------------
SOCIAL_ID=$(curl -s "$M/api/v2/users?q=$(uri 'user_id:google-oauth2*')&per_page=1" "${AUTH[@]}" | jq -r '.[0].user_id')
SOCIAL_UID=${SOCIAL_ID#google-oauth2|}
link() { req POST "$M/api/v2/users/auth0%7Cprim/identities" "${AUTH[@]}" -H 'content-type: application/json' -d "$1"; }
link "{\"provider\":\"auth0\",\"user_id\":\"auth0|sec\",\"connection_id\":\"$DB\"}"
check "link status" 201 "$ST"
check "identities after link" "auth0|prim,auth0|sec" "$(jqb 'map("\(.provider)|\(.user_id)") | join(",")')"
check "profileData" "sec@example.test|Sec" "$(jqb '.[1].profileData | "\(.email)|\(.given_name)"')"
check "secondary metadata discarded" false "$(jqb '.[1].profileData | has("user_metadata")')"
link "{\"provider\":\"google-oauth2\",\"user_id\":\"$SOCIAL_UID\"}"
check "link social without prefix" "201|3|true" "$ST|$(jqb length)|$(jqb '.[2].isSocial')"
req GET "$M/api/v2/users/auth0%7Csec" "${AUTH[@]}"
check "secondary no longer a user" 404 "$ST"
check "secondary not found by e-mail" 0 "$(curl -s "$M/api/v2/users-by-email?email=sec@example.test" "${AUTH[@]}" | jq length)"
req GET "$M/api/v2/users/auth0%7Cprim" "${AUTH[@]}"
check "primary holds three identities" 3 "$(jqb '.identities | length')"
link '{"provider":"auth0","user_id":"sec"}'
check "link again" '409|Specified identity already exists.' "$ST|$(jqb .message)"
link '{"provider":"auth0","user_id":"prim"}'
check "link to itself" '400|Main identity and the new one are the same.' "$ST|$(jqb .message)"
link '{"provider":"auth0","user_id":"ghost"}'
check "link inexistent" '400|Linking to an inexistent identity is not allowed.' "$ST|$(jqb .message)"
link '{"provider":"myspace","user_id":"x"}'
check "unknown provider" 400 "$ST"
link '{"provider":"auth0","user_id":"sec","extra":1}'
check "closed body" "400|Payload validation error: 'Additional properties not allowed: extra'." "$ST|$(jqb .message)"
link '{}'
check "empty body" 400 "$ST"
link '{"provider":"auth0","user_id":12345}'
check "numeric user_id accepted as id" '400|Linking to an inexistent identity is not allowed.' "$ST|$(jqb .message)"
req POST "$M/api/v2/users/auth0%7Cnobody/identities" "${AUTH[@]}" -H 'content-type: application/json' \
    -d '{"provider":"auth0","user_id":"sec"}'
check "link to missing primary" 404 "$ST"

req DELETE "$M/api/v2/users/auth0%7Cprim/identities/auth0/prim" "${AUTH[@]}"
check "main identity stays" '400|Main identity cannot be removed.' "$ST|$(jqb .message)"
req DELETE "$M/api/v2/users/auth0%7Cprim/identities/auth0/sec" "${AUTH[@]}"
check "unlink status" "200|auth0|prim,google-oauth2|$SOCIAL_UID" "$ST|$(jqb 'map("\(.provider)|\(.user_id)") | join(",")')"
req GET "$M/api/v2/users/auth0%7Csec" "${AUTH[@]}"
check "unlinked is a user again" "200|sec@example.test|Username-Password-Authentication" "$ST|$(jqb .email)|$(jqb '.identities[0].connection')"
check "unlinked has no metadata" false "$(jqb 'has("user_metadata")')"
check "unlinked identity has no profileData" false "$(jqb '.identities[0] | has("profileData")')"
login sec@example.test Canary-Pass-1
check "unlinked user keeps its password" 200 "$ST"
req DELETE "$M/api/v2/users/auth0%7Cprim/identities/google-oauth2/$SOCIAL_UID" "${AUTH[@]}"
check "unlink social" "200|1" "$ST|$(jqb length)"
check "social user back" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$M/api/v2/users/$(uri "$SOCIAL_ID")" "${AUTH[@]}")"

# --- 1 MB cap -----------------------------------------------------------------------------------
python3 -c 'import json; print(json.dumps({"user_metadata": {"pad": "x" * 1100000}}))' >"$A0_TMP/big.json"
req PATCH "$M/api/v2/users/auth0%7Cpat" "${AUTH[@]}" -H 'content-type: application/json' --data-binary "@$A0_TMP/big.json"
check "1 MB cap" '413|{"statusCode":413,"error":"Request Entity Too Large","message":"Payload content length greater than maximum allowed: 1048576."}' "$ST|$(body)"

# --- snapshot across a restart ---------------------------------------------------------------------
a0_wait_for "test -s $SNAP" 5
check "periodic snapshot written" 1 "$(test -s "$SNAP" && echo 1 || echo 0)"
BEFORE_USERS=$(curl -s "$M/__sim/users" | md5sum)
BEFORE_INSERTS=$(curl -s "$M/__sim/counters" | jq -c .inserts)
kill -TERM "$MAIN_PID"
RC=0
wait "$MAIN_PID" || RC=$?
check "SIGTERM exit" 0 "$RC"
check "snapshot holds no plain password" 0 "$(grep -c -e Corr3ct-Horse -e N3w-Passw0rd "$SNAP" || true)"
check "no secret in log" 0 "$(grep -c -e main-secret -e reader-secret -e N3w-Passw0rd "$A0_TMP/main.log" || true)"
a0_start_sim main --config "$A0_TMP/config.json" --generate 1100 --seed 3 \
    --import-rate 0 --snapshot "$SNAP"
M=$MAIN_URL
check "users survive" "$BEFORE_USERS" "$(curl -s "$M/__sim/users" | md5sum)"
check "ledger survives" "$BEFORE_INSERTS" "$(curl -s "$M/__sim/counters" | jq -c .inserts)"
req GET "$M/api/v2/jobs/$JOB" "${AUTH[@]}"
check "token and job survive" "200|completed|3" "$ST|$(jqb .status)|$(jqb .summary.inserted)"
login pat.new@example.test N3w-Passw0rd
check "password survives" 200 "$ST"
req GET "$M/api/v2/users/auth0%7Cmfa1/enrollments" "${AUTH[@]}"
check "factors survive" 2 "$(jqb length)"

# --- plan limits per endpoint group ----------------------------------------------------------------
a0_start_sim ess --plan essentials
E=$ESS_URL
token "$E" ess-client ess-secret
check "token under a plan carries headers" 25 "$(header x-ratelimit-limit)"
ETOK=(-H "Authorization: Bearer $(jqb .access_token)")
req GET "$E/api/v2/users" "${ETOK[@]}"
check "read users bucket" "200|40|39" "$ST|$(header x-ratelimit-limit)|$(header x-ratelimit-remaining)"
for i in $(seq 1 12); do
    req GET "$E/api/v2/connections" "${ETOK[@]}"
    [[ $ST == 429 ]] && break
done
check "other endpoints: 10 then 429" "11|429|10" "$i|$ST|$(header x-ratelimit-limit)"
check "endpoint 429 body" "too_many_requests|Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers." "$(jqb '"\(.errorCode)|\(.message)"')"
req GET "$E/api/v2/users" "${ETOK[@]}"
# 500 per minute refills about one token in the time the loop above took.
check "users bucket unaffected" "200|1" "$ST|$(( $(header x-ratelimit-remaining) >= 38 ? 1 : 0 ))"
req DELETE "$E/api/v2/users/auth0%7Cnone" "${ETOK[@]}"
check "delete bucket" "204|20" "$ST|$(header x-ratelimit-limit)"
a0_start_sim free --plan free
token "$FREE_URL" free-client free-secret
check "free token bucket" 30 "$(header x-ratelimit-limit)"
FTOK=(-H "Authorization: Bearer $(jqb .access_token)")
for i in 1 2 3 4; do
    req GET "$FREE_URL/api/v2/users" "${FTOK[@]}"
    [[ $ST == 429 ]] && break
done
check "free global bucket" "3|429|2" "$i|$ST|$(header x-ratelimit-limit)"
check "global limit body" '{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}' "$(body)"
a0_start_sim unl --plan unlimited
token "$UNL_URL" unl-client unl-secret
req GET "$UNL_URL/api/v2/users" -H "Authorization: Bearer $(jqb .access_token)"
check "unlimited: no headers" "200|" "$ST|$(header x-ratelimit-limit)"

# --- connections and clients from flags --------------------------------------------------
a0_start_sim flags --connection DB-One --connection google-oauth2:google-oauth2 \
    --connection Corp:samlp --connection otp:sms --requires-username --username-length 2:20
token "$FLAGS_URL" flags-client flags-secret
req GET "$FLAGS_URL/api/v2/connections" -H "Authorization: Bearer $(jqb .access_token)"
check "flag connections" "DB-One:auth0 google-oauth2:google-oauth2 Corp:samlp otp:sms" \
    "$(jqb '[.[] | "\(.name):\(.strategy)"] | join(" ")')"
check "flag username rules" 'true|{"min":2,"max":20}' \
    "$(jq -r '.[0].options | "\(.requires_username)|\(.validation.username | tojson)"' "$A0_TMP/body")"
RC=0
"$A0_BIN/sim/a0sim" --client-id x --client-secret y --connection Bad:myspace 2>/dev/null || RC=$?
check "unknown strategy is a usage error" 2 "$RC"
RC=0
"$A0_BIN/sim/a0sim" --client-id x --client-secret y --username-length 9:3 2>/dev/null || RC=$?
check "bad username length is a usage error" 2 "$RC"
echo '{"clients": "nope"}' >"$A0_TMP/bad.json"
RC=0
"$A0_BIN/sim/a0sim" --config "$A0_TMP/bad.json" 2>/dev/null || RC=$?
check "bad config is a usage error" 2 "$RC"
echo '{"clients": [{"client_id": "only", "client_secret": "only-secret", "scope": "read:users"}]}' >"$A0_TMP/only.json"
"$A0_BIN/sim/a0sim" --port 0 --port-file "$A0_TMP/only.port" --config "$A0_TMP/only.json" \
    2>"$A0_TMP/only.log" &
A0_PIDS+=($!)
a0_wait_for "test -s $A0_TMP/only.port"
req POST "http://127.0.0.1:$(cat "$A0_TMP/only.port")/oauth/token" -d grant_type=client_credentials \
    -d client_id=only -d client_secret=only-secret -d audience=https://sim.local/api/v2/
check "clients from the config alone" "200|read:users" "$ST|$(jqb .scope)"

# --- several tenants in one process, chosen by Host ---------------------------------------
a0_start_sim multi --tenant t2.sim.local --import-rate 0 --snapshot "$A0_TMP/multi.snap"
MU=$MULTI_URL
T2=(-H "Host: t2.sim.local")
token "$MU" multi-client multi-secret
MTOK=(-H "Authorization: Bearer $(jqb .access_token)")
req POST "$MU/oauth/token" "${T2[@]}" -d grant_type=client_credentials -d client_id=multi-client \
    -d client_secret=multi-secret -d audience=https://t2.sim.local/api/v2/
check "second tenant grants its own audience" 200 "$ST"
TTOK=(-H "Authorization: Bearer $(jqb .access_token)")
token "$MU" multi-client multi-secret -H "Host: t2.sim.local"
check "second tenant refuses the first one's audience" 403 "$ST"
req GET "$MU/api/v2/connections" "${MTOK[@]}" "${T2[@]}"
check "first tenant's token invalid on the second" 401 "$ST"
req GET "$MU/api/v2/connections" "${TTOK[@]}"
check "second tenant's token invalid on the first" 401 "$ST"
req GET "$MU/api/v2/connections" "${TTOK[@]}" -H "Host: T2.sim.local:$MULTI_PORT"
check "Host with a port, any case" 200 "$ST"
T2CONN=$(jqb '.[0].id')
req POST "$MU/api/v2/jobs/users-imports" "${TTOK[@]}" "${T2[@]}" -F "users=@$A0_TMP/one.json" \
    -F "connection_id=$T2CONN"
T2JOB=$(jqb .id)
a0_wait_for "curl -s $MU/api/v2/jobs/$T2JOB -H 'Host: t2.sim.local' -H '${TTOK[1]}' | grep -q completed"
check "users stay in their tenant" "1|0" \
    "$(curl -s "$MU/__sim/users" "${T2[@]}" | wc -l)|$(curl -s "$MU/__sim/users" | wc -l)"
req POST "$MU/api/v2/jobs/users-exports" "${TTOK[@]}" "${T2[@]}" -H 'content-type: application/json' \
    -d '{"format":"json","fields":[{"name":"email"}]}'
T2EXP=$(jqb .id)
a0_wait_for "curl -s $MU/api/v2/jobs/$T2EXP -H 'Host: t2.sim.local' -H '${TTOK[1]}' | grep -q location"
LOC=$(curl -s "$MU/api/v2/jobs/$T2EXP" "${TTOK[@]}" "${T2[@]}" | jq -r .location)
check "export link names its tenant" true "$(jq -rn --arg l "$LOC" '$l | endswith("&tenant=t2.sim.local")')"
check "export download from the second tenant" n1@example.test "$(curl -s "$LOC" | gunzip -c | jq -r .email)"
kill -TERM "$MULTI_PID"
RC=0
wait "$MULTI_PID" || RC=$?
check "multi: SIGTERM exit status" 0 "$RC"
check "one snapshot per tenant" "1|1" \
    "$(test -s "$A0_TMP/multi.snap" && echo 1)|$(test -s "$A0_TMP/multi.snap.t2.sim.local" && echo 1)"
RC=0
"$A0_BIN/sim/a0sim" --client-id x --client-secret y --domain d.test --tenant d.test 2>/dev/null || RC=$?
check "--tenant repeating --domain is a usage error" 2 "$RC"

# --- clean exits -------------------------------------------------------------------------
for name in main ess free unl flags; do
    pid_var=${name^^}_PID
    kill -TERM "${!pid_var}"
    RC=0
    wait "${!pid_var}" || RC=$?
    check "$name: SIGTERM exit status" 0 "$RC"
    check "$name: no sanitizer report" 0 \
        "$(grep -c -e 'runtime error' -e 'Sanitizer' "$A0_TMP/$name.log" || true)"
done
RC=0
"$A0_BIN/sim/a0sim" --config "$A0_TMP/only.json" --client-id x 2>/dev/null || RC=$?
check "client id without a secret is a usage error" 2 "$RC"

a0_finish
