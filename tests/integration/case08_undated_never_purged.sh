#!/usr/bin/env bash
# Case 8: rows whose timestamp is NULL are never purged or archived; they are
# counted as undated for their class, in the dry run and the real run alike.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.runs (id bigint PRIMARY KEY, finished_at timestamptz);
INSERT INTO app.runs SELECT i, NULL FROM generate_series(1, 7) i;
INSERT INTO app.runs SELECT i, now() - interval '200 days' FROM generate_series(8, 10) i;
INSERT INTO app.runs SELECT i, now() - interval '5 days' FROM generate_series(11, 12) i;
CREATE TABLE app.jobs (id bigint PRIMARY KEY, finished_at timestamp);
INSERT INTO app.jobs SELECT i, NULL FROM generate_series(1, 4) i;
INSERT INTO app.jobs SELECT i, now() - interval '200 days' FROM generate_series(5, 6) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "case08", "version": 1, "max_fraction": 1.0,
 "classes": [
  {"name": "runs", "table": "app.runs", "key": "id", "timestamp_column": "finished_at",
   "action": "purge", "retain": "90 days"},
  {"name": "jobs", "table": "app.jobs", "key": "id", "timestamp_column": "finished_at",
   "action": "archive", "retain": "90 days"}]}
EOF2

for mode in dry real; do
  if [ $mode = dry ]; then run_job --policy "$WORK/policy.json" --dry-run
  else run_job --policy "$WORK/policy.json"; fi
  assert_eq "$mode: exits 0" 0 "$rc"
  assert_eq "$mode: runs undated" 7 "$(class_get runs undated)"
  assert_eq "$mode: runs eligible" 3 "$(class_get runs eligible)"
  assert_eq "$mode: jobs undated" 4 "$(class_get jobs undated)"
  assert_eq "$mode: jobs eligible" 2 "$(class_get jobs eligible)"
  sleep 1
done
assert_eq "real: runs purged" 3 "$(class_get runs purged)"
assert_eq "real: jobs archived" 2 "$(class_get jobs archived)"
assert_eq "undated runs all stay" 7 "$(q "SELECT count(*) FROM app.runs WHERE finished_at IS NULL")"
assert_eq "undated jobs all stay" 4 "$(q "SELECT count(*) FROM app.jobs WHERE finished_at IS NULL")"
assert_eq "young runs stay" 2 "$(q "SELECT count(*) FROM app.runs WHERE finished_at IS NOT NULL")"
assert_eq "no undated row in the archive" 0 \
  "$(for f in $(q "SELECT file_name FROM retention.archive_segments"); do
       zcat "$ARCHIVE/$f" | tail -n +2; done | grep -c ',$')"

# A later run still leaves them, still counts them.
run_job --policy "$WORK/policy.json"
assert_eq "rerun: runs undated still 7" 7 "$(class_get runs undated)"
assert_eq "rerun: nothing purged" 0 "$(class_get runs purged)"
finish
