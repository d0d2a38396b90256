#!/usr/bin/env bash
# An executed run counts by heap block ranges and reads its removed keys back
# in chunks, each its own transaction; a dry run counts and digests in one
# snapshot. On unchanged data both give the same counts and the same digests,
# and those digests are sha256sum over the keys sorted bytewise. The policy's
# batch_max_pages of 2 makes the counting scan take many ranges and
# RETENTION_DIGEST_CHUNK_ROWS=7 makes the digest take many chunks: text keys
# whose byte order differs from a linguistic one, undated rows; a plain
# table, a partitioned one with an empty partition, and a table with pinned
# rows. (Keys are unique and NOT NULL: the catalog check refuses any other.)
. "$(dirname "$0")/lib.sh"
setup_db
export RETENTION_DIGEST_CHUNK_ROWS=7

sql <<'SQL'
CREATE SCHEMA app;
-- Upper- and lower-case text keys: byte order is not the linguistic one.
CREATE TABLE app.ev (ref text PRIMARY KEY, at timestamptz, customer_id int, pad text);
INSERT INTO app.ev
  SELECT CASE WHEN i % 5 = 0 THEN 'b' || i WHEN i % 2 = 0 THEN 'B' || i ELSE 'a' || i END,
         CASE WHEN i % 211 = 0 THEN NULL
              ELSE now() - ((i % 120) || ' days')::interval - interval '1 hour' END,
         i % 10, repeat('x', 300)
  FROM generate_series(1, 6000) i;
