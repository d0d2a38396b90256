#!/usr/bin/env bash
# --jobs 3, and the session holding the run's advisory lock is terminated
# mid-run: every other session stops before its next batch, the run fails
# naming the lost lock, and a second run started at once (it gets the lock)
# never works beside the first: no batch of the first commits after the
# second's first. The first run does not close the ledger row the second
# marked abandoned, says so, and sets its report aside into incomplete/ (the
# second run chains past it). A normal rerun follows and the chain verifies
# against the ledger.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
-- about 60 heap pages of old rows each: one page a batch, 150 ms apart
CREATE TABLE app.p (id bigint PRIMARY KEY, ts timestamptz, body text);
CREATE TABLE app.r (id bigint PRIMARY KEY, ts timestamptz, body text);
CREATE TABLE app.w (id bigint PRIMARY KEY, ts timestamptz, body text);
INSERT INTO app.p SELECT i, now() - interval '90 days', repeat('x', 100)
  FROM generate_series(1, 4000) i;
INSERT INTO app.r SELECT i, now() - interval '90 days', repeat('y', 100)
  FROM generate_series(1, 4000) i;
INSERT INTO app.w SELECT i, now() - interval '90 days', repeat('z', 100)
  FROM generate_series(1, 4000) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-lock", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 150, "classes": [
  {"name": "p", "table": "app.p", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "r", "table": "app.r", "key": "id", "timestamp_column": "ts",
   "action": "archive", "retain": "30 days"},
  {"name": "w", "table": "app.w", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"}]}
EOF2
left() { q "SELECT count(*) FROM app.$1"; }
lock_pid() {
  q "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = 7400100
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
}

"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --signing-key "$KEY" \
  --archive-dir "$ARCHIVE" --progress-interval 0 --jobs 3 2>"$WORK/run1.log" &
pid=$!
for _ in $(seq 100); do
  [ "$(left p)" -lt 3700 ] && [ "$(left r)" -lt 3700 ] && [ "$(left w)" -lt 3700 ] && break
  sleep 0.1
done
holder=$(lock_pid)
[ -n "$holder" ] || die "no session holds the run's lock"
run1=$(q "SELECT run_id FROM retention.runs WHERE status = 'running'")
lost_at=$(q "SELECT clock_timestamp() FROM pg_terminate_backend($holder)")

# The second run, as soon as the lock is free: the rest of the work, without pauses.
for _ in $(seq 50); do
  [ -z "$(lock_pid)" ] && break
  sleep 0.02
done
sed -i 's/"batch_pause_ms": 150/"batch_pause_ms": 0/' "$WORK/policy.json"
run_job --policy "$WORK/policy.json" --jobs 3
rc2=$rc
wait "$pid"
rc1=$?
cp "$WORK/run1.log" "$WORK/run.log.1"

assert_eq "the run that lost its lock exits 1" 1 "$rc1"
assert_match "its log names the lost lock" "lost its advisory lock" "$(cat "$WORK/run1.log")"
report1=$(ls "$REPORTS"/incomplete/*"$run1".json 2>/dev/null)
assert_match "its report is set aside: the second run chains past it" "json$" "$report1"
[ -n "$report1" ] || report1=$(ls "$REPORTS"/*"$run1".json)
assert_eq "its report says failed" failed "$(report_get '["status"]' "$report1")"
assert_match "its report names the lost lock" "lost its advisory lock" \
  "$(report_get '["error"]' "$report1")"
# A batch whose check passed just before the lock went may still commit: at
# most one per session, within a batch's time; without the check the other
# sessions went on for seconds, a batch every 150 ms.
assert_eq "no batch of it committed after the lock was lost (those in flight aside)" 0 \
  "$(q "SELECT count(*) FROM retention.batches WHERE run_id = '$run1'
        AND committed_at > '$lost_at'::timestamptz + interval '1 s'")"
assert_eq "the second run exits 0" 0 "$rc2"
run2=$(q "SELECT run_id FROM retention.runs WHERE run_id <> '$run1' ORDER BY sequence LIMIT 1")
assert_eq "no batch of the first run after the second's first" 0 \
  "$(q "SELECT count(*) FROM retention.batches WHERE run_id = '$run1' AND committed_at >=
        (SELECT min(committed_at) FROM retention.batches WHERE run_id = '$run2')")"
assert_eq "the first run's ledger row stays as the second left it" abandoned \
  "$(q "SELECT status FROM retention.runs WHERE run_id = '$run1'")"
assert_match "the first run says its row was closed by a later run" "already closed" \
  "$(cat "$WORK/run1.log")"
assert_match "it says its report is set aside" "moved with its signature to incomplete/" \
  "$(cat "$WORK/run1.log")"
assert_eq "the batch ledger accounts for every row gone" 12000 \
  "$(q "SELECT sum(rows) FROM retention.batches")"
assert_eq "no row left" "0 0 0" "$(left p) $(left r) $(left w)"

# A normal rerun, and the chain.
sleep 1
run_job --policy "$WORK/policy.json" --jobs 3
assert_eq "rerun exits 0" 0 "$rc"
retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
assert_eq "verify --chain --db passes" 0 "$?"
[ "$failed" -gt 0 ] && sed 's/^/  chain: /' "$WORK/chain.out" && sed 's/^/  run1: /' "$WORK/run1.log" | tail -n 30
finish
