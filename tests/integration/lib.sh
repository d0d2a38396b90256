# Shared helpers for the integration tests. Each test sources this file, gets
# a database of its own on the scratch server (PGHOST from tests/run.sh), a
# temporary directory with a fresh signing key, and the assertion helpers.
# A test ends with `finish`, which prints "N passed, M failed" and sets the
# exit status.
set -uo pipefail

: "${RETENTION_BIN:?run through ctest (tests/run.sh)}"
: "${PGHOST:?no scratch server: run tests/run.sh}"
export PGUSER=${PGUSER:-postgres}
export RETENTION_LOG_FORMAT=${RETENTION_LOG_FORMAT:-json}
SRC=${RETENTION_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

test_name=$(basename "$0" .sh)
TEST_DB="${RETENTION_TEST_DB_PREFIX:-}t_${test_name}"
export PGDATABASE=$TEST_DB
WORK=$(mktemp -d "/tmp/retention-${test_name}.XXXXXX")
REPORTS=$WORK/reports
ARCHIVE=$WORK/archive
KEY=$WORK/key.pem
PUB=$WORK/key.pub.pem
passed=0
failed=0

cleanup_work() {
  # Leave no session of ours behind, whatever the test did.
  jobs -p | xargs -r kill 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup_work EXIT

# A scratch server of the test's own, for a test that stops and starts it: the
# shared one serves the other tests running beside it. Call before setup_db.
private_server() {
  PRIVATE_PG=$WORK/pg
  chmod 0755 "$WORK"
  bash "$SRC/tests/pg.sh" start "$PRIVATE_PG" >/dev/null \
    || { echo "cannot start a server"; exit 1; }
  export PGHOST=$PRIVATE_PG
  trap 'stop_server; cleanup_work' EXIT
}

# Fast shutdown (the sessions are terminated), waiting until the server is down.
stop_server() {
  bash "$SRC/tests/pg.sh" stop "$PRIVATE_PG"
}

start_server() {
  bash "$SRC/tests/pg.sh" start "$PRIVATE_PG" >/dev/null || die "cannot restart the server"
}

# Starts `retention run --policy $WORK/policy.json` in the background, stops
# the private server once the count query $1 (rows still to go) has fallen by
# 300 from $before (set here), waits for the run and starts the server again,
# so that the run wrote its report but could not record it. $rc: its status.
run_until_server_stops() {
  local pid
  before=$(q "$1")
  "$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --signing-key "$KEY" \
    --progress-interval 0 2>"$WORK/run.log" &
  pid=$!
  for _ in $(seq 150); do
    [ "$(q "$1")" -lt $((before - 300)) ] && break
    sleep 0.1
  done
  stop_server
  wait "$pid"
  rc=$?
  start_server
}

# SQL helper: one value or rows, unaligned, tab-free; stops on error.
q() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# Runs a SQL script from stdin.
sql() {
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null
}

retention() {
  "$RETENTION_BIN" "$@"
}

# A fresh database with the retention schema and a signing key.
setup_db() {
  dropdb --if-exists -f "$TEST_DB" >/dev/null 2>&1
  createdb "$TEST_DB" || { echo "cannot create $TEST_DB"; exit 1; }
  retention db migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; exit 1; }
  retention keygen --out "$KEY" >/dev/null || exit 1
}

# Runs `retention run` with the test's dirs and key; extra arguments follow.
# The exit status is in $rc, stderr in $WORK/run.log.
run_job() {
  retention run --report-dir "$REPORTS" --archive-dir "$ARCHIVE" --signing-key "$KEY" \
    --progress-interval 0 "$@" 2>"$WORK/run.log"
  rc=$?
}

# The newest report file.
latest_report() {
  ls -t "$REPORTS"/*.json 2>/dev/null | head -n 1
}

# A value from the newest report, by a jq-like path handled by python3.
# Usage: report_get 'classes[0]["purged"]'   (python expression on r)
report_get() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("null" if v is None else (json.dumps(v) if isinstance(v,(dict,list)) else v))' \
    "${2:-$(latest_report)}" "r$1"
}

# The class entry of the newest report with the given name, one field of it.
class_get() {
  report_get "$(printf '["classes"][[c["name"] for c in r["classes"]].index("%s")]["%s"]' "$1" "$2")" "${3:-}"
}

assert_eq() {
  local what=$1 expected=$2 actual=$3
  if [ "$expected" == "$actual" ]; then
    passed=$((passed + 1))
    echo "ok - $what"
  else
    failed=$((failed + 1))
    echo "not ok - $what: expected [$expected], got [$actual]"
  fi
}

assert_match() {
  local what=$1 pattern=$2 actual=$3
  if [[ "$actual" =~ $pattern ]]; then
    passed=$((passed + 1))
    echo "ok - $what"
  else
    failed=$((failed + 1))
    echo "not ok - $what: [$actual] does not match /$pattern/"
  fi
}

# Fails the test at once with the run log, for states nothing else can follow.
die() {
  echo "not ok - $*"
  [ -f "$WORK/run.log" ] && sed 's/^/  log: /' "$WORK/run.log" | tail -n 20
  failed=$((failed + 1))
  finish
}

finish() {
  if [ "$failed" -gt 0 ] && [ -f "$WORK/run.log" ]; then
    echo "last run log:"
    sed 's/^/  /' "$WORK/run.log" | tail -n 30
  fi
  echo "$passed passed, $failed failed"
  dropdb --if-exists -f "$TEST_DB" >/dev/null 2>&1
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit $?
}

# Any python expression over the newest report, bound to r.
report_eval() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "${2:-$(latest_report)}" "$1"
}

# What the batch ledger says run $1's committed batches removed, in the words
# reports and verify use ("class t purged 330 rows in 6 batches; ...", or "no
# batch of it committed").
batches_of() {
  q "SELECT coalesce(string_agg(format('class %s %s %s rows in %s batch%s', class_name,
       CASE WHEN action = 'archive' THEN 'archived' ELSE 'purged' END, rows, n,
       CASE WHEN n = 1 THEN '' ELSE 'es' END), '; ' ORDER BY class_name, action),
       'no batch of it committed')
     FROM (SELECT class_name, action, sum(rows) AS rows, count(*) AS n FROM retention.batches
           WHERE run_id = '$1' GROUP BY class_name, action) b"
}
