#!/usr/bin/env bash
# A run adopts the report a server stop stranded, then is itself killed while
# writing its own report, so no written report names that adoption. The run
# after it does: it lists the killed run as unfinished and says which report
# that run recorded in the ledger; it chains to the adopted report, and
# `verify --chain --db` passes. The test stops and starts a server of its own.
. "$(dirname "$0")/lib.sh"
private_server
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigint PRIMARY KEY, ts timestamptz, body text);
INSERT INTO app.t SELECT i, now() - interval '90 days', repeat('x', 100)
  FROM generate_series(1, 4000) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "adopter", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 200,
 "classes": [{"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts",
              "action": "purge", "retain": "30 days"}]}
EOF2
left() { q "SELECT count(*) FROM app.t"; }

# Run 1: the server stops under it; its report is signed but not recorded.
run_until_server_stops "SELECT count(*) FROM app.t"
assert_eq "run 1: exit 1" 1 "$rc"
run1_file=$(basename "$(latest_report)")
run1_sha=$(sha256sum "$(latest_report)" | cut -d' ' -f1)
run1=$(report_get '["run_id"]')

# Run 2 adopts it, then dies halfway through its own report.
sleep 1
RETENTION_FAULT=report-write run_job --policy "$WORK/policy.json"
assert_eq "run 2 killed while writing its report" 137 "$rc"
run2=$(q "SELECT run_id FROM retention.runs WHERE sequence = 2")
assert_eq "run 1's ledger row: its report, recorded by run 2" \
  "failed|$run1_file|$run1_sha|$run2" \
  "$(q "SELECT status || '|' || report_file || '|' || report_sha256 || '|' || report_recorded_by
        FROM retention.runs WHERE run_id = '$run1'")"

# Run 3 names what run 2 did.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "run 3 exits 0" 0 "$rc"
assert_eq "run 3: sequence 3, chained to run 1's report, adopting nothing itself" \
  "3 $run1_sha []" \
  "$(report_eval '"%s %s %s" % (r["sequence"], r["previous_report_sha256"],
                                r["adopted_reports"])')"
assert_eq "run 3 lists run 2 as unfinished" "[\"$run2\"]" "$(report_get '["unfinished_runs"]')"
want="run $run2 (sequence 2) ended without recording a report in the ledger (killed, or its"
want+=" database went away); its committed batches: $(batches_of "$run2"); it had"
want+=" recorded in the ledger the unrecorded report of run $run1 (report_recorded_by)"
assert_eq "run 3 names the adoption run 2 made" "$want" \
  "$(report_eval "'|'.join(w for w in r['warnings'] if w.startswith('run $run2 '))")"
assert_eq "run 2's half-written report and signature are in incomplete/" 2 \
  "$(ls "$REPORTS/incomplete" | grep -c "$run2")"
assert_eq "no row left" 0 "$(left)"

retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
crc=$?
grep '^BREAK' "$WORK/chain.out" | sed 's/^/  /'
assert_eq "verify --chain --db passes" 0 "$crc"
want="note  $run1_file: recorded in the ledger by the later run $run2 (this run's database went"
want+=" away before it could); that run's report names the"
want+=" adoption, or the next one's if it left none"
assert_eq "verify --db notes who recorded run 1's report" "$want" \
  "$(grep -F "recorded in the ledger by" "$WORK/chain.out")"
finish
