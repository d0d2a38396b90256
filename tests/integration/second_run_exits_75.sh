#!/usr/bin/env bash
# While one run holds the database's advisory lock, a second exits 75 at once
# and changes nothing: no rows, no report, no ledger row.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz);
INSERT INTO app.t (ts) SELECT now() - (i || ' days')::interval FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "lock", "version": 1, "classes": [{"name": "t", "table": "app.t", "key": "id",
  "timestamp_column": "ts", "action": "purge", "retain": "60 days"}]}
EOF2

# Another session holds the lock the job takes.
PGAPPNAME=lock_holder psql -X -q -c "SELECT pg_advisory_lock(7400100)" -c "SELECT pg_sleep(30)" \
  >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
  # This database's lock only: parallel tests' runs take the same key in theirs.
  [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7400100
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND granted")" = 1 ] && break
  sleep 0.1
done
start=$(date +%s)
run_job --policy "$WORK/policy.json"
assert_eq "second run exits 75" 75 "$rc"
assert_match "promptly" '^[0-4]$' "$(($(date +%s) - start))"
assert_eq "no row removed" 100 "$(q "SELECT count(*) FROM app.t")"
assert_eq "no report" 0 "$(ls "$REPORTS" 2>/dev/null | wc -l)"
assert_eq "no ledger row" 0 "$(q "SELECT count(*) FROM retention.runs")"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock_holder'" \
  >/dev/null
wait "$holder" 2>/dev/null

# With the lock free, the run goes ahead.
run_job --policy "$WORK/policy.json"
assert_eq "then the run succeeds" 0 "$rc"
assert_eq "and removes the old rows" 59 "$(q "SELECT count(*) FROM app.t")"
finish
