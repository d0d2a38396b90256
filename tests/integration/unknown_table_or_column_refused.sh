#!/usr/bin/env bash
# A policy naming a table or column the catalog does not have is refused with
# exit status 2 and a message naming the field; nothing is removed from any
# table, including the other classes' tables that do exist.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz, customer_id int, day text);
INSERT INTO app.t (ts) SELECT now() - interval '100 days' FROM generate_series(1, 10);
INSERT INTO app.t (ts) SELECT now() FROM generate_series(1, 90);
SQL

try() {
  local label=$1 field=$2 class_json=$3
  cat >"$WORK/policy.json" <<EOF2
{"name": "refuse", "version": 1, "classes": [
  {"name": "good", "table": "app.t", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"}, $class_json]}
EOF2
  run_job --policy "$WORK/policy.json"
  assert_eq "$label: exit 2" 2 "$rc"
  assert_match "$label: message names the field" "field \\\\\"$field\\\\\"" "$(cat "$WORK/run.log")"
  assert_eq "$label: nothing removed" 100 "$(q "SELECT count(*) FROM app.t")"
  assert_eq "$label: report says refused" refused "$(report_get '["status"]')"
}

try "unknown table" table \
  '{"name": "bad", "table": "app.missing", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'
try "unknown schema" table \
  '{"name": "bad", "table": "nope.t", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'
q "CREATE TABLE app.t2 (LIKE app.t)" >/dev/null
try "unknown timestamp column" timestamp_column \
  '{"name": "bad", "table": "app.t2", "key": "id", "timestamp_column": "created", "action": "purge", "retain": "30 days"}'
try "unknown key" key \
  '{"name": "bad", "table": "app.t2", "key": "pk", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'
try "unknown hold key" hold_keys \
  '{"name": "bad", "table": "app.t2", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days", "hold_keys": ["ticket"]}'
try "timestamp column of the wrong type" timestamp_column \
  '{"name": "bad", "table": "app.t2", "key": "id", "timestamp_column": "day", "action": "purge", "retain": "30 days"}'
finish
