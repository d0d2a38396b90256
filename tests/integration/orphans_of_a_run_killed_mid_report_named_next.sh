#!/usr/bin/env bash
# An orphan segment is set aside by a run that is itself killed while writing
# its report, so no report in the ledger names it. The next completed run
# takes it over from orphans/<killer run>/ into its own orphans/<run id>/ and
# names each file, with the run that first set it aside; `archive verify`
# says which report names the orphans, `archive restore` still refuses one,
# the chain verifies, and a later run names nothing again.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.esc (id bigint PRIMARY KEY, closed_at timestamptz, body text);
INSERT INTO app.esc VALUES
  (1, now() - interval '100 days', 'one'),
  (2, now() - interval '120 days', 'two'),
  (3, now() - interval '200 days', NULL);
CREATE TABLE app.restored (LIKE app.esc);
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "orphans", "version": 1, "max_fraction": 1.0,
 "classes": [{"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
              "action": "archive", "retain": "90 days"}]}
EOF2

# Run 1 dies between its durable segment and its commit: an orphan segment and its manifest.
RETENTION_FAULT=after-segment run_job --policy "$WORK/policy.json"
assert_eq "run 1 killed" 137 "$rc"
run1=$(q "SELECT run_id FROM retention.runs")
orphans=$(cd "$ARCHIVE/esc" && ls | tr '\n' ' ' | sed 's/ $//')
assert_eq "run 1 left its segment and manifest" \
  "esc-$run1-000001.csv.gz esc-$run1-000001.csv.gz.manifest.json" "$orphans"

# Run 2 sets them aside, archives the rows, and dies halfway through its report.
sleep 1
RETENTION_FAULT=report-write run_job --policy "$WORK/policy.json"
assert_eq "run 2 killed while writing its report" 137 "$rc"
run2=$(q "SELECT run_id FROM retention.runs WHERE run_id <> '$run1'")
assert_eq "run 2 moved them into orphans/<run 2>/" "$orphans" \
  "$(ls "$ARCHIVE/orphans/$run2" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "run 2 committed the 3 rows" 3 "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_eq "no report in the ledger names them" 0 \
  "$(q "SELECT count(*) FROM retention.runs WHERE report_sha256 IS NOT NULL")"

# Run 3 completes: it takes them over and names each one.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "run 3 exits 0" 0 "$rc"
run3=$(report_get '["run_id"]')
seg=esc-$run1-000001.csv.gz
assert_eq "run 3 names each file: where it was, where it is, who set it aside" \
  "orphans/$run2/$seg orphans/$run3/$seg $run2
orphans/$run2/$seg.manifest.json orphans/$run3/$seg.manifest.json $run2" \
  "$(report_eval '"\n".join("%s %s %s" % (o["path"], o["moved_to"], o["set_aside_by"])
                             for o in r["orphaned_segments"])')"
retention report render "$(latest_report)" --public-key "$PUB" >"$WORK/render.txt" 2>&1
want="Set aside (never committed): orphans/$run2/$seg, now orphans/$run3/$seg (first set aside"
want+=" by run $run2, which recorded no report)"
assert_eq "the sign-off view names the segment in full" "$want" \
  "$(grep -F "Set aside (never committed): orphans/$run2/$seg," "$WORK/render.txt")"
assert_eq "the files are in orphans/<run 3>/" "$orphans" \
  "$(ls "$ARCHIVE/orphans/$run3" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "orphans/<run 2>/ is gone" "$run3" "$(ls "$ARCHIVE/orphans")"
assert_eq "run 3 lists both killed runs as unfinished" "[\"$run1\", \"$run2\"]" \
  "$(report_get '["unfinished_runs"]')"
assert_eq "the rows were archived once" "3 0" \
  "$(q "SELECT sum(rows) FROM retention.archive_segments") $(q "SELECT count(*) FROM app.esc")"

retention archive verify "$ARCHIVE" >"$WORK/av.out" 2>&1
assert_eq "archive verify passes" 0 "$?"
want="note   orphans/$run3/: 2 files set aside by run $run3 from batches that never committed"
want+=" (their rows were not deleted), named in its report $(basename "$(latest_report)")"
assert_eq "archive verify names the report that names the orphans" "$want" \
  "$(grep 'orphans/' "$WORK/av.out")"
retention archive restore --segment "$ARCHIVE/orphans/$run3/esc-$run1-000001.csv.gz" \
  --into app.restored >"$WORK/restore.out" 2>&1
assert_eq "restore refuses the orphan (exit 3)" 3 "$?"
assert_eq "nothing restored" 0 "$(q "SELECT count(*) FROM app.restored")"
retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
crc=$?
grep '^BREAK' "$WORK/chain.out" | sed 's/^/  /'
assert_eq "the chain verifies" 0 "$crc"

# Named once: the next run leaves them where they are.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "run 4 exits 0" 0 "$rc"
assert_eq "run 4 names no orphan" 0 "$(report_eval 'len(r["orphaned_segments"])')"
assert_eq "the orphans stay with run 3" "$orphans" \
  "$(ls "$ARCHIVE/orphans/$run3" | tr '\n' ' ' | sed 's/ $//')"
finish
