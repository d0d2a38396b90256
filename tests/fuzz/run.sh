#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time from its seed corpus. Not part of tests/run.sh.
#   tests/fuzz/run.sh [SECONDS]      (default 60 per target)
# New inputs go to build-fuzz/corpus/, never into the seeds; a crash leaves
# its input in build-fuzz/ and makes the script exit 1.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${1:-60}
BUILD=$SRC/build-fuzz

command -v clang >/dev/null || { echo "fuzz: clang is needed" >&2; exit 77; }
cmake -S "$SRC" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DRETENTION_FUZZ=ON -DRETENTION_FAULTS=OFF -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target policy_fuzz holds_fuzz >/dev/null

status=0
for target in policy holds; do
  mkdir -p "$BUILD/corpus/$target"
  cp -n "$SRC/tests/fuzz/corpus/$target"/* "$BUILD/corpus/$target/" 2>/dev/null || true
  echo "== ${target}_fuzz for ${SECONDS_EACH}s"
  if (cd "$BUILD" && "./tests/fuzz/${target}_fuzz" -max_total_time="$SECONDS_EACH" \
      -max_len=65536 -print_final_stats=1 "corpus/$target" 2>"$BUILD/${target}_fuzz.log"); then
    grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' \
      "$BUILD/${target}_fuzz.log" | sed "s/^/${target}: /"
    echo "${target}: corpus $(ls "$BUILD/corpus/$target" | wc -l) inputs; clean"
  else
    status=1
    tail -n 40 "$BUILD/${target}_fuzz.log"
    echo "${target}: CRASH (input saved in $BUILD)"
  fi
done
exit $status
