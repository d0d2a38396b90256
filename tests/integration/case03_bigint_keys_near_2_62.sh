#!/usr/bin/env bash
# Case 3: bigint keys above 2^31 and near 2^62 (and the bigint maximum), with
# a retention of 36500 days. Every eligible row goes whatever its key, the
# archive restores the keys exactly, and the report's counts are exact.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.big (id bigint PRIMARY KEY, at timestamptz, note text);
-- keys around 2^31, 2^32, 2^62 and 2^63 - 1; old ones 101 years back, young ones 99
INSERT INTO app.big
  SELECT k, now() - interval '101 years', 'old' FROM unnest(ARRAY[
    2147483647, 2147483648, 2147483649, 4294967295, 4294967296, 4294967297,
    4611686018427387903, 4611686018427387904, 4611686018427387905,
    9223372036854775806, 9223372036854775807]::bigint[]) k;
INSERT INTO app.big
  SELECT k, now() - interval '99 years', 'young' FROM unnest(ARRAY[
    2147483650, 4611686018427387900, 4611686018427387901, -9223372036854775808]::bigint[]) k;
-- and a spread of old rows between 2^62 and 2^62 + 3000, across many heap pages
INSERT INTO app.big
  SELECT 4611686018427387904 + 10 * i, now() - interval '101 years', repeat('b', 200)
  FROM generate_series(1, 3000) i;
CREATE TABLE app.expected AS SELECT * FROM app.big WHERE at < now() - interval '100 years';
CREATE TABLE app.restored (LIKE app.big);
CREATE TABLE app.bigp (id bigint PRIMARY KEY, at timestamptz);
INSERT INTO app.bigp SELECT 4611686018427387904 + i, now() - interval '101 years'
  FROM generate_series(1, 500) i;
INSERT INTO app.bigp SELECT 2147483648 + i, now() FROM generate_series(1, 7) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "case03", "version": 1, "max_fraction": 1.0, "batch_max_pages": 8,
 "classes": [
  {"name": "big", "table": "app.big", "key": "id", "timestamp_column": "at",
   "action": "archive", "retain": "36500 days"},
  {"name": "bigp", "table": "app.bigp", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "36500 days"}]}
EOF2

run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exits 0" 0 "$rc"
assert_eq "dry run eligible (archive)" 3011 "$(class_get big eligible)"
assert_eq "dry run eligible (purge)" 500 "$(class_get bigp eligible)"
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
assert_eq "archived" 3011 "$(class_get big archived)"
assert_eq "purged" 500 "$(class_get bigp purged)"
assert_match "several batches" '^([2-9]|[1-9][0-9]+)$' "$(class_get big batches)"
assert_eq "young rows left, keys intact" \
  "-9223372036854775808 2147483650 4611686018427387900 4611686018427387901" \
  "$(q "SELECT string_agg(id::text, ' ' ORDER BY id) FROM app.big")"
assert_eq "purge table keeps its young rows" 7 "$(q "SELECT count(*) FROM app.bigp")"
assert_eq "segment rows add up" 3011 \
  "$(report_eval 'sum(s["rows"] for s in r["archive_segments"])')"
while read -r file; do
  zcat "$ARCHIVE/$file" | psql -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy app.restored FROM STDIN WITH (FORMAT csv, HEADER true)" || die "restore $file"
done < <(q "SELECT file_name FROM retention.archive_segments")
assert_eq "restored rows equal the archived rows, keys exact" 0 \
  "$(q "SELECT count(*) FROM ((TABLE app.expected EXCEPT ALL TABLE app.restored)
        UNION ALL (TABLE app.restored EXCEPT ALL TABLE app.expected)) d")"
assert_eq "largest key restored" 1 \
  "$(q "SELECT count(*) FROM app.restored WHERE id = 9223372036854775807")"
assert_eq "report cutoff is 36500 days back" \
  "$(q "SELECT to_char((now() AT TIME ZONE 'UTC' - interval '36500 days')::date, 'YYYY-MM-DD')")" \
  "$(class_get big cutoff | cut -c1-10)"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >/dev/null
assert_eq "report and segments verify" 0 "$?"
finish
