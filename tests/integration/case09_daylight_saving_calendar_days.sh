#!/usr/bin/env bash
# Case 9: "N days" are calendar days in the policy's time zone. As of
# 2026-03-09 16:00 UTC in America/New_York (a day after clocks went
# forward), "2 days" gives a cutoff of 2026-03-07 17:00 UTC (noon local).
# timestamp-without-time-zone and date columns are read in that zone;
# "48 hours" counts elapsed time instead.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.tz (id int PRIMARY KEY, at timestamptz);
INSERT INTO app.tz VALUES (1, '2026-03-07 16:30:00+00'), (2, '2026-03-07 17:30:00+00'),
                          (3, '2026-03-07 16:59:59+00'), (4, '2026-03-07 17:00:00+00');
CREATE TABLE app.naive (id int PRIMARY KEY, at timestamp);
INSERT INTO app.naive VALUES (1, '2026-03-07 11:30:00'), (2, '2026-03-07 12:30:00');
CREATE TABLE app.days (id int PRIMARY KEY, on_day date);
INSERT INTO app.days VALUES (1, '2026-03-06'), (2, '2026-03-07'), (3, '2026-03-08');
SQL

cat >"$WORK/policy.json" <<'EOF2'
{"name": "dst", "version": 1, "timezone": "America/New_York", "max_fraction": 1,
 "classes": [
  {"name": "tz", "table": "app.tz", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "2 days"},
  {"name": "naive", "table": "app.naive", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "2 days"},
  {"name": "days", "table": "app.days", "key": "id", "timestamp_column": "on_day",
   "action": "purge", "retain": "2 days"}]}
EOF2
run_job --policy "$WORK/policy.json" --dry-run --as-of "2026-03-09 16:00:00+00"
assert_eq "dry run exits 0" 0 "$rc"
assert_eq "as_of" "2026-03-09T16:00:00.000000Z" "$(report_get '["as_of"]')"
assert_eq "cutoff is noon local, 17:00 UTC" "2026-03-07T17:00:00.000000Z" "$(class_get tz cutoff)"
assert_eq "timestamptz: 16:30 and 16:59:59 UTC eligible, 17:00 and 17:30 not" 2 \
  "$(class_get tz eligible)"
assert_eq "timestamp: 11:30 local eligible, 12:30 not" 1 "$(class_get naive eligible)"
assert_eq "date: the 6th and 7th eligible (a date is its local midnight)" 2 \
  "$(class_get days eligible)"

sed -i 's/"2 days"/"48 hours"/' "$WORK/policy.json"
run_job --policy "$WORK/policy.json" --dry-run --as-of "2026-03-09 16:00:00+00"
assert_eq "48 hours is elapsed time" "2026-03-07T16:00:00.000000Z" "$(class_get tz cutoff)"
assert_eq "48 hours: no row is before 16:00 UTC" 0 "$(class_get tz eligible)"

# --as-of is refused outside a dry run.
run_job --policy "$WORK/policy.json" --as-of "2026-03-09 16:00:00+00"
assert_eq "--as-of without --dry-run is refused by a guard" 3 "$rc"
assert_eq "nothing removed" 4 "$(q "SELECT count(*) FROM app.tz")"
finish
