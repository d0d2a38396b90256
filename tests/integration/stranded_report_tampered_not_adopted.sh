#!/usr/bin/env bash
# A report stranded by a server stop (written and signed, never recorded in
# the ledger) is altered before the next run: that run does not adopt it. It
# names the refusal and why, moves the report with its signature to
# incomplete/, lists the run as unfinished and starts its chain afresh; the
# ledger row says abandoned, and `verify --chain --db` passes with a note for
# each file set aside. The test stops and starts a server of its own.
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
{"name": "tampered", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 200,
 "classes": [{"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts",
              "action": "purge", "retain": "30 days"}]}
EOF2
old_left() { q "SELECT count(*) FROM app.t"; }

run_until_server_stops "SELECT count(*) FROM app.t"
stranded=$(latest_report)
stranded_file=$(basename "$stranded")
stranded_id=$(report_get '["run_id"]')
assert_eq "stranded run: exit 1" 1 "$rc"
assert_eq "stranded run: the ledger row is still running" "running" \
  "$(q "SELECT status FROM retention.runs WHERE report_sha256 IS NULL")"

# Someone makes the failed run look like a success; the signature no longer matches.
python3 - "$stranded" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
assert '"status":\t"failed"' in t
open(p, "w").write(t.replace('"status":\t"failed"', '"status":\t"success"', 1))
PY
assert_eq "the report now claims success" success "$(report_get '["status"]' "$stranded")"

sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "next run exits 0" 0 "$rc"
assert_eq "next run: adopts nothing" "[]" "$(report_get '["adopted_reports"]')"
assert_eq "next run: lists the stranded run as unfinished" "[\"$stranded_id\"]" \
  "$(report_get '["unfinished_runs"]')"
assert_eq "next run: sequence 2, a chain that starts afresh" "2 null" \
  "$(report_get '["sequence"]') $(report_get '["previous_report_sha256"]')"
want="run $stranded_id (sequence 1) never recorded its report $stranded_file in the ledger,"
want+=" and that report is not adopted: its signature does not match its bytes (altered after"
want+=" it was signed)
run $stranded_id (sequence 1) ended without recording a report in the ledger (killed, or its"
want+=" database went away); its committed batches: $(batches_of "$stranded_id")
$stranded_file is the report of run $stranded_id, which never recorded it in the ledger, and"
want+=" it was not adopted; moved with its signature to incomplete/$stranded_file"
assert_eq "next run: names the refusal, the unfinished run and the move, in these words" \
  "$want" "$(report_eval "'\\n'.join(w for w in r['warnings'] if '$stranded_id' in w)")"
assert_eq "the altered report and its signature are in incomplete/" \
  "$stranded_file $stranded_file.sig" "$(ls "$REPORTS/incomplete" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "nothing of the stranded run is left in the report dir" 0 \
  "$(ls "$REPORTS" | grep -c "$stranded_id")"
assert_eq "the stranded run's ledger row: abandoned, no report, recorded by nobody" \
  "abandoned|||" \
  "$(q "SELECT status || '|' || coalesce(report_file, '') || '|' || coalesce(report_sha256, '')
        || '|' || coalesce(report_recorded_by::text, '')
        FROM retention.runs WHERE run_id = '$stranded_id'")"
assert_eq "no old row left" 0 "$(old_left)"

retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
crc=$?
grep -E '^BREAK' "$WORK/chain.out" | sed 's/^/  /'
assert_eq "verify --chain --db passes: the altered report is in no chain" 0 "$crc"
why="set aside by a later run (left half-written, or never recorded and not adopted); that"
why+=" run's report names it"
want="note  incomplete/$stranded_file: $why
note  incomplete/$stranded_file.sig: $why
note  $(basename "$(latest_report)"): the chain starts at sequence 2: the runs before it left"
want+=" no report
note  $stranded_id: policy \"tampered\" sequence 1 left no report (status abandoned);"
want+=" its committed batches: $(batches_of "$stranded_id")"
assert_eq "verify names each file set aside, the gap and the abandoned run" "$want" \
  "$(grep -E 'incomplete/|chain starts|left no report' "$WORK/chain.out")"
finish
