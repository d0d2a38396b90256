#!/usr/bin/env bash
# SOP-17 retrieval: `retention archive verify` checks every segment against
# the ledger and its manifest and names a damaged or stray one; `archive find`
# streams the segments and lists exactly the archived rows of a customer or a
# ticket; `archive restore` brings back exactly the archived rows, into a
# scratch table or the original one, refuses rows that still exist and
# segments that are not as recorded; the archived-keys digest can be
# recomputed from the segments alone.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.escalations (
  id bigserial PRIMARY KEY, closed_at timestamptz, customer_id bigint, ticket_id text,
  summary text, amount numeric(12, 2), tags jsonb, raw bytea, flag boolean);
INSERT INTO app.escalations (closed_at, customer_id, ticket_id, summary, amount, tags, raw, flag)
  SELECT now() - ((i % 200) || ' days')::interval, i % 13, 'ESC-' || i,
         CASE i % 5 WHEN 0 THEN 'comma, "quotes" and' || chr(10) || 'a newline'
                    WHEN 1 THEN 'naïve café ✓ ünïcödé'
                    WHEN 2 THEN NULL
                    WHEN 3 THEN ''
                    ELSE repeat('long text ', 600) END,
         i * 1.25, jsonb_build_object('i', i, 's', 'x"y'), decode(md5(i::text), 'hex'),
         i % 2 = 0
  FROM generate_series(1, 3000) i;
CREATE TABLE app.before AS TABLE app.escalations;
CREATE TABLE app.expected AS
  SELECT * FROM app.escalations WHERE closed_at < now() - interval '90 days' AND customer_id <> 5;
SQL
expected=$(q "SELECT count(*) FROM app.expected")
retention hold add --ticket SOP-17-HOLD --match customer_id=5 --reason "regulator request" >/dev/null

cat >"$WORK/policy.json" <<'EOF2'
{"name": "retrieval-test", "version": 1, "max_fraction": 0.9, "batch_max_pages": 4,
 "classes": [
  {"name": "escalations", "table": "app.escalations", "key": "id",
   "timestamp_column": "closed_at", "action": "archive", "retain": "90 days",
   "procedure": "SOP-17", "hold_keys": ["customer_id", "ticket_id"]}]}
EOF2
run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
assert_eq "archived count" "$expected" "$(class_get escalations archived)"
nseg=$(q "SELECT count(*) FROM retention.archive_segments")
assert_match "several segments" '^([2-9]|[1-9][0-9]+)$' "$nseg"

# Every segment has a manifest that agrees with the ledger.
first=$(q "SELECT file_name FROM retention.archive_segments ORDER BY batch LIMIT 1")
assert_eq "manifest rows" "$(q "SELECT rows FROM retention.archive_segments WHERE file_name = '$first'")" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"])' "$ARCHIVE/$first.manifest.json")"
assert_eq "manifest columns are the CSV header" \
  "$(zcat "$ARCHIVE/$first" | head -n 1)" \
  "$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["columns"]))' "$ARCHIVE/$first.manifest.json")"
assert_eq "manifest key" id \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$ARCHIVE/$first.manifest.json")"

