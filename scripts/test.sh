#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as
# errors, runs every test (unit, integration, conformance), then rebuilds
# with AddressSanitizer and UndefinedBehaviorSanitizer and runs them again,
# except the ones labelled slow, which run once; then runs each libFuzzer
# target for A0_FUZZ_SECONDS (default 60). A0_TEST_QUICK=1 skips the
# sanitizer and fuzzing passes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

# run_suite DIR "CTEST ARGS" [CMAKE ARGS...]
run_suite() {
    local dir=$1 select=$2
    shift 2
    echo "== build $dir $*"
    scripts/build.sh "$dir" -DA0_WERROR=ON "$@"
    echo "== test $dir $select"
    # shellcheck disable=SC2086
    (cd "$dir" && ctest --output-on-failure --timeout 900 -j2 $select)
}

run_suite build ""
if [ "${A0_TEST_QUICK:-0}" != 1 ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # Tests labelled slow run once, in the build above.
    run_suite build-asan "-LE slow" -DA0_SANITIZE=address,undefined \
        -DCMAKE_BUILD_TYPE=Debug
    echo "== fuzz"
    tests/fuzz/run.sh "${A0_FUZZ_SECONDS:-60}"
fi
