#!/usr/bin/env bash
# The database connection is lost in the middle of a run (the job's backend is
# terminated): the run exits 1 with a signed report of what committed (purged
# is exactly the rows gone), the ledger records that report, the chain of
# reports stays whole, and a rerun completes the rest.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigint PRIMARY KEY, ts timestamptz, body text);
INSERT INTO app.t SELECT i, now() - interval '90 days', repeat('x', 100)
  FROM generate_series(1, 4000) i;
INSERT INTO app.t SELECT 100000 + i, now() - interval '1 day', 'young'
  FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "lost", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1, "batch_pause_ms": 200,
 "classes": [{"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts",
              "action": "purge", "retain": "30 days"}]}
EOF2
old_left() { q "SELECT count(*) FROM app.t WHERE body <> 'young'"; }

# A first, complete run with nothing old yet, so the chain has a start.
q "UPDATE app.t SET ts = now() WHERE body <> 'young'" >/dev/null
run_job --policy "$WORK/policy.json"
assert_eq "first run exits 0" 0 "$rc"
q "UPDATE app.t SET ts = now() - interval '90 days' WHERE body <> 'young'" >/dev/null
sleep 1

before=$(old_left)
"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --signing-key "$KEY" \
  --progress-interval 0 2>"$WORK/run.log" &
pid=$!
for _ in $(seq 100); do
  [ "$(old_left)" -lt $((before - 300)) ] && break
  sleep 0.1
done
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'retention'
   AND datname = current_database()" >/dev/null
wait "$pid"
rc=$?
after=$(old_left)
lost=$(latest_report)
assert_eq "lost connection: exit 1" 1 "$rc"
assert_eq "status failed" failed "$(report_get '["status"]')"
assert_eq "class failed" failed "$(class_get t status)"
assert_eq "purged equals the rows gone" "$((before - after))" "$(class_get t purged)"
assert_match "stopped before the end" '^[1-9][0-9]*$' "$after"
assert_match "the log says the connection was lost" 'terminat|connection' "$(cat "$WORK/run.log")"
openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -in "$lost" -sigfile "$lost.sig" \
  >/dev/null 2>&1
assert_eq "report signed" 0 "$?"
assert_eq "ledger records the report of the lost run" \
  "failed 1 $(sha256sum "$lost" | cut -d' ' -f1)" \
  "$(q "SELECT status || ' ' || exit_code || ' ' || report_sha256 FROM retention.runs
        ORDER BY sequence DESC LIMIT 1")"
sleep 1

run_job --policy "$WORK/policy.json"
assert_eq "rerun exits 0" 0 "$rc"
assert_eq "rerun purged the rest" "$after" "$(class_get t purged)"
assert_eq "no old row left" 0 "$(old_left)"
assert_eq "young rows stay" 100 "$(q "SELECT count(*) FROM app.t")"
assert_eq "rerun finds no unfinished run" "[]" "$(report_get '["unfinished_runs"]')"
assert_eq "rerun chains to the lost run's report" "$(sha256sum "$lost" | cut -d' ' -f1)" \
  "$(report_get '["previous_report_sha256"]')"
retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
crc=$?
grep -E '^(BREAK|note)' "$WORK/chain.out" | sed 's/^/  /'
assert_eq "chain verifies, ledger included" 0 "$crc"
finish
