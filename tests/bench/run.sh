#!/usr/bin/env bash
# Runs the record-pipeline benchmark: builds bench_pipeline (optimised, no
# sanitizers) into build-bench, generates a 1,000,000-user NDJSON.gz export
# of about 1 KB per user and its password-hash file (kept in $A0_BENCH_DIR,
# default /tmp/a0bench, and reused when present), then measures in one
# process reading, transforming and packing it, with and without the hash
# join, and a half-size export to show memory does not grow with the file.
# Finally jq -c does only the field deletions on the same export, for the
# ratio. Prints one line per measurement.
#
#   tests/bench/run.sh [USERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
users=${1:-1000000}
dir=${A0_BENCH_DIR:-/tmp/a0bench}
mkdir -p "$dir"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target bench_pipeline >/dev/null
bench=build-bench/tests/bench/bench_pipeline

gen() { # USERS NAME
    if [ ! -s "$dir/$2.ndjson.gz" ] || [ ! -s "$dir/$2.hashes.ndjson" ]; then
        echo "generating $1 users into $dir/$2.ndjson.gz" >&2
        "$bench" gen "$dir/$2.ndjson.gz" "$1" "$dir/$2.hashes.ndjson"
    fi
}
gen "$users" users
gen $((users / 2)) half

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo |
    cut -d: -f2- | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "input: $users users, $(stat -c %s "$dir/users.ndjson.gz") bytes gzip," \
    "$(gzip -dc "$dir/users.ndjson.gz" | wc -c) bytes NDJSON"

# One core: the process is pinned when taskset is there.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

measure() { # LABEL ARGS...
    local label=$1
    shift
    local out
    if ! out=$("${pin[@]}" "$bench" run "$@" 2>&1); then
        echo "$label: $out" >&2
        return 1
    fi
    printf '%-28s users/s %8s  peak RSS %8s KB  (%s s)\n' "$label" \
        "$(awk '/^users\/s/ { print $2 }' <<<"$out")" \
        "$(awk '/^peak RSS/ { print $3 }' <<<"$out")" \
        "$(awk '/^elapsed/ { print $2 }' <<<"$out")"
}
measure "pipeline" "$dir/users.ndjson.gz"
measure "pipeline + hash join" "$dir/users.ndjson.gz" \
    "$dir/users.hashes.ndjson"
measure "half-size export" "$dir/half.ndjson.gz"

# jq does only what the transform drops, on the same decompressed stream.
if command -v jq >/dev/null; then
    start=$(date +%s.%N)
    gzip -dc "$dir/users.ndjson.gz" | "${pin[@]}" jq -c 'del(.identities,
        .created_at, .updated_at, .last_login, .last_ip, .logins_count,
        .last_password_reset, .multifactor, .multifactor_last_modified,
        .blocked_for, .guardian_authenticators)' >/dev/null
    end=$(date +%s.%N)
    jq_rate=$(awk -v n="$users" -v a="$start" -v b="$end" \
        'BEGIN { printf "%.0f", n / (b - a) }')
    printf '%-28s users/s %8s  (%.1f s)\n' "jq -c field deletions" \
        "$jq_rate" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
fi
