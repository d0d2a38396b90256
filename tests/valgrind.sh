#!/usr/bin/env bash
# Runs one real run (purge, archive and keep classes, a hold, several batches)
# and one dry run of retention under valgrind memcheck against a scratch
# PostgreSQL, and prints "clean" or "dirty" for each. Not part of tests/run.sh.
#   tests/valgrind.sh
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build-valgrind
command -v valgrind >/dev/null || { echo "valgrind: not installed" >&2; exit 77; }

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DRETENTION_FAULTS=OFF \
  -DBUILD_TESTING=OFF >/dev/null && cmake --build "$BUILD" -j"$(nproc)" --target retention \
  >/dev/null || exit 1
BIN=$BUILD/retention

tmp=$(mktemp -d /tmp/retention-valgrind.XXXXXX)
chmod 0755 "$tmp"
cleanup() {
  "$SRC/tests/pg.sh" stop "$tmp/pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
"$SRC/tests/pg.sh" start "$tmp/pg" >/dev/null || exit 1
export PGHOST=$tmp/pg PGUSER=postgres PGDATABASE=valgrind RETENTION_LOG_FORMAT=json
unset PGPASSWORD PGSERVICE PGPORT
createdb valgrind || exit 1
"$BIN" db migrate >/dev/null 2>&1 || exit 1
"$BIN" keygen --out "$tmp/key.pem" >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 <<'SQL' || exit 1
CREATE SCHEMA app;
CREATE TABLE app.inputs (id bigserial PRIMARY KEY, received_at timestamptz, customer_id bigint,
                         body text);
INSERT INTO app.inputs (received_at, customer_id, body)
  SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE now() - ((i % 60) || ' days')::interval END,
         i % 7, repeat('x', 100) FROM generate_series(1, 5000) i;
CREATE TABLE app.esc (id bigserial PRIMARY KEY, closed_at timestamptz, summary text);
INSERT INTO app.esc (closed_at, summary)
  SELECT now() - ((i % 200) || ' days')::interval, 'a, "b"' || chr(10) || repeat('y', i % 500)
  FROM generate_series(1, 2000) i;
CREATE TABLE app.agg (id bigint PRIMARY KEY, at timestamptz);
SQL
cat >"$tmp/policy.json" <<'EOF2'
{"name": "valgrind", "version": 1, "max_fraction": 0.9, "batch_max_pages": 8,
 "classes": [
  {"name": "inputs", "table": "app.inputs", "key": "id", "timestamp_column": "received_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days"},
  {"name": "agg", "table": "app.agg", "action": "keep", "retain": "indefinite"}]}
EOF2
"$BIN" hold add --ticket INV-1 --match customer_id=3 --reason "valgrind" >/dev/null || exit 1

status=0
memcheck() { # NAME ARGS...
  local name=$1
  shift
  valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --log-file="$tmp/$name.vg" \
    "$BIN" run --policy "$tmp/policy.json" --report-dir "$tmp/reports" \
    --archive-dir "$tmp/archive" --progress-interval 0 "$@" 2>"$tmp/$name.log"
  local rc=$?
  local summary
  summary=$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|in use at exit|All heap' \
    "$tmp/$name.vg" | sed 's/^==[0-9]*== *//')
  if [ $rc -eq 0 ]; then
    echo "$name: clean (exit 0)"
  else
    status=1
    echo "$name: dirty (exit $rc)"
    grep -v '^==[0-9]*== *$' "$tmp/$name.vg" | tail -n 40
    tail -n 5 "$tmp/$name.log"
  fi
  echo "$summary" | sed "s/^/  $name: /"
}
memcheck dry-run --dry-run
memcheck real-run --signing-key "$tmp/key.pem"
exit $status
