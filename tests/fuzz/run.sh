#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz (-DA0_FUZZ=ON:
# libFuzzer, AddressSanitizer with leak checks, UndefinedBehaviorSanitizer)
# and runs each for SECONDS (default 60), starting from the seeds in
# tests/fuzz/corpus/<target>. Fails on the first crash, leak, sanitizer
# report or timeout; the input that caused it is left in
# build-fuzz/fuzz-artifacts/.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]   (targets: fuzz_transform,
#                                              fuzz_jdoc, fuzz_proto)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_transform fuzz_jdoc fuzz_proto)
# libFuzzer needs clang and its runtime (Debian: clang, libclang-rt-14-dev).
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n' \
    >"$probe/p.c"
if ! command -v clang >/dev/null ||
    ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    echo "fuzz: clang with the libFuzzer runtime is not installed; skipped" >&2
    exit 0
fi
dir=build-fuzz
CC=clang cmake -S . -B "$dir" -DA0_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}" >/dev/null
mkdir -p "$dir/fuzz-artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
    corpus="$dir/fuzz-corpus/$t"
    mkdir -p "$corpus"
    seeds=tests/fuzz/corpus/${t#fuzz_}
    if [ -d "$seeds" ]; then
        cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
        # gzip-compressed twins reach the decompression paths.
        for f in "$seeds"/*; do
            gzip -c "$f" >"$corpus/$(basename "$f").gz"
        done
    fi
    echo "fuzz: $t for ${secs}s"
    "$dir/tests/fuzz/$t" "$corpus" -max_total_time="$secs" -timeout=20 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$dir/fuzz-artifacts/$t-" 2>"$dir/fuzz-$t.log" || {
        tail -60 "$dir/fuzz-$t.log" >&2
        echo "fuzz: $t FAILED (see $dir/fuzz-$t.log)" >&2
        exit 1
    }
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" \
        "$dir/fuzz-$t.log" | sed "s/^/fuzz: $t /"
done
echo "fuzz: all targets ran clean"
