#!/usr/bin/env bash
# Each class's report carries digests of the keys it purged, archived and
# held: SHA-256 over the keys sorted bytewise, one a line, so anyone can
# recompute them. A dry run and the real run after it on unchanged data give
# the same digests and `retention verify --compare` says they match; when the
# data changed in between it says by how many rows each class differs.
. "$(dirname "$0")/lib.sh"
setup_db

make_data() {
  sql <<'SQL'
DROP SCHEMA IF EXISTS app CASCADE;
CREATE SCHEMA app;
CREATE TABLE app.inputs (id bigserial PRIMARY KEY, received_at timestamptz, customer_id int);
CREATE TABLE app.esc (ref text PRIMARY KEY, closed_at timestamptz, customer_id int);
INSERT INTO app.inputs (received_at, customer_id)
  SELECT now() - (i || ' days')::interval, i % 10 FROM generate_series(1, 400) i;
INSERT INTO app.inputs (received_at, customer_id) VALUES (NULL, 1), (NULL, 2);
INSERT INTO app.esc (ref, closed_at, customer_id)
  SELECT 'E-' || i, now() - (i || ' days')::interval, i % 10 FROM generate_series(1, 150) i;
SQL
}
make_data
retention hold add --ticket T-3 --match customer_id=3 --reason "case" >/dev/null
retention hold add --ticket T-4 --match customer_id=4 --class inputs --reason "case" >/dev/null
cat >"$WORK/policy.json" <<'EOF2'
{"name": "digests", "version": 1, "max_fraction": 0.95, "batch_max_pages": 1, "classes": [
  {"name": "inputs", "table": "app.inputs", "key": "id", "timestamp_column": "received_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "esc", "table": "app.esc", "key": "ref", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days", "hold_keys": ["customer_id"]}]}
EOF2

# What the digests must be, computed by the database and sha256sum alone.
keys_sha() { q "$1" | sha256sum | cut -d' ' -f1; }
inputs_purge=$(keys_sha "SELECT id FROM app.inputs WHERE received_at < now() - interval '30 days'
  AND customer_id NOT IN (3, 4) ORDER BY id::text COLLATE \"C\"")
inputs_held=$(keys_sha "SELECT id FROM app.inputs WHERE received_at < now() - interval '30 days'
  AND customer_id IN (3, 4) ORDER BY id::text COLLATE \"C\"")
esc_archive=$(keys_sha "SELECT ref FROM app.esc WHERE closed_at < now() - interval '90 days'
  AND customer_id <> 3 ORDER BY ref COLLATE \"C\"")

run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exits 0" 0 "$rc"
dry=$(latest_report)
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "real run exits 0" 0 "$rc"
real=$(latest_report)
assert_match "the real run took several batches" '^([2-9]|[1-9][0-9]+)$' "$(class_get inputs batches)"

digest() { report_get "[\"classes\"][[c[\"name\"] for c in r[\"classes\"]].index(\"$1\")][\"key_digests\"][\"$2\"][\"$3\"]" "$4"; }
assert_eq "dry run: purge digest" "$inputs_purge" "$(digest inputs purged sha256 "$dry")"
assert_eq "real run: purge digest" "$inputs_purge" "$(digest inputs purged sha256 "$real")"
assert_eq "dry run: held digest" "$inputs_held" "$(digest inputs held sha256 "$dry")"
assert_eq "real run: held digest" "$inputs_held" "$(digest inputs held sha256 "$real")"
assert_eq "real run: archive digest (text keys)" "$esc_archive" "$(digest esc archived sha256 "$real")"
assert_eq "purged rows in the digest" "$(class_get inputs purged "$real")" "$(digest inputs purged rows "$real")"
assert_eq "a purge class archived nothing" \
  "0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
  "$(digest inputs archived rows "$real") $(digest inputs archived sha256 "$real")"

out=$(retention verify --compare "$dry" "$real" --public-key "$PUB" 2>&1)
assert_eq "compare: unchanged data match" 0 "$?"
assert_match "compare says so" "class inputs: purged: match \(" "$out"
assert_match "compare ends with the verdict" "dry run and real run match" "$out"

# The data changes between the dry run and the real run.
make_data
run_job --policy "$WORK/policy.json" --dry-run
dry=$(latest_report)
q "INSERT INTO app.inputs (received_at, customer_id) SELECT now() - interval '100 days', 7
   FROM generate_series(1, 3)" >/dev/null
retention hold release --ticket T-4 --reason "closed" >/dev/null
sleep 1
run_job --policy "$WORK/policy.json"
real=$(latest_report)
out=$(retention verify --compare "$dry" "$real" 2>&1)
assert_eq "compare: changed data differ" 1 "$?"
held4=$(digest inputs held rows "$dry")
assert_match "purged differs by the 3 new rows and the released hold's rows" \
  "DIFFER class inputs: purged: differ by $((3 + held4 - $(digest inputs held rows "$real"))) rows" "$out"
assert_match "held differs too" "DIFFER class inputs: held: differ by" "$out"
assert_match "the other class still matches" "class esc: archived: match" "$out"
assert_match "verdict" "dry run and real run DIFFER" "$out"

retention verify --compare "$dry" "$WORK/policy.json" >/dev/null 2>&1
assert_eq "compare refuses what is not a report" 2 "$?"
out=$(retention verify --compare "$real" "$dry" 2>&1)
assert_eq "compare refuses the reports in the wrong order" 2 "$?"
assert_match "and says which is which" \
  "takes a dry run's report, then an executed run's; these are of mode execute, then dry-run" "$out"
out=$(retention verify --compare "$real" "$real" 2>&1)
assert_eq "compare refuses two executed runs" 2 "$?"
finish
