#!/usr/bin/env bash
# The dry run as an operator sees it: one classification line per record
# and a summary with the password-hash counts; --expect-hashes failing with
# exit status 2 in a dry run and, against a simulated target, before
# anything is written to Redis or sent; metadata key rewriting; the
# connection map; a CSV export; the refusal of a file of the wrong kind;
# and the target's connections deciding what is importable.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

mig="$A0_BIN/coordinator/a0migrate"
shared="$A0_SRC/../shared/data"
if [ ! -f "$shared/source-export.ndjson" ]; then
    echo "skipped: no shared sample data"
    exit 0
fi
users="$shared/source-export.ndjson"
hashes="$shared/source-password-hashes.ndjson"
unset A0_TARGET_DOMAIN A0_TARGET_CLIENT_ID A0_TARGET_CLIENT_SECRET \
    A0_TARGET_BASE_URL

dry() { # OUT ARGS...: runs a dry run, prints its exit status
    local out=$1
    shift
    set +e
    "$mig" run --dry-run "$@" >"$A0_TMP/$out.out" 2>"$A0_TMP/$out.err"
    echo $?
    set -e
}
summary() { # OUT LABEL
    awk -v l="$2" 'index($0, "  " l " ") == 1 || index($0, "    " l " ") == 1 {
        print $NF }' "$A0_TMP/$1.out"
}
line() { # OUT UID: the record's classification (warnings aside)
    awk -F'\t' -v u="$2" '$1 == u && $2 !~ /^warning\|/ { print $2 }' \
        "$A0_TMP/$1.out"
}

# The sample export with its hash file (tests/data/README.md).
check "dry run exit status" 0 "$(dry a --input "$users" --hashes "$hashes")"
check "records" 20 "$(summary a records)"
check "to import" 15 "$(summary a 'to import')"
check "with a password hash" 14 "$(summary a 'with a password hash')"
check "without a hash" 1 "$(summary a 'without (no_password)')"
check "invalid" 1 "$(summary a invalid)"
check "duplicate" 1 "$(summary a duplicate)"
check "deferred" 3 "$(summary a deferred)"
check "warnings" 1 "$(summary a warnings)"
check "hash rows" 16 "$(summary a 'hash rows')"
check "hash rows matching no user" 0 "$(summary a 'matching no user')"
check "one line per record, one per warning" 21 \
    "$(grep -c $'\t' "$A0_TMP/a.out")"
check "user without a hash" \
    "import|Username-Password-Authentication|no_password" \
    "$(line a 'auth0|5f0000000000000000000006')"
check "user with a hash" "import|Username-Password-Authentication" \
    "$(line a 'auth0|5f0000000000000000000001')"
check "legacy-db user goes to legacy-db" "import|legacy-db" \
    "$(line a 'auth0|5f0000000000000000000010')"
check "dotted metadata key" \
    "invalid|metadata key contains '.' or '\$'|app_metadata.https://ns.example.test/roles" \
    "$(line a 'auth0|5f000000000000000000000d')"
check "duplicate e-mail names the first record" \
    "duplicate|email|same email as auth0|5f0000000000000000000013" \
    "$(line a 'auth0|5f0000000000000000000014')"
check "large profile warned" "warning|profile is 200246 bytes, over Auth0's advisory 10240" \
    "$(grep -F $'auth0|5f0000000000000000000011\twarning' "$A0_TMP/a.out" |
        cut -f2)"

# --expect-hashes: one database user lacks a hash.
check "dry run with --expect-hashes exit status" 2 \
    "$(dry b --input "$users" --hashes "$hashes" --expect-hashes)"
check "--expect-hashes says why" 1 \
    "$(grep -c '1 database users have no password hash but --expect-hashes' \
        "$A0_TMP/b.err")"
check "the summary is still printed" 1 "$(summary b 'without (no_password)')"

# Rewriting instead of refusing, and mapping a connection.
printf '# old name = new name\nlegacy-db=Username-Password-Authentication\n' \
    >"$A0_TMP/map.txt"