# The archived-keys digest, recomputed from the segments without the program.
from_segments=$(for f in "$ARCHIVE"/escalations/*.csv.gz; do zcat "$f"; done | python3 -c '
import csv, sys
rows = [r for r in csv.reader(sys.stdin) if r[0] != "id"]
sys.stdout.write("".join(k + "\n" for k in sorted((r[0] for r in rows), key=lambda s: s.encode())))' \
  | sha256sum | cut -d" " -f1)
assert_eq "archived digest = LC_ALL=C sort of the segments' keys | sha256sum" "$from_segments" \
  "$(report_get '["classes"][0]["key_digests"]["archived"]["sha256"]')"

out=$(retention archive verify "$ARCHIVE" 2>&1)
assert_eq "archive verify passes" 0 "$?"
assert_eq "and counts every segment and row" \
  "archive OK: $nseg segments, $expected rows, as the ledger records them" "$(echo "$out" | tail -n 1)"

# find: exactly the archived rows of one customer, and of one ticket.
retention archive find --archive-dir "$ARCHIVE" --class escalations --match customer_id=7 \
  >"$WORK/find.out" 2>"$WORK/find.log"
assert_eq "find exits 0" 0 "$?"
assert_eq "find lists the customer's archived rows" \
  "$(q "SELECT count(*) FROM app.expected WHERE customer_id = 7")" "$(grep -c '^escalations/' "$WORK/find.out")"
ticket=$(q "SELECT ticket_id FROM app.expected WHERE id % 5 = 0 ORDER BY id LIMIT 1")
retention archive find --archive-dir "$ARCHIVE" --class escalations --match "ticket_id=$ticket" --json \
  >"$WORK/find.json" 2>/dev/null
assert_eq "one row for one ticket" 1 "$(wc -l <"$WORK/find.json")"
assert_eq "its values, newline and quotes included" \
  "$(q "SELECT summary FROM app.expected WHERE ticket_id = '$ticket'")" \
  "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())["values"]["summary"])' "$WORK/find.json")"
assert_eq "a held customer is not in the archive" 0 \
  "$(retention archive find --archive-dir "$ARCHIVE" --class escalations --match customer_id=5 2>/dev/null | wc -l)"

# restore into a scratch table: exactly the archived rows, every column.
for f in $(q "SELECT file_name FROM retention.archive_segments ORDER BY batch"); do
  retention archive restore --segment "$ARCHIVE/$f" --into app.scratch --create >/dev/null \
    2>"$WORK/restore.log" || die "restore $f into app.scratch"
done
assert_eq "scratch rows equal the archived rows" 0 \
  "$(q "SELECT count(*) FROM ((TABLE app.expected EXCEPT ALL TABLE app.scratch)
        UNION ALL (TABLE app.scratch EXCEPT ALL TABLE app.expected)) d")"

# restore into the original table: the table is whole again.
for f in $(q "SELECT file_name FROM retention.archive_segments ORDER BY batch"); do
  retention archive restore --segment "$ARCHIVE/$f" --into app.escalations >/dev/null \
    2>"$WORK/restore.log" || die "restore $f into app.escalations"
done
assert_eq "the original table equals its state before the run" 0 \
  "$(q "SELECT count(*) FROM ((TABLE app.before EXCEPT ALL TABLE app.escalations)
        UNION ALL (TABLE app.escalations EXCEPT ALL TABLE app.before)) d")"
assert_eq "every restore is recorded" "$((2 * nseg))" "$(q "SELECT count(*) FROM retention.archive_restores")"

# Rows that still exist are not restored twice.
total=$(q "SELECT count(*) FROM app.escalations")
retention archive restore --segment "$ARCHIVE/$first" --into app.escalations >/dev/null 2>"$WORK/dup.log"
assert_eq "a second restore is refused" 3 "$?"
assert_match "naming the duplicates" "still exist in app.escalations \(id = " "$(cat "$WORK/dup.log")"
assert_eq "and inserts nothing" "$total" "$(q "SELECT count(*) FROM app.escalations")"

# A damaged segment, and a stray one.
cp "$ARCHIVE/$first" "$WORK/good.gz"
printf 'x' >>"$ARCHIVE/$first"
out=$(retention archive verify "$ARCHIVE" 2>&1)
assert_eq "archive verify fails on a changed segment" 1 "$?"
assert_match "naming it" "FAILED $first: SHA-256 .* altered" "$out"
retention archive restore --segment "$ARCHIVE/$first" --into app.scratch2 --create >/dev/null 2>"$WORK/alt.log"
assert_eq "restore refuses a changed segment" 3 "$?"
assert_match "saying why" "differs from the ledger" "$(cat "$WORK/alt.log")"
cp "$WORK/good.gz" "$ARCHIVE/$first"
head -c 200 "$WORK/good.gz" >"$ARCHIVE/escalations/escalations-stray.csv.gz"
out=$(retention archive verify "$ARCHIVE" 2>&1)
assert_eq "archive verify fails on a stray segment" 1 "$?"
assert_match "naming it" "FAILED escalations/escalations-stray.csv.gz: not in the ledger" "$out"
rm "$ARCHIVE/escalations/escalations-stray.csv.gz"
mv "$ARCHIVE/$first" "$WORK/moved.gz"
out=$(retention archive verify "$ARCHIVE" 2>&1)
assert_match "a missing segment is named" "FAILED $first: in the ledger .* but missing" "$out"
mv "$WORK/moved.gz" "$ARCHIVE/$first"

# The segment ledger is insert-only.
err=$(psql -X -q -c "DELETE FROM retention.archive_segments" 2>&1)
assert_match "the segment ledger refuses DELETE" "archive_segments is append-only: DELETE refused" "$err"
finish
