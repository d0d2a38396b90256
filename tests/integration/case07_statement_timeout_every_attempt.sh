#!/usr/bin/env bash
# Case 7: a class whose every batch hits statement_timeout (a slow DELETE
# trigger the policy allows) fails loudly after its retries: the log and the
# report name the class and the timeout, its rows stay, the other classes are
# still processed, and the run exits 1, never 0.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.slow (id bigint PRIMARY KEY, at timestamptz);
CREATE FUNCTION app.slow_delete() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(0.2); RETURN OLD; END$$;
CREATE TRIGGER slow_audit BEFORE DELETE ON app.slow FOR EACH ROW EXECUTE FUNCTION app.slow_delete();
INSERT INTO app.slow SELECT i, now() - interval '100 days' FROM generate_series(1, 20) i;
CREATE TABLE app.fast1 (id bigint PRIMARY KEY, at timestamptz);
INSERT INTO app.fast1 SELECT i, now() - interval '100 days' FROM generate_series(1, 30) i;
CREATE TABLE app.fast2 (id bigint PRIMARY KEY, at timestamptz);
INSERT INTO app.fast2 SELECT i, now() - interval '100 days' FROM generate_series(1, 40) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "case07", "version": 1, "max_fraction": 1.0, "statement_timeout_ms": 100,
 "classes": [
  {"name": "fast1", "table": "app.fast1", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days"},
  {"name": "slow", "table": "app.slow", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days", "allow_triggers": ["slow_audit"]},
  {"name": "fast2", "table": "app.fast2", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days"}]}
EOF2

run_job --policy "$WORK/policy.json"
assert_eq "exit 1" 1 "$rc"
assert_eq "status failed" failed "$(report_get '["status"]')"
assert_eq "slow class failed" failed "$(class_get slow status)"
assert_eq "slow class sqlstate is statement_timeout" 57014 "$(class_get slow sqlstate)"
assert_match "slow class error says timeout" 'statement timeout' "$(class_get slow error)"
assert_eq "slow class retried, then gave up" 2 "$(class_get slow retries)"
assert_eq "slow class removed nothing" "0 20" \
  "$(class_get slow purged) $(q "SELECT count(*) FROM app.slow")"
assert_eq "the class before it ran" "ok 30 0" \
  "$(class_get fast1 status) $(class_get fast1 purged) $(q "SELECT count(*) FROM app.fast1")"
assert_eq "the class after it ran" "ok 40 0" \
  "$(class_get fast2 status) $(class_get fast2 purged) $(q "SELECT count(*) FROM app.fast2")"
assert_match "the log's error line names the class and the timeout" \
  '"level":"error".*"class":"slow".*statement timeout' \
  "$(grep '"level":"error"' "$WORK/run.log" | grep '"class":"slow"' | tail -n 1)"
assert_eq "the run's error names the class" \
  'class "slow" failed: delete batch: canceling statement due to statement timeout' \
  "$(report_get '["error"]["message"]')"
assert_eq "no session left idle in transaction" 0 \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'
        AND datname = current_database()")"
finish
