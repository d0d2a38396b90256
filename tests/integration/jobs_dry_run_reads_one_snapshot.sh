#!/usr/bin/env bash
# A dry run with --jobs 3 reads every number from one snapshot: the first
# session counts, the others import its snapshot and read the key digests
# and hold counts. Rows committed by another session all the while (old rows,
# eligible) change none of them: each class's digests count exactly the rows
# its counts say.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.big (id bigint PRIMARY KEY, ts timestamptz NOT NULL, customer_id int);
INSERT INTO app.big SELECT i, now() - ((i % 90) || ' days')::interval, i % 100
  FROM generate_series(1, 300000) i;
CREATE TABLE app.a (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, customer_id int);
CREATE TABLE app.b (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, customer_id int);
INSERT INTO app.a (ts, customer_id) SELECT now() - interval '60 days', i % 10
  FROM generate_series(1, 1000) i;
INSERT INTO app.b (ts, customer_id) SELECT now() - interval '60 days', i % 10
  FROM generate_series(1, 1000) i;
SQL
retention hold add --ticket T-1 --match customer_id=1 --reason "case" >/dev/null
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-snapshot", "version": 1, "max_fraction": 1.0, "classes": [
  {"name": "a", "table": "app.a", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "big", "table": "app.big", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "b", "table": "app.b", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]}]}
EOF2

# Old rows, one held in ten, committed one at a time while the dry runs read.
(
  while true; do
    psql -X -q -c "INSERT INTO app.a (ts, customer_id) VALUES (now() - interval '60 days', 1),
      (now() - interval '60 days', 2); INSERT INTO app.b (ts, customer_id)
      VALUES (now() - interval '60 days', 1)" >/dev/null 2>&1
  done
) &
writer=$!
for n in 1 2 3; do
  run_job --policy "$WORK/policy.json" --dry-run --jobs 3
  assert_eq "dry run $n: exit 0" 0 "$rc"
  assert_eq "dry run $n: each class's digests count its eligible and held rows" \
    "$(report_eval '[(c["eligible"], c["held"]) for c in r["classes"]]')" \
    "$(report_eval '[(c["key_digests"]["purged"]["rows"], c["key_digests"]["held"]["rows"])
       for c in r["classes"]]')"
  assert_eq "dry run $n: hold counts equal the classes' held rows" \
    "$(report_eval '[c["held"] for c in r["classes"]]')" \
    "$(report_eval '[m["rows_held"] for h in r["holds"] for m in h["matches"]]')"
done
kill "$writer"
wait "$writer" 2>/dev/null
assert_match "three sessions" '"3 sessions work on the classes"' "$(cat "$WORK/run.log")"
assert_match "rows were committed during the dry runs" '^[1-9][0-9]*$' \
  "$(q "SELECT count(*) - 1000 FROM app.a")"
finish
