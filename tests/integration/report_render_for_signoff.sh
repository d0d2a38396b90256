#!/usr/bin/env bash
# `retention report render` turns a report into a sign-off summary, as text
# or as one self-contained HTML page, with the signature checked on the spot:
# valid with the right key, "not checked" without one, and a failing exit
# status for a changed report or an unknown key.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.inputs (id bigserial PRIMARY KEY, received_at timestamptz, customer_id int,
                         note text);
INSERT INTO app.inputs (received_at, customer_id)
  SELECT now() - (i || ' days')::interval, i % 10 FROM generate_series(1, 100) i;
INSERT INTO app.inputs (received_at, customer_id) VALUES (NULL, 1);
CREATE TABLE app.agg (day date PRIMARY KEY, n int);
INSERT INTO app.agg SELECT current_date - i, i FROM generate_series(1, 50) i;
CREATE TABLE app.esc (id bigserial PRIMARY KEY, closed_at timestamptz, customer_id int);
INSERT INTO app.esc (closed_at, customer_id)
  SELECT now() - (i || ' days')::interval, i % 10 FROM generate_series(1, 120) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "render", "version": 2, "max_fraction": 0.9, "classes": [
  {"name": "inputs", "table": "app.inputs", "key": "id", "timestamp_column": "received_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days", "procedure": "SOP-17", "hold_keys": ["customer_id"]},
  {"name": "agg", "table": "app.agg", "action": "keep", "retain": "indefinite"}]}
EOF2
retention hold add --ticket INV-1 --match customer_id=3 \
  --reason 'a <script>alert(1)</script> "quoted"' --by alice >/dev/null
run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
report=$(latest_report)

text=$(retention report render "$report" --format text --public-key "$PUB")
assert_eq "text render exits 0" 0 "$?"
assert_match "signature checked on the spot" "Signature +signature valid, key sha256:" "$text"
assert_match "class line: purged, held, undated" \
  "inputs +purge +30 days +[0-9T:.Z-]+ +ok +101 +64 +0 +7 +1 +0" "$text"
assert_match "class line: archived" "esc +archive +90 days .* ok +120 +0 +28 +3 +0 +0" "$text"
assert_match "a keep class shows no counts (it is never read), not zeros" \
  "agg +keep +indefinite +kept +- +- +- +- +- +-" "$text"
assert_match "hold with who and why" "INV-1 +customer_id=3 +every class +inputs .* alice +a <script>" \
  "$text"
assert_match "segments listed" "Archive segments \(1\)" "$text"
assert_match "no guard" "No guard fired" "$text"
assert_match "chain position" "Chain +sequence 1, previous report SHA-256 none" "$text"

retention report render "$report" --format html --public-key "$PUB" --out "$WORK/r.html"
assert_eq "html render exits 0" 0 "$?"
html=$(cat "$WORK/r.html")
assert_match "an HTML page" "^<!DOCTYPE html>" "$html"
assert_eq "self-contained: no script, no external reference" 0 \
  "$(grep -ciE '<script|src=|href=|@import|url\(' "$WORK/r.html")"
assert_match "text from the database is escaped" "a &lt;script&gt;alert\(1\)&lt;/script&gt; &quot;quoted&quot;" "$html"
assert_match "signature status marked valid" 'class="good">signature valid, key sha256:' "$html"
assert_match "prints on A4" "@page\{size:A4" "$html"

out=$(retention report render "$report" 2>&1)
assert_eq "without a key it renders" 0 "$?"
assert_match "and says the signature was not checked" "Signature +signature not checked: no public key given" "$out"

cp "$report" "$WORK/nosig.json"
out=$(retention report render "$WORK/nosig.json" 2>&1)
assert_eq "a report without its .sig fails even without a key" 1 "$?"
assert_match "and names the missing file" "Signature +no signature file .*nosig.json.sig" "$out"

retention keygen --out "$WORK/other.pem" >/dev/null
out=$(retention report render "$report" --public-key "$WORK/other.pub.pem" 2>&1)
assert_eq "an unknown key fails" 1 "$?"
assert_match "and says so" "Signature +signed by an unknown key sha256:" "$out"

cp "$report" "$WORK/changed.json"; cp "$report.sig" "$WORK/changed.json.sig"
sed -i 's/"total":\t101/"total":\t100/' "$WORK/changed.json"
out=$(retention report render "$WORK/changed.json" --public-key "$PUB" 2>&1)
assert_eq "a changed report fails" 1 "$?"
assert_match "and says it is invalid" "Signature +signature does not match" "$out"
finish
