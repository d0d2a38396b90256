#!/usr/bin/env bash
# A partition wholly before the cutoff is dropped whole only when its rows do
# not take the class past the eligible rows it counted before the work. Rows
# inserted into it with an old timestamp after the count (while an earlier
# class is at work) make it too big: it is not dropped, its batches stop at
# the count, and the next run, which counts them, drops it.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.slow (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
INSERT INTO app.slow SELECT i, now() - interval '60 days' FROM generate_series(1, 2000) i;
CREATE TABLE app.ev (id bigint, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at))
  PARTITION BY RANGE (created_at);
CREATE TABLE app.ev_old PARTITION OF app.ev FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
CREATE TABLE app.ev_new PARTITION OF app.ev FOR VALUES FROM ('2001-01-01') TO ('2100-01-01');
INSERT INTO app.ev SELECT i, '2000-06-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 100) i;
INSERT INTO app.ev SELECT 1000 + i, now() FROM generate_series(1, 100) i;
SQL
# One block a batch with a pause: the first class takes a couple of seconds.
cat >"$WORK/policy.json" <<'EOF2'
{"name": "grown", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 200, "batch_target_ms": 60000,
 "classes": [
   {"name": "slow", "table": "app.slow", "key": "id", "timestamp_column": "created_at",
    "action": "purge", "retain": "30 days"},
   {"name": "ev", "table": "app.ev", "key": "id", "timestamp_column": "created_at",
    "action": "purge", "retain": "30 days"}]}
EOF2

"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --archive-dir "$ARCHIVE" \
  --signing-key "$KEY" --progress-interval 0 2>"$WORK/run.log" &
pid=$!
for _ in $(seq 200); do
  [ "$(q "SELECT count(*) FROM app.slow")" -lt 2000 ] && break
  sleep 0.05
done
q "INSERT INTO app.ev SELECT 500 + i, '2000-03-01' FROM generate_series(1, 20) i" >/dev/null
slow_left=$(q "SELECT count(*) FROM app.slow")
wait "$pid"
rc=$?
[ "$slow_left" -gt 0 ] || die "the first class was done before the insert"

assert_eq "exit 1: counted rows were left" 1 "$rc"
assert_eq "slow: all purged" "ok 2000" "$(class_get slow status) $(class_get slow purged)"
assert_eq "ev: counted 100, removed none" "100 0" \
  "$(class_get ev eligible) $(class_get ev purged)"
assert_eq "ev: failed" failed "$(class_get ev status)"
assert_match "ev: error" 'removed 0 of the 100 rows it counted eligible, then stopped' \
  "$(class_get ev error)"
assert_eq "ev: no partition removed whole" "[]" "$(class_get ev partitions)"
warnings=$(report_eval '"|".join(r["warnings"])')
assert_match "warning: the partition would pass the count" \
  'class ev: partition app.ev_old not removed whole: its 120 rows would take the class past the 100 rows it counted eligible \(0 removed so far\)' \
  "$warnings"
assert_match "warning: the batches stopped at the count" \
  'class ev: stopped at the 100 rows it counted eligible before the work \(0 removed\)' "$warnings"
assert_eq "the partition and its rows stay" "120 100" \
  "$(q "SELECT (SELECT count(*) FROM app.ev_old) || ' ' || (SELECT count(*) FROM app.ev_new)")"
assert_eq "no ev batch in the ledger" "class slow purged 2000 rows in 11 batches" \
  "$(batches_of "$(report_get '["run_id"]')")"

# The next run counts 120 and drops the partition whole.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "next run exit" 0 "$rc"
assert_eq "next run: ev counted and purged" "120 120" \
  "$(class_get ev eligible) $(class_get ev purged)"
assert_eq "next run: dropped whole" "app.ev_old dropped 120" \
  "$(report_eval '" ".join(p["name"] + " " + p["outcome"] + " " + str(p["rows"]) for c in r["classes"] if c["name"] == "ev" for p in c["partitions"])')"
assert_eq "young partition untouched" 100 "$(q "SELECT count(*) FROM app.ev")"
finish
