#!/usr/bin/env bash
# Runs ctest in the normal build, then in the ASan+UBSan build, and ends with ctest's
# summary line of the combined run.
set -uo pipefail
BUILD=${1:-build}; ASAN=${2:-build-asan}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
( cd "$ASAN" && ctest --output-on-failure -j2 ) ; asan_rc=$?
( cd "$BUILD" && ctest --output-on-failure -j2 ) ; rc=$?
[ $asan_rc -ne 0 ] && echo "ASan+UBSan build: tests failed" && exit 1
exit $rc
