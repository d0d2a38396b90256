#!/usr/bin/env bash
# Case 4: the job is killed (SIGKILL) after it made an archive segment durable
# but before its transaction committed. The delete rolls back; the rerun sets
# the orphan segment aside, names it in its report, and archives the 3 rows
# once: the committed archive holds exactly 3 rows, the 5,000-character value
# intact, the table 0, and the orphan is never counted.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.esc (id bigint PRIMARY KEY, closed_at timestamptz, body text);
INSERT INTO app.esc VALUES
  (1, now() - interval '100 days', 'short'),
  (2, now() - interval '120 days', repeat('0123456789', 500)),
  (3, now() - interval '200 days', NULL);
CREATE TABLE app.expected AS TABLE app.esc;
CREATE TABLE app.restored (LIKE app.esc);
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "case04", "version": 1, "max_fraction": 1.0,
 "classes": [{"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
              "action": "archive", "retain": "90 days"}]}
EOF2

# Killed between the durable segment and the commit.
RETENTION_FAULT=after-segment run_job --policy "$WORK/policy.json"
assert_eq "killed by SIGKILL" 137 "$rc"
assert_eq "no report from the killed run" 0 "$(ls "$REPORTS"/*.json 2>/dev/null | wc -l)"
assert_eq "delete rolled back" 3 "$(q "SELECT count(*) FROM app.esc")"
assert_eq "no committed segment" 0 "$(q "SELECT count(*) FROM retention.archive_segments")"
killed=$(q "SELECT run_id FROM retention.runs")
orphan=$(cd "$ARCHIVE" && ls esc/ | grep -v '\.manifest' | head -n 1)
[ -n "$orphan" ] || die "the killed run left its segment"
assert_eq "the orphan holds the 3 rows" 4 "$(zcat "$ARCHIVE/esc/$orphan" | python3 -c \
  'import csv,sys; print(sum(1 for _ in csv.reader(sys.stdin)))')"

# The rerun.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "rerun exits 0" 0 "$rc"
assert_eq "rerun archived 3" 3 "$(class_get esc archived)"
assert_eq "table holds 0" 0 "$(q "SELECT count(*) FROM app.esc")"
assert_eq "one committed segment" 1 "$(q "SELECT count(*) FROM retention.archive_segments")"
assert_eq "ledger rows sum to 3 (never counted twice)" 3 \
  "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_eq "report segment rows sum to 3" 3 \
  "$(report_eval 'sum(s["rows"] for s in r["archive_segments"])')"
rerun=$(report_get '["run_id"]')
assert_eq "orphan named in the report" "esc/$orphan orphans/$rerun/$orphan" \
  "$(report_eval '" ".join(o["path"] + " " + o["moved_to"] for o in r["orphaned_segments"]
                           if not o["path"].endswith(".manifest.json"))')"
assert_eq "orphan is in ARCHIVE_DIR/orphans/<the run that set it aside>" yes \
  "$([ -f "$ARCHIVE/orphans/$rerun/$orphan" ] && echo yes || echo no)"
assert_eq "orphan no longer beside the committed segments" no \
  "$([ -f "$ARCHIVE/esc/$orphan" ] && echo yes || echo no)"
assert_eq "killed run listed as unfinished" "[\"$killed\"]" "$(report_get '["unfinished_runs"]')"
assert_eq "no committed segment belongs to the killed run" 0 \
  "$(q "SELECT count(*) FROM retention.archive_segments WHERE run_id = '$killed'")"

# The committed archive restores exactly the 3 rows, the long value intact.
file=$(q "SELECT file_name FROM retention.archive_segments")
assert_eq "segment sha256 as recorded" "$(q "SELECT sha256 FROM retention.archive_segments")" \
  "$(sha256sum "$ARCHIVE/$file" | cut -d' ' -f1)"
zcat "$ARCHIVE/$file" | psql -X -q -v ON_ERROR_STOP=1 \
  -c "\\copy app.restored FROM STDIN WITH (FORMAT csv, HEADER true)" || die "restore"
assert_eq "restored 3 rows" 3 "$(q "SELECT count(*) FROM app.restored")"
assert_eq "restored rows equal the originals, every column" 0 \
  "$(q "SELECT count(*) FROM ((TABLE app.expected EXCEPT ALL TABLE app.restored)
        UNION ALL (TABLE app.restored EXCEPT ALL TABLE app.expected)) d")"
assert_eq "long value intact" "5000 $(q "SELECT md5(repeat('0123456789', 500))")" \
  "$(q "SELECT length(body) || ' ' || md5(body) FROM app.restored WHERE id = 2")"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >"$WORK/v.out"
assert_eq "rerun report and its segment verify" 0 "$?"

# A third run finds nothing more and moves nothing again.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "third run exits 0" 0 "$rc"
assert_eq "third run archived 0" 0 "$(class_get esc archived)"
assert_eq "third run sets nothing aside" 0 "$(report_eval 'len(r["orphaned_segments"])')"
assert_eq "ledger rows still 3" 3 "$(q "SELECT sum(rows) FROM retention.archive_segments")"
finish
