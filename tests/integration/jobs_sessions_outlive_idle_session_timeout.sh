#!/usr/bin/env bash
# The database ends idle sessions after 300 ms (idle_session_timeout), and
# --jobs 4 works on one long class and three small ones: the sessions done
# with their small class wait, idle, for seconds, the one holding the run's
# lock among them. The job's sessions turn the timeout off: the run succeeds
# with every class's key digests and no row left.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
-- the long class: about 30 heap pages, one page a batch, 100 ms apart
CREATE TABLE app.big (id bigint PRIMARY KEY, ts timestamptz, body text);
INSERT INTO app.big SELECT i, now() - interval '90 days', repeat('x', 100)
  FROM generate_series(1, 2000) i;
CREATE TABLE app.s1 (id bigint PRIMARY KEY, ts timestamptz);
CREATE TABLE app.s2 (id bigint PRIMARY KEY, ts timestamptz);
CREATE TABLE app.s3 (id bigint PRIMARY KEY, ts timestamptz);
INSERT INTO app.s1 SELECT i, now() - interval '90 days' FROM generate_series(1, 10) i;
INSERT INTO app.s2 SELECT i, now() - interval '90 days' FROM generate_series(1, 10) i;
INSERT INTO app.s3 SELECT i, now() - interval '90 days' FROM generate_series(1, 10) i;
SQL
q "ALTER DATABASE $TEST_DB SET idle_session_timeout = '300ms'" >/dev/null
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-idle", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 100, "classes": [
  {"name": "s1", "table": "app.s1", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "s2", "table": "app.s2", "key": "id", "timestamp_column": "ts",
   "action": "archive", "retain": "30 days"},
  {"name": "big", "table": "app.big", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "s3", "table": "app.s3", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"}]}
EOF2

run_job --policy "$WORK/policy.json" --jobs 4
assert_eq "run exits 0" 0 "$rc"
assert_eq "status success" success "$(report_get '["status"]')"
assert_eq "every class ok" "s1:ok s2:ok big:ok s3:ok" \
  "$(report_eval '" ".join(c["name"] + ":" + c["status"] for c in r["classes"])')"
assert_eq "every class's removed-keys digest counts its rows" "10 10 2000 10" \
  "$(report_eval '" ".join(str(c["key_digests"][k]["rows"]) for c, k in
     zip(r["classes"], ("purged", "archived", "purged", "purged")))')"
assert_eq "no row left" 0 \
  "$(q "SELECT (SELECT count(*) FROM app.big) + (SELECT count(*) FROM app.s1)
        + (SELECT count(*) FROM app.s2) + (SELECT count(*) FROM app.s3)")"
finish