CREATE TABLE app.pt (id bigint, at timestamptz NOT NULL, customer_id int, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE app.pt_old PARTITION OF app.pt FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
CREATE TABLE app.pt_empty PARTITION OF app.pt FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
CREATE TABLE app.pt_rest PARTITION OF app.pt DEFAULT;
INSERT INTO app.pt SELECT i, now() - ((i % 90) || ' days')::interval - interval '1 hour', i % 10
  FROM generate_series(1, 5000) i;
INSERT INTO app.pt SELECT i, '2000-06-01'::timestamptz + (i || ' minutes')::interval, 4
  FROM generate_series(5001, 5100) i;
CREATE TABLE app.acct (id int PRIMARY KEY, closed_at timestamptz, customer_id int);
INSERT INTO app.acct SELECT i, now() - ((i % 100) || ' days')::interval - interval '1 hour', i % 10
  FROM generate_series(1, 3000) i;
CREATE TABLE app.note (acct_id int REFERENCES app.acct (id));
INSERT INTO app.note SELECT i * 7 FROM generate_series(1, 300) i;
SQL
retention hold add --ticket T-3 --match customer_id=3 --reason "case" >/dev/null
retention hold add --ticket T-6 --match customer_id=6 --class pt --reason "case" >/dev/null
retention hold add --ticket T-9 --match customer_id=99 --reason "keeps nothing" >/dev/null
cat >"$WORK/policy.json" <<'EOF'
{"name": "chunks", "version": 1, "max_fraction": 0.95, "batch_max_pages": 2, "classes": [
  {"name": "ev", "table": "app.ev", "key": "ref", "timestamp_column": "at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "pt", "table": "app.pt", "key": "id", "timestamp_column": "at",
   "action": "archive", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "acct", "table": "app.acct", "key": "id", "timestamp_column": "closed_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]}]}
EOF

# The removed keys, by the database and sha256sum alone.
keys_sha() { q "$1" | sha256sum | cut -d' ' -f1; }
ev_purge=$(keys_sha "SELECT coalesce(ref, E'\\\\N') FROM app.ev
  WHERE at < now() - interval '30 days' AND customer_id <> 3 ORDER BY ref COLLATE \"C\"")
ev_rows=$(q "SELECT count(*) FROM app.ev WHERE at < now() - interval '30 days' AND customer_id <> 3")

run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exits 0" 0 "$rc"
dry=$(latest_report)
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "real run exits 0" 0 "$rc"
real=$(latest_report)

for c in ev pt acct; do
  for f in total eligible held undated pinned; do
    assert_eq "$c: $f, dry run and real run" "$(class_get $c $f "$dry")" "$(class_get $c $f "$real")"
  done
done
assert_eq "ev: every eligible row purged" "$(class_get ev eligible "$dry")" \
  "$(class_get ev purged "$real")"
assert_eq "pt: every eligible row archived" "$(class_get pt eligible "$dry")" \
  "$(class_get pt archived "$real")"
assert_match "ev: some rows undated" '^[1-9][0-9]*$' "$(class_get ev undated "$real")"
assert_match "acct: some rows pinned" '^[1-9][0-9]*$' "$(class_get acct pinned "$real")"

digest() {
  report_get "[\"classes\"][[c[\"name\"] for c in r[\"classes\"]].index(\"$1\")][\"key_digests\"][\"$2\"][\"$3\"]" "$4"
}
assert_eq "ev: the real run's digest is sha256sum's" "$ev_purge" "$(digest ev purged sha256 "$real")"
assert_eq "ev: the dry run's digest is sha256sum's" "$ev_purge" "$(digest ev purged sha256 "$dry")"
assert_eq "ev: rows in the digest" "$ev_rows" \
  "$(digest ev purged rows "$real")"
assert_eq "pt: archive digest, dry run and real run" "$(digest pt archived sha256 "$dry")" \
  "$(digest pt archived sha256 "$real")"
for c in ev pt acct; do
  assert_eq "$c: held digest, dry run and real run" "$(digest $c held sha256 "$dry")" \
    "$(digest $c held sha256 "$real")"
done
# Rows per hold: the real run sums them over its ranges, the dry run counts them at once.
holds='sorted((t["ticket"], str(m["class"]), m["rows_held"]) for t in r["holds"] for m in t["matches"])'
assert_eq "rows per hold, dry run and real run" "$(report_eval "$holds" "$dry")" \
  "$(report_eval "$holds" "$real")"
assert_match "rows per hold: every hold, one that keeps nothing too" \
  "'T-3', 'acct', [1-9].*'T-6', 'pt', [1-9].*'T-9', 'acct', 0\\).*'T-9', 'ev', 0\\)" \
  "$(report_eval "$holds" "$real")"
out=$(retention verify --compare "$dry" "$real" 2>&1)
assert_eq "compare: they match" 0 "$?"
assert_match "compare's verdict" "dry run and real run match" "$out"

# The real run took many ranges and many chunks; the dry run none of either.
ranges() {
  grep "\"class\":\"$1\"" "$WORK/run.log" | grep -o 'counted in [0-9]* block ranges' |
    grep -o '[0-9]*'
}
reads() {
  grep "\"class\":\"$1\"" "$WORK/run.log" | grep -o 'digested in [0-9]* reads' | grep -o '[0-9]*'
}
held_reads() {
  grep "\"class\":\"$1\"" "$WORK/run.log" | grep -o 'held keys in [0-9]* reads' | grep -o '[0-9]*'
}
assert_match "ev: counted in many block ranges" '^([2-9][0-9]|[1-9][0-9]{2,})$' "$(ranges ev)"
assert_match "pt: counted in many block ranges" '^[1-9][0-9]+$' "$(ranges pt)"
assert_match "ev: removed keys read in many chunks" '^([2-9][0-9]{2}|[1-9][0-9]{3,})$' "$(reads ev)"
assert_match "pt: removed keys read in many chunks" '^([2-9][0-9]{2}|[1-9][0-9]{3,})$' "$(reads pt)"
assert_match "ev: held keys read in many chunks" '^([2-9][0-9]|[1-9][0-9]{2,})$' "$(held_reads ev)"
assert_match "pt: the old partition went whole" "pt_old" \
  "$(report_eval '[p["name"] for c in r["classes"] for p in c.get("partitions", [])]' "$real")"
finish
