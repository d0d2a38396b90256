#!/usr/bin/env bash
# Under --jobs, a class whose DELETE fails is recorded as failed with its
# reason and SQLSTATE, its rows stay, the other classes still do all their
# work on the other sessions, and the run exits 1 with a signed report.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.bad (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.a (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.b (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
CREATE TABLE app.c (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
INSERT INTO app.bad SELECT i, now() - interval '60 days' FROM generate_series(1, 500) i;
INSERT INTO app.a SELECT i, now() - interval '60 days' FROM generate_series(1, 1500) i;
INSERT INTO app.a SELECT i, now() - interval '1 day' FROM generate_series(1501, 1600) i;
INSERT INTO app.b SELECT i, now() - interval '60 days' FROM generate_series(1, 700) i;
INSERT INTO app.c SELECT i, now() - interval '60 days' FROM generate_series(1, 300) i;
INSERT INTO app.c SELECT i, now() - interval '1 day' FROM generate_series(301, 310) i;
CREATE FUNCTION app.refuse() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'rows of app.bad may not be deleted'; END$$;
CREATE TRIGGER refuse BEFORE DELETE ON app.bad FOR EACH ROW EXECUTE FUNCTION app.refuse();
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-fail", "version": 1, "max_fraction": 1.0, "batch_max_pages": 2, "classes": [
  {"name": "bad", "table": "app.bad", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days", "allow_triggers": ["refuse"]},
  {"name": "a", "table": "app.a", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "b", "table": "app.b", "key": "id", "timestamp_column": "ts",
   "action": "archive", "retain": "30 days"},
  {"name": "c", "table": "app.c", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"}]}
EOF2

run_job --policy "$WORK/policy.json" --jobs 2
assert_eq "exit 1" 1 "$rc"
assert_eq "run status failed" failed "$(report_get '["status"]')"
assert_eq "statuses in policy order" "bad:failed a:ok b:ok c:ok" \
  "$(report_eval '" ".join(c["name"] + ":" + c["status"] for c in r["classes"])')"
assert_eq "failing class: sqlstate" P0001 "$(class_get bad sqlstate)"
assert_match "failing class: reason" "rows of app.bad may not be deleted" "$(class_get bad error)"
assert_eq "failing class: nothing purged, nothing gone" "0 500" \
  "$(class_get bad purged) $(q "SELECT count(*) FROM app.bad")"
assert_eq "failing class: empty removed digest" 0 \
  "$(report_eval 'r["classes"][0]["key_digests"]["purged"]["rows"]')"
assert_eq "other classes: all their work" "1500 700 300" \
  "$(class_get a purged) $(class_get b archived) $(class_get c purged)"
assert_eq "other classes: rows left" "100 0 10" \
  "$(q "SELECT (SELECT count(*) FROM app.a) || ' ' || (SELECT count(*) FROM app.b) || ' '
      || (SELECT count(*) FROM app.c)")"
assert_eq "archive ledger: every archived row" 700 \
  "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_match "the error names the failing class" 'class \\"bad\\" failed' "$(cat "$WORK/run.log")"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >/dev/null 2>&1
assert_eq "report and segments verify" 0 "$?"
assert_eq "ledger records the failed run" "failed 1" \
  "$(q "SELECT status || ' ' || exit_code FROM retention.runs ORDER BY sequence DESC LIMIT 1")"
finish
