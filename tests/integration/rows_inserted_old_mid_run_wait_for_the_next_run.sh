#!/usr/bin/env bash
# An archive class never archives more rows than it counted eligible before
# the work. While the run walks the table block by block, another session
# inserts rows with an old timestamp into blocks the walk has not reached
# (the only ones with free space). The batch that would take the class past
# its count is rolled back, its segment file discarded and never recorded;
# the class stops there and the rows over the count are left for the next
# run. Segments, ledger and report agree, and across the two runs every row
# is archived exactly once.
. "$(dirname "$0")/lib.sh"
setup_db

# 157 rows a block: blocks 0-19 hold ids 1..3140, all old; blocks 20-39 ids
# 3141..6280, where the even ids (young) are deleted and vacuumed, so that
# only those blocks have free space for the inserts.
sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.esc (id bigint PRIMARY KEY, closed_at timestamptz, note text);
INSERT INTO app.esc SELECT i, CASE WHEN i <= 3140 OR i % 2 = 1 THEN now() - interval '60 days'
                                   ELSE now() END, 'x'
  FROM generate_series(1, 6280) i;
DELETE FROM app.esc WHERE closed_at > now() - interval '1 day';
VACUUM app.esc;
SQL
assert_eq "layout: 40 blocks, free space from block 20 on" "40 20" \
  "$(q "SELECT pg_relation_size('app.esc') / 8192 || ' ' ||
        min((ctid::text::point)[0]::int) FILTER (WHERE id > 3140) FROM app.esc")"
cat >"$WORK/policy.json" <<'EOF2'
{"name": "late", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 150, "batch_target_ms": 60000,
 "classes": [{"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
              "action": "archive", "retain": "30 days"}]}
EOF2

"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --archive-dir "$ARCHIVE" \
  --signing-key "$KEY" --progress-interval 0 2>"$WORK/run.log" &
pid=$!
for _ in $(seq 200); do
  [ "$(q "SELECT count(*) FROM retention.archive_segments")" -ge 2 ] && break
  sleep 0.05
done
blocks=$(q "WITH i AS (INSERT INTO app.esc SELECT 100000 + g, now() - interval '50 days', 'late'
              FROM generate_series(1, 500) g RETURNING ctid)
            SELECT min((ctid::text::point)[0]::int) || '-' || max((ctid::text::point)[0]::int)
            FROM i")
walked=$(q "SELECT count(*) FROM retention.archive_segments")
wait "$pid"
rc=$?
[ "$walked" -lt 20 ] || die "the walk had passed block 20 before the insert ($walked segments)"
assert_eq "the late rows went into blocks the walk had not reached" "20-26" "$blocks"

assert_eq "exit 1: counted rows were left" 1 "$rc"
assert_eq "counted eligible before the work" 4710 "$(class_get esc eligible)"
# One block a batch: blocks 0-32, with the late rows in 20-26, hold 4661 rows; the batch of
# block 33 would have passed 4710.
assert_eq "archived up to the count, never past it" "4661 33" \
  "$(class_get esc archived) $(class_get esc batches)"
assert_eq "class failed: counted rows left" failed "$(class_get esc status)"
assert_match "error says so" 'removed 4661 of the 4710 rows it counted eligible, then stopped' \
  "$(class_get esc error)"
assert_match "warning names the class and its count" \
  'class esc: stopped at the 4710 rows it counted eligible before the work \(4661 removed\)' \
  "$(report_eval '"|".join(r["warnings"])')"
assert_eq "report's segments" "33 4661" \
  "$(report_eval 'str(len(r["archive_segments"])) + " " + str(sum(s["rows"] for s in r["archive_segments"]))')"
assert_eq "ledger's segments" "33 4661" \
  "$(q "SELECT count(*) || ' ' || sum(rows) FROM retention.archive_segments")"
assert_eq "batch ledger" "class esc archived 4661 rows in 33 batches" \
  "$(batches_of "$(report_get '["run_id"]')")"
assert_eq "segment files: the recorded ones, nothing else" "33 0" \
  "$(find "$ARCHIVE/esc" -name '*.csv.gz' | wc -l) $(find "$ARCHIVE" -type f \
       ! -name '*.csv.gz' ! -name '*.manifest.json' | wc -l)"
assert_eq "no orphan" 0 "$(find "$ARCHIVE" -path '*orphans*' -type f | wc -l)"
assert_eq "left in the table: old rows from block 33 on" "549 0" \
  "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE (ctid::text::point)[0] < 33)
        FROM app.esc WHERE closed_at < now() - interval '30 days'")"

# The next run counts what is left and archives it.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "next run exit" 0 "$rc"
assert_eq "next run: eligible and archived" "549 549" \
  "$(class_get esc eligible) $(class_get esc archived)"
assert_eq "table: only young rows left" 0 \
  "$(q "SELECT count(*) FROM app.esc WHERE closed_at < now() - interval '30 days'")"

# Nothing lost, nothing twice: every old id and every late id in exactly one segment.
for f in "$ARCHIVE"/esc/*.csv.gz; do zcat "$f" | tail -n +2 | cut -d, -f1; done | sort -n \
  >"$WORK/archived.ids"
seq 1 3140 >"$WORK/expected.ids"
seq 3141 2 6280 >>"$WORK/expected.ids"
seq 100001 100500 >>"$WORK/expected.ids"
sort -n "$WORK/expected.ids" -o "$WORK/expected.ids"
assert_eq "segments hold every old row once" "" "$(diff "$WORK/archived.ids" "$WORK/expected.ids")"
assert_eq "ledger total" "5210" "$(q "SELECT sum(rows) FROM retention.archive_segments")"
retention archive verify "$ARCHIVE" --db "" >"$WORK/verify.out" 2>&1
assert_eq "archive verify" 0 "$?"
retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
assert_eq "chain verify: reports agree with the batch ledger" 0 "$?"
finish
