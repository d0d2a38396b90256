#!/usr/bin/env bash
# Under --jobs the classes are counted on several sessions at once, and still
# every class is counted and guarded before any row is removed: one class
# over its max_fraction refuses the whole run (exit 3), whichever session
# counted it, and no table loses a row. --jobs outside 1..64 is refused.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.a (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.b (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.c (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.d (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
INSERT INTO app.a SELECT i, now() - interval '60 days' FROM generate_series(1, 20000) i;
INSERT INTO app.b SELECT i, now() - interval '60 days' FROM generate_series(1, 20000) i;
INSERT INTO app.c SELECT i, now() - ((i % 10) * interval '10 days') FROM generate_series(1, 500) i;
INSERT INTO app.d SELECT i, now() - interval '60 days' FROM generate_series(1, 20000) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-guard", "version": 1, "max_fraction": 1.0, "classes": [
  {"name": "a", "table": "app.a", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "b", "table": "app.b", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "c", "table": "app.c", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days", "max_fraction": 0.5},
  {"name": "d", "table": "app.d", "key": "id", "timestamp_column": "ts",
   "action": "archive", "retain": "30 days"}]}
EOF2

for n in 0 65 -1 2x ""; do
  RETENTION_LOG_FORMAT=text run_job --policy "$WORK/policy.json" --jobs "$n"
  assert_eq "--jobs \"$n\": exit 2" 2 "$rc"
  assert_match "--jobs \"$n\": says why" "--jobs: \"$n\" is not 1 to 64" "$(cat "$WORK/run.log")"
done
assert_eq "no report for a usage error" 0 "$(ls "$REPORTS" 2>/dev/null | wc -l)"

run_job --policy "$WORK/policy.json" --jobs 3
assert_eq "exit 3" 3 "$rc"
assert_eq "run refused" refused "$(report_get '["status"]')"
assert_eq "the guard is class c's" "max_fraction" "$(report_eval '[c["guard"]["name"]
  for c in r["classes"] if c["guard"]][0]')"
assert_eq "class c refused, the others counted and not run" \
  "a:pending:20000 b:pending:20000 c:refused:350 d:pending:20000" \
  "$(report_eval '" ".join("%s:%s:%d" % (c["name"], c["status"], c["eligible"])
     for c in r["classes"])')"
assert_eq "no row removed" "20000 20000 500 20000" \
  "$(q "SELECT (SELECT count(*) FROM app.a) || ' ' || (SELECT count(*) FROM app.b) || ' '
      || (SELECT count(*) FROM app.c) || ' ' || (SELECT count(*) FROM app.d)")"
assert_eq "no archive segment" 0 "$(q "SELECT count(*) FROM retention.archive_segments")"
assert_eq "no session of the run left" 0 \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retention'
      AND datname = current_database()")"
finish
