#!/usr/bin/env bash
# Two classes on one partition tree (a partitioned table and one of its
# partitions) would give one row two rules: the policy is refused with exit 2
# naming the field, and no partition loses a row.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.part (id bigint, ts timestamptz NOT NULL, PRIMARY KEY (id, ts))
  PARTITION BY RANGE (ts);
CREATE TABLE app.part_old PARTITION OF app.part FOR VALUES FROM ('2000-01-01') TO ('2026-01-01');
CREATE TABLE app.part_new PARTITION OF app.part FOR VALUES FROM ('2026-01-01') TO ('2100-01-01');
INSERT INTO app.part SELECT i, now() - (i || ' days')::interval FROM generate_series(1, 2000) i;
SQL
before=$(q "SELECT count(*) FROM app.part_old")
cat >"$WORK/policy.json" <<'EOF2'
{"name": "tree", "version": 1, "max_fraction": 1, "classes": [
  {"name": "a", "table": "app.part", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "300 days"},
  {"name": "b", "table": "app.part_old", "action": "keep", "retain": "indefinite"}]}
EOF2
run_job --policy "$WORK/policy.json"
assert_eq "exit 2" 2 "$rc"
assert_match "names the field and both classes" 'class \\"b\\": field \\"table\\".*class \\"a\\"' \
  "$(cat "$WORK/run.log")"
assert_eq "the kept partition keeps every row" "$before" "$(q "SELECT count(*) FROM app.part_old")"
assert_eq "the parent keeps every row" 2000 "$(q "SELECT count(*) FROM app.part")"
finish
