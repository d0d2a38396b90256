#!/usr/bin/env bash
# SIGTERM (Kubernetes stopping the pod) and SIGINT stop a run between batches:
# the batch in flight commits, the run writes a signed report with status
# "interrupted" whose purged count is exactly the rows gone, and exits 1. A
# second signal soon after the first changes nothing. A rerun does the rest.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigint PRIMARY KEY, ts timestamptz, body text);
-- about 60 heap pages of old rows: one page a batch, 200 ms apart, is a run of ~12 s
INSERT INTO app.t SELECT i, now() - interval '90 days', repeat('x', 100)
  FROM generate_series(1, 4000) i;
INSERT INTO app.t SELECT 100000 + i, now() - interval '1 day', 'young'
  FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "sig", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1, "batch_pause_ms": 200,
 "classes": [{"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts",
              "action": "purge", "retain": "30 days"}]}
EOF2
old_left() { q "SELECT count(*) FROM app.t WHERE body <> 'young'"; }

# Starts a run in the background, waits until some batches committed, sends the signal twice.
interrupt_run() {
  local sig=$1 before=$2 pid
  "$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --signing-key "$KEY" \
    --progress-interval 0 2>"$WORK/run.log" &
  pid=$!
  for _ in $(seq 100); do
    [ "$(old_left)" -lt $((before - 300)) ] && break
    sleep 0.1
  done
  kill -"$sig" "$pid"
  sleep 0.05
  kill -"$sig" "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
}

for sig in TERM INT; do
  before=$(old_left)
  interrupt_run $sig "$before"
  after=$(old_left)
  assert_eq "SIG$sig: exit 1" 1 "$rc"
  assert_eq "SIG$sig: status interrupted" interrupted "$(report_get '["status"]')"
  assert_eq "SIG$sig: class interrupted" interrupted "$(class_get t status)"
  assert_eq "SIG$sig: purged equals the rows gone" "$((before - after))" "$(class_get t purged)"
  assert_match "SIG$sig: some rows gone" '^[1-9][0-9]*$' "$((before - after))"
  assert_match "SIG$sig: stopped before the end" '^[1-9][0-9]*$' "$after"
  assert_eq "SIG$sig: young rows untouched" 100 \
    "$(q "SELECT count(*) FROM app.t WHERE body = 'young'")"
  report=$(latest_report)
  openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -in "$report" -sigfile "$report.sig" \
    >/dev/null 2>&1
  assert_eq "SIG$sig: report signed (openssl verifies)" 0 "$?"
  assert_eq "SIG$sig: ledger records the interrupted run" "interrupted 1" \
    "$(q "SELECT status || ' ' || exit_code FROM retention.runs ORDER BY sequence DESC LIMIT 1")"
  assert_eq "SIG$sig: nothing left running" 0 \
    "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retention'
        AND datname = current_database()")"
  sleep 1
done

# The rerun completes the rest, and the chain holds.
run_job --policy "$WORK/policy.json"
assert_eq "rerun exits 0" 0 "$rc"
assert_eq "rerun purged the rest" "$after" "$(class_get t purged)"
assert_eq "no old row left" 0 "$(old_left)"
assert_eq "young rows stay" 100 "$(q "SELECT count(*) FROM app.t")"
retention verify --chain "$REPORTS" --public-key "$PUB" >"$WORK/chain.out" 2>&1
assert_eq "chain of interrupted and complete reports verifies" 0 "$?"

# An archive class stopped by SIGTERM: what went is in committed, verified segments.
sleep 1
q "INSERT INTO app.t SELECT 200000 + i, now() - interval '90 days', repeat('a', 100)
   FROM generate_series(1, 4000) i" >/dev/null
sed -i 's/"purge"/"archive"/' "$WORK/policy.json"
before=$(old_left)
"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --signing-key "$KEY" \
  --archive-dir "$ARCHIVE" --progress-interval 0 2>"$WORK/run.log" &
pid=$!
for _ in $(seq 100); do
  [ "$(old_left)" -lt $((before - 300)) ] && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
rc=$?
after=$(old_left)
assert_eq "archive SIGTERM: exit 1" 1 "$rc"
assert_eq "archive SIGTERM: status interrupted" interrupted "$(report_get '["status"]')"
assert_eq "archive SIGTERM: archived equals the rows gone" "$((before - after))" \
  "$(class_get t archived)"
assert_eq "archive SIGTERM: ledger rows equal the rows gone" "$((before - after))" \
  "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_match "archive SIGTERM: stopped before the end" '^[1-9][0-9]*$' "$after"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >/dev/null
assert_eq "archive SIGTERM: report and segments verify" 0 "$?"
assert_eq "archive SIGTERM: no segment left uncommitted" \
  "$(q "SELECT count(*) FROM retention.archive_segments")" \
  "$(find "$ARCHIVE/t" -name '*.csv.gz' | wc -l)"
finish
