#!/usr/bin/env bash
# An archive class moves its eligible rows into gzip CSV segments that stock
# tools restore byte for byte: zcat | psql \copy gives back exactly the rows
# the table lost. The ledger and the report carry each segment's SHA-256 and
# row count, and the archived set is the deleted set.
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
CREATE TABLE app.expected AS
  SELECT * FROM app.escalations WHERE closed_at < now() - interval '90 days' AND customer_id <> 5;
CREATE TABLE app.restored (LIKE app.escalations);
SQL
expected=$(q "SELECT count(*) FROM app.expected")
total=$(q "SELECT count(*) FROM app.escalations")
retention hold add --ticket SOP-17-HOLD --match customer_id=5 --reason "regulator request" >/dev/null

cat >"$WORK/policy.json" <<'EOF2'
{"name": "archive-test", "version": 1, "max_fraction": 0.9, "batch_max_pages": 4,
 "classes": [
  {"name": "escalations", "table": "app.escalations", "key": "id",
   "timestamp_column": "closed_at", "action": "archive", "retain": "90 days",
   "procedure": "SOP-17", "hold_keys": ["customer_id", "ticket_id"]}]}
EOF2

run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
assert_eq "archived count" "$expected" "$(class_get escalations archived)"
assert_eq "table lost exactly those rows" "$((total - expected))" \
  "$(q "SELECT count(*) FROM app.escalations")"
assert_eq "no archived row is still in the table" 0 \
  "$(q "SELECT count(*) FROM app.escalations e JOIN app.expected x USING (id)")"
assert_eq "segment rows add up" "$expected" \
  "$(report_eval 'sum(s["rows"] for s in r["archive_segments"])')"
assert_eq "ledger rows add up" "$expected" "$(q "SELECT sum(rows) FROM retention.archive_segments")"

# Each segment: SHA-256 as recorded, readable by stock gzip, restorable by psql.
nseg=0
while IFS='|' read -r file sha rows; do
  nseg=$((nseg + 1))
  assert_eq "sha256 of $file" "$sha" "$(sha256sum "$ARCHIVE/$file" | cut -d' ' -f1)"
  gzip -t "$ARCHIVE/$file" || die "gzip -t $file"
  zcat "$ARCHIVE/$file" | psql -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy app.restored FROM STDIN WITH (FORMAT csv, HEADER true)" || die "restore $file"
done < <(q "SELECT file_name, sha256, rows FROM retention.archive_segments ORDER BY batch")
assert_match "more than one segment (several batches)" '^([2-9]|[1-9][0-9]+)$' "$nseg"
assert_eq "restored row count" "$expected" "$(q "SELECT count(*) FROM app.restored")"
assert_eq "restored rows equal the removed rows, every column" 0 \
  "$(q "SELECT count(*) FROM ((TABLE app.expected EXCEPT ALL TABLE app.restored)
        UNION ALL (TABLE app.restored EXCEPT ALL TABLE app.expected)) d")"
assert_eq "header names the columns" \
  "id,closed_at,customer_id,ticket_id,summary,amount,tags,raw,flag" \
  "$(zcat "$ARCHIVE/$(q "SELECT file_name FROM retention.archive_segments LIMIT 1")" | head -n 1)"
assert_eq "held rows stay" "$(q "SELECT count(*) FROM app.escalations WHERE customer_id = 5
  AND closed_at < now() - interval '90 days'")" "$(class_get escalations held)"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >/dev/null
assert_eq "verify checks the segments" 0 "$?"

# A segment changed on disk fails verification.
first=$(q "SELECT file_name FROM retention.archive_segments ORDER BY batch LIMIT 1")
printf 'x' >>"$ARCHIVE/$first"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >"$WORK/v.out"
assert_eq "verify fails on an altered segment" 1 "$?"
assert_match "and names it" "$first" "$(cat "$WORK/v.out")"
finish
