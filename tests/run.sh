#!/usr/bin/env bash
# The test command: installs what is missing, builds retention twice (a
# debug build and an AddressSanitizer + UndefinedBehaviorSanitizer build),
# starts a scratch PostgreSQL in a temporary directory, runs every unit and
# integration test under ctest against each build, and stops the server.
#
#   tests/run.sh            everything
#   tests/run.sh -R REGEX   only the ctest tests matching REGEX
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh

# A build that warns fails: the code is kept warning-free on gcc and clang.
build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DRETENTION_FAULTS=ON "$@" >/dev/null
  if ! cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
    cat "$dir/build.log"
    exit 1
  fi
  if grep -q "warning:" "$dir/build.log"; then
    grep -A3 "warning:" "$dir/build.log"
    echo "build in $dir has warnings" >&2
    exit 1
  fi
}

echo "== build (debug)"
build build
# The sanitizer build uses clang where it is installed, so both compilers
# check the code on every run.
echo "== build (address and undefined-behaviour sanitizers)"
if command -v clang >/dev/null 2>&1; then
  CC=clang build build-asan -DRETENTION_SANITIZE=ON
else
  build build-asan -DRETENTION_SANITIZE=ON
fi

tmp=$(mktemp -d /tmp/retention-test.XXXXXX)
chmod 0755 "$tmp"
cleanup() {
  tests/pg.sh stop "$tmp/pg" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== scratch PostgreSQL in $tmp/pg"
tests/pg.sh start "$tmp/pg" >/dev/null
export PGHOST="$tmp/pg" PGUSER=postgres PGDATABASE=postgres
unset PGPASSWORD PGSERVICE PGPORT

# Sanitizer reports fail the test that triggered them.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99
export LSAN_OPTIONS=suppressions="$root/tests/lsan.supp"

status=0
echo "== tests (debug build)"
ctest --test-dir build --output-on-failure -j"$jobs" "$@" || status=1
echo "== tests (sanitizer build)"
RETENTION_TEST_DB_PREFIX=asan_ ctest --test-dir build-asan --output-on-failure -j"$jobs" "$@" \
  || status=1
exit $status