check "rewrite and map exit status" 0 \
    "$(dry c --input "$users" --hashes "$hashes" --rewrite-metadata-keys \
        --connection-map-file "$A0_TMP/map.txt")"
check "rewritten user is imported" "import|Username-Password-Authentication" \
    "$(line c 'auth0|5f000000000000000000000d')"
check "rewrite is reported" \
    "warning|metadata keys rewritten: 2 (first at app_metadata.https://ns.example.test/roles)" \
    "$(grep -F $'auth0|5f000000000000000000000d\twarning' "$A0_TMP/c.out" |
        cut -f2)"
check "keys rewritten" 2 "$(summary c 'metadata keys rewritten')"
check "mapped connection" "import|Username-Password-Authentication" \
    "$(line c 'auth0|5f0000000000000000000010')"
check "bad map entry is a usage error" 2 \
    "$(dry d --input "$users" --connection-map legacy-db)"

# A CSV export: OWASP-escaped strings, field paths.
cat >"$A0_TMP/export.csv" <<'EOF'
user_id,email,email_verified,identities[0].connection,user_metadata.plan,username
"'auth0|c1","'c1@example.test",true,"'Username-Password-Authentication","'pro","'carol"
"'auth0|c2","'=c2@example.test",false,"'Username-Password-Authentication",,
"'auth0|c3","'not-an-address",false,"'Username-Password-Authentication",,
EOF
check "CSV dry run exit status" 0 "$(dry e --input "$A0_TMP/export.csv")"
check "CSV user" "import|Username-Password-Authentication|no_password" \
    "$(line e 'auth0|c1')"
check "CSV escaped value" "import|Username-Password-Authentication|no_password" \
    "$(line e 'auth0|c2')"
check "CSV bad e-mail" "invalid|email is not a valid address|email" \
    "$(line e 'auth0|c3')"

# Files of the wrong kind are refused as usage errors, naming file and line.
check "hash file as input" 2 "$(dry f --input "$hashes")"
check "hash file refusal says what was expected" 1 \
    "$(grep -c "$hashes:1: this is a support password-hash file; expected a Management API export" \
        "$A0_TMP/f.err")"
printf 'User ID,Email\n"x","y"\n' >"$A0_TMP/unknown.csv"
check "unknown CSV columns" 2 "$(dry g --input "$A0_TMP/unknown.csv")"
check "unknown column named" 1 \
    "$(grep -c 'unknown.csv:1: CSV header: column 1 ("User ID") is neither' \
        "$A0_TMP/g.err")"
check "users file as hash file" 2 \
    "$(dry h --input "$users" --hashes "$users")"

# Against a target: its connections decide, and --expect-hashes stops a
# real run before Redis or the target sees anything.
a0_start_redis
a0_start_sim target --import-rate 0
a0_use_tenant TARGET target
export A0_REDIS_URL=$REDIS_URL
check "dry run against the target" 0 \
    "$(dry i --input "$users" --hashes "$hashes")"
check "no legacy-db in the target" \
    "invalid|no target connection named legacy-db|identities[0].connection" \
    "$(line i 'auth0|5f0000000000000000000010')"
set +e
"$mig" run --input "$users" --hashes "$hashes" --expect-hashes \
    --run-id dry1 --local-workers 1 >"$A0_TMP/j.out" 2>"$A0_TMP/j.err"
rc=$?
set -e
check "real run with --expect-hashes exit status" 2 "$rc"
check "nothing written to Redis" 0 \
    "$(redis-cli -p "$REDIS_PORT" --scan --pattern 'a0m:*' | wc -l)"
check "no import job at the target" 0 \
    "$(curl -sf "$TARGET_URL/__sim/counters" | jq -r '.jobs.created')"
check "no user at the target" 0 \
    "$(curl -sf "$TARGET_URL/__sim/users" | grep -c . || true)"

a0_finish
