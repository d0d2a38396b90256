#!/usr/bin/env bash
# An auditor's role with nothing but SELECT gets the dry run's numbers, and
# the dry run changes nothing: no rows, no ledger rows, no archive files.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.logs (id bigserial PRIMARY KEY, logged_at timestamptz, customer_id int);
CREATE TABLE app.esc (id bigserial PRIMARY KEY, closed_at timestamptz, customer_id int);
INSERT INTO app.logs (logged_at, customer_id)
  SELECT now() - (i || ' days')::interval, i % 5 FROM generate_series(1, 300) i;
INSERT INTO app.esc (closed_at, customer_id)
  SELECT now() - (i || ' days')::interval, i % 5 FROM generate_series(1, 100) i;
DROP ROLE IF EXISTS t_auditor_ro;
CREATE ROLE t_auditor_ro LOGIN;
GRANT USAGE ON SCHEMA app, retention TO t_auditor_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA app, retention TO t_auditor_ro;
SQL
retention hold add --ticket T-1 --match customer_id=3 --reason audit >/dev/null

cat >"$WORK/policy.json" <<'EOF2'
{"name": "auditor-test", "version": 1, "max_fraction": 0.9, "classes": [
  {"name": "logs", "table": "app.logs", "key": "id", "timestamp_column": "logged_at",
   "action": "purge", "retain": "180 days", "hold_keys": ["customer_id"]},
  {"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days", "hold_keys": ["customer_id"]}]}
EOF2
runs_before=$(q "SELECT count(*) FROM retention.runs")

PGUSER=t_auditor_ro run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run as a SELECT-only role exits 0" 0 "$rc"
assert_eq "logs eligible" 97 "$(class_get logs eligible)"
assert_eq "logs held" 24 "$(class_get logs held)"
assert_eq "esc eligible" 9 "$(class_get esc eligible)"
assert_eq "esc held" 2 "$(class_get esc held)"
assert_eq "no row removed" 400 "$(q "SELECT (SELECT count(*) FROM app.logs) + (SELECT count(*) FROM app.esc)")"
assert_eq "no ledger row" "$runs_before" "$(q "SELECT count(*) FROM retention.runs")"
assert_eq "no archive file" 0 "$(find "$ARCHIVE" -type f 2>/dev/null | wc -l)"
assert_eq "database user in report" t_auditor_ro "$(report_get '["database"]["user"]')"
dry=$(latest_report)

# The real run, by the owner, removes exactly what the dry run counted.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "real run exits 0" 0 "$rc"
assert_eq "logs purged equals dry-run eligible" "$(class_get logs eligible "$dry")" \
  "$(class_get logs purged)"
assert_eq "esc archived equals dry-run eligible" "$(class_get esc eligible "$dry")" \
  "$(class_get esc archived)"

# The auditor cannot run for real: the role may not delete.
PGUSER=t_auditor_ro run_job --policy "$WORK/policy.json"
assert_eq "a real run as the SELECT-only role fails" 1 "$rc"
assert_eq "... and removes nothing" "$((400 - 97 - 9))" \
  "$(q "SELECT (SELECT count(*) FROM app.logs) + (SELECT count(*) FROM app.esc)")"
q "DROP OWNED BY t_auditor_ro; DROP ROLE t_auditor_ro" >/dev/null
finish
