#!/usr/bin/env bash
# Case 5: while a slow archive run goes on, another session keeps inserting
# rows that also match the cutoff. Every row the job deleted is in its
# archive, exactly once, and no archived row is still in the table: one
# statement both selects and deletes. The run archives no more rows than it
# counted: late rows that land in blocks it has yet to walk can stop it
# there (exit 1), and the next run archives the rest.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.esc (id bigint PRIMARY KEY, closed_at timestamptz, body text);
INSERT INTO app.esc SELECT i, now() - interval '100 days', repeat('e', 100)
  FROM generate_series(1, 3000) i;
CREATE TABLE app.restored (LIKE app.esc);
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "case05", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1, "batch_pause_ms": 100,
 "classes": [{"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
              "action": "archive", "retain": "90 days"}]}
EOF2

"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --archive-dir "$ARCHIVE" \
  --signing-key "$KEY" --progress-interval 0 2>"$WORK/run.log" &
pid=$!
# Old rows arrive one by one while the job works: into free space behind it and new pages ahead.
inserted=0
while kill -0 "$pid" 2>/dev/null; do
  inserted=$((inserted + 1))
  q "INSERT INTO app.esc VALUES ($((100000 + inserted)), now() - interval '95 days', 'late')" \
    >/dev/null
  sleep 0.05
done
wait "$pid"
rc=$?
if [ "$rc" -eq 1 ]; then
  assert_match "exit 1 only for stopping at its count" \
    'class esc: stopped at the [0-9]+ rows it counted eligible before the work' \
    "$(report_eval '"|".join(r["warnings"])')"
else
  assert_eq "run exits 0" 0 "$rc"
fi
assert_eq "never archived past the count (the originals and any late rows counted)" True \
  "$(report_eval '3000 <= r["classes"][0]["eligible"] >= r["classes"][0]["archived"]')"
assert_match "rows were inserted during the run" '^[1-9][0-9]*$' "$inserted"

while read -r file; do
  zcat "$ARCHIVE/$file" | psql -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy app.restored FROM STDIN WITH (FORMAT csv, HEADER true)" || die "restore $file"
done < <(q "SELECT file_name FROM retention.archive_segments")
deleted=$(q "SELECT count(*) FROM (SELECT i FROM generate_series(1, 3000) i
             UNION ALL SELECT 100000 + i FROM generate_series(1, $inserted) i) a(id)
             WHERE NOT EXISTS (SELECT 1 FROM app.esc e WHERE e.id = a.id)")
assert_eq "archived count equals the rows deleted" "$deleted" "$(class_get esc archived)"
assert_eq "every deleted row is in the archive" 0 \
  "$(q "SELECT count(*) FROM (SELECT i FROM generate_series(1, 3000) i
        UNION ALL SELECT 100000 + i FROM generate_series(1, $inserted) i) a(id)
        WHERE NOT EXISTS (SELECT 1 FROM app.esc e WHERE e.id = a.id)
          AND NOT EXISTS (SELECT 1 FROM app.restored r WHERE r.id = a.id)")"
assert_eq "no archived row is still in the table" 0 \
  "$(q "SELECT count(*) FROM app.restored JOIN app.esc USING (id)")"
assert_eq "no row archived twice" 0 \
  "$(q "SELECT count(*) FROM (SELECT id FROM app.restored GROUP BY id HAVING count(*) > 1) d")"
assert_eq "ledger rows equal the restored rows" "$(q "SELECT count(*) FROM app.restored")" \
  "$(q "SELECT sum(rows) FROM retention.archive_segments")"

# The next run, with nothing inserted, archives what the first one left.
first_segments=$(q "SELECT count(*) FROM retention.archive_segments")
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "next run exits 0" 0 "$rc"
while read -r file; do
  zcat "$ARCHIVE/$file" | psql -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy app.restored FROM STDIN WITH (FORMAT csv, HEADER true)" || die "restore $file"
done < <(q "SELECT file_name FROM retention.archive_segments ORDER BY segment_id
            OFFSET $first_segments")
assert_eq "the table is empty" 0 "$(q "SELECT count(*) FROM app.esc")"
assert_eq "the original rows are all archived, once" "3000 3000" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT id) FROM app.restored WHERE id <= 3000")"
assert_eq "the late rows are all archived, once" "$inserted $inserted" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT id) FROM app.restored WHERE id > 100000")"
finish
