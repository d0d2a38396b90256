#!/usr/bin/env bash
# Every session of --jobs is opened before the first count: a role allowed
# two connections and asked for three fails the run (exit 1) with a report
# that says which session could not connect, and no row is removed. With
# --jobs 2 the same least-privilege job role does the whole run.
. "$(dirname "$0")/lib.sh"
setup_db

JOB=${RETENTION_TEST_DB_PREFIX:-}t_jobs_limited
drop_role() { psql -X -q -d postgres -c "DROP ROLE IF EXISTS $JOB" >/dev/null 2>&1; }
drop_role
trap 'dropdb --if-exists -f "$TEST_DB" >/dev/null 2>&1; drop_role; cleanup_work' EXIT
sql <<SQL
CREATE ROLE $JOB LOGIN CONNECTION LIMIT 2 IN ROLE retention_job;
CREATE SCHEMA app;
CREATE TABLE app.a (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.b (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.c (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
INSERT INTO app.a SELECT i, now() - interval '60 days' FROM generate_series(1, 300) i;
INSERT INTO app.b SELECT i, now() - interval '60 days' FROM generate_series(1, 200) i;
INSERT INTO app.c SELECT i, now() - interval '60 days' FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-limit", "version": 1, "max_fraction": 1.0, "classes": [
  {"name": "a", "table": "app.a", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "b", "table": "app.b", "key": "id", "timestamp_column": "ts",
   "action": "archive", "retain": "30 days"},
  {"name": "c", "table": "app.c", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"}]}
EOF2
retention db grants --policy "$WORK/policy.json" --apply >"$WORK/grants.log" 2>&1 ||
  { cat "$WORK/grants.log"; die "grants"; }
rows() {
  q "SELECT (SELECT count(*) FROM app.a) || ' ' || (SELECT count(*) FROM app.b) || ' '
    || (SELECT count(*) FROM app.c)"
}

run_job --policy "$WORK/policy.json" --db "user=$JOB" --jobs 3
assert_eq "three sessions for a role allowed two: exit 1" 1 "$rc"
assert_match "the report names the session" "^session 3 of --jobs 3: cannot connect" \
  "$(report_get '["error"]["message"]')"
assert_match "and the reason" "too many connections for role" "$(report_get '["error"]["message"]')"
assert_eq "no row removed" "300 200 100" "$(rows)"
assert_eq "ledger records the failed run" "failed 1" \
  "$(q "SELECT status || ' ' || exit_code FROM retention.runs ORDER BY sequence DESC LIMIT 1")"
assert_eq "no session of the run left" 0 \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retention'
      AND datname = current_database()")"

sleep 1
run_job --policy "$WORK/policy.json" --db "user=$JOB" --jobs 2
assert_eq "--jobs 2 as the job role: exit 0" 0 "$rc"
assert_eq "--jobs 2 as the job role: every class done" "300 200 100" \
  "$(class_get a purged) $(class_get b archived) $(class_get c purged)"
assert_eq "no row left" "0 0 0" "$(rows)"
finish
