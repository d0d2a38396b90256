#!/usr/bin/env bash
# The report's detached Ed25519 signature verifies with stock OpenSSL and with
# `retention verify`, and fails for one changed byte or another key.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz);
INSERT INTO app.t (ts) SELECT now() - (i || ' days')::interval FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "sig", "version": 1, "classes": [{"name": "t", "table": "app.t", "key": "id",
  "timestamp_column": "ts", "action": "purge", "retain": "60 days"}]}
EOF2
run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
report=$(latest_report)
assert_eq "signature is 64 raw bytes" 64 "$(stat -c %s "$report.sig")"
openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -in "$report" -sigfile "$report.sig" \
  >/dev/null 2>&1
assert_eq "openssl verifies the report" 0 "$?"
retention verify --public-key "$PUB" "$report" >/dev/null
assert_eq "retention verify accepts it" 0 "$?"
assert_eq "report names the key" \
  "$(retention keygen --help >/dev/null; openssl pkey -pubin -in "$PUB" -outform DER | sha256sum | cut -d' ' -f1)" \
  "$(report_get '["key_fingerprint"]' | sed 's/^sha256://')"

# One byte changed: the 41st byte, a digit or letter, replaced by another.
cp "$report" "$WORK/tampered.json"
cp "$report.sig" "$WORK/tampered.json.sig"
python3 - "$WORK/tampered.json" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b'"purged":') + 11
b[i] = ord("9") if b[i] != ord("9") else ord("8")
open(p, "wb").write(b)
PY
openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -in "$WORK/tampered.json" \
  -sigfile "$WORK/tampered.json.sig" >/dev/null 2>&1
assert_eq "openssl rejects a changed byte" 1 "$?"
retention verify --public-key "$PUB" "$WORK/tampered.json" >/dev/null
assert_eq "retention verify rejects a changed byte" 1 "$?"

# Another key.
retention keygen --out "$WORK/other.pem" >/dev/null
retention verify --public-key "$WORK/other.pub.pem" "$report" >/dev/null
assert_eq "another key does not verify it" 1 "$?"

# No signature file.
rm "$WORK/tampered.json.sig"
retention verify --public-key "$PUB" "$WORK/tampered.json" >/dev/null
assert_eq "a missing signature fails" 1 "$?"
finish
