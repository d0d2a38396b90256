#!/usr/bin/env bash
# The server stops in the middle of a run (pg_ctl -m fast stop) and stays down
# until the run has ended: the run writes and signs its report (failed,
# sequence 1) but cannot record it in the ledger. After a restart the next
# run checks that report, records it in the stranded run's ledger row (noting
# that it did), chains to it and names the adoption in its own report; then
# `verify --chain --db` passes, and the run after that adopts nothing more.
# The test stops and starts a server of its own.
. "$(dirname "$0")/lib.sh"
private_server
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
{"name": "stranded", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 200,
 "classes": [{"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts",
              "action": "purge", "retain": "30 days"}]}
EOF2
old_left() { q "SELECT count(*) FROM app.t WHERE body <> 'young'"; }

# The first run ever of the policy; the server goes down once it has committed a few batches.
run_until_server_stops "SELECT count(*) FROM app.t WHERE body <> 'young'"
stranded=$(latest_report)
stranded_file=$(basename "$stranded")
stranded_sha=$(sha256sum "$stranded" | cut -d' ' -f1)
stranded_id=$(report_get '["run_id"]')
assert_eq "stranded run: exit 1" 1 "$rc"
assert_eq "stranded run: status failed, sequence 1" "failed 1" \
  "$(report_eval '"%s %s" % (r["status"], r["sequence"])')"
assert_eq "stranded run: no previous report" null "$(report_get '["previous_report_sha256"]')"
openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -in "$stranded" -sigfile "$stranded.sig" \
  >/dev/null 2>&1
assert_eq "stranded run: its report is signed" 0 "$?"
assert_eq "stranded run: the ledger row is still running, with no report" "running||" \
  "$(q "SELECT status || '|' || coalesce(report_file, '') || '|' || coalesce(report_sha256, '')
        FROM retention.runs")"
assert_match "stranded run: the log says the report is not in the ledger" \
  'signed but not recorded in the ledger' "$(cat "$WORK/run.log")"
purged_then=$(class_get t purged)
assert_eq "stranded run: purged is what is gone" "$((before - $(old_left)))" "$purged_then"

# The next run adopts the stranded report.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "next run exits 0" 0 "$rc"
next_id=$(report_get '["run_id"]')
assert_eq "next run: sequence 2, chained to the stranded report" "2 $stranded_sha" \
  "$(report_eval '"%s %s" % (r["sequence"], r["previous_report_sha256"])')"
assert_eq "next run: names the adoption" \
  "$stranded_id 1 $stranded_file $stranded_sha failed 1" \
  "$(report_eval '"\n".join("%s %s %s %s %s %s" % (a["run_id"], a["sequence"], a["file"],
                             a["sha256"], a["status"], a["exit_code"])
                             for a in r["adopted_reports"])')"
want="run $stranded_id (sequence 1) wrote and signed its report $stranded_file but never"
want+=" recorded it in the ledger (its database went away); its signature and ledger row check"
want+=" out, so this run recorded it (status failed, exit code 1, SHA-256 $stranded_sha) and"
want+=" chains to it"
assert_eq "next run: warns exactly once, in these words" "$want" \
  "$(report_eval "'|'.join(w for w in r['warnings'] if '$stranded_id' in w)")"
assert_eq "next run: no unfinished run" "[]" "$(report_get '["unfinished_runs"]')"
assert_eq "next run: purged the rest" "$((before - purged_then))" "$(class_get t purged)"
assert_eq "no old row left" 0 "$(old_left)"
assert_eq "the stranded run's ledger row: the report's outcome, recorded late by the next run" \
  "failed|1|$stranded_file|$stranded_sha|$next_id" \
  "$(q "SELECT status || '|' || exit_code || '|' || report_file || '|' || report_sha256 || '|'
        || report_recorded_by FROM retention.runs WHERE run_id = '$stranded_id'")"
assert_eq "the ledger row's finish time is the report's" \
  "$(report_get '["finished_at"]' "$stranded")" \
  "$(q "SELECT to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
        FROM retention.runs WHERE run_id = '$stranded_id'")"
assert_eq "the stranded report stays where it was, unchanged" "$stranded_sha" \
  "$(sha256sum "$REPORTS/$stranded_file" | cut -d' ' -f1)"

retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
crc=$?
grep -E '^BREAK' "$WORK/chain.out" | sed 's/^/  /'
assert_eq "verify --chain --db passes" 0 "$crc"
want="note  $stranded_file: recorded in the ledger by the later run $next_id (this run's"
want+=" database went away before it could); that run's report names the"
want+=" adoption, or the next one's if it left none"
assert_eq "verify --db notes the late recording" "$want" \
  "$(grep -F "recorded in the ledger by" "$WORK/chain.out")"

# The run after that has nothing to adopt and still chains.
sleep 1
next_sha=$(sha256sum "$(latest_report)" | cut -d' ' -f1)
run_job --policy "$WORK/policy.json"
assert_eq "third run exits 0" 0 "$rc"
assert_eq "third run adopts nothing and chains to the second" "[] $next_sha" \
  "$(report_eval '"%s %s" % (r["adopted_reports"], r["previous_report_sha256"])')"
retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
assert_eq "verify --chain --db still passes" 0 "$?"
finish
