#!/usr/bin/env bash
# `retention verify --chain` accepts an intact directory of reports and names
# the file at fault when a report is deleted, swapped with another, changed by
# one byte, duplicated, or signed by a key it was not given; several public
# keys cover a key rotation; --db catches what the chain alone cannot (the
# newest report removed) and the ledger refuses to be rewritten.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz);
INSERT INTO app.t (ts) SELECT now() - (i || ' days')::interval FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "chain", "version": 1, "classes": [{"name": "t", "table": "app.t", "key": "id",
  "timestamp_column": "ts", "action": "purge", "retain": "60 days"}]}
EOF2

for i in 1 2 3 4; do
  run_job --policy "$WORK/policy.json"
  [ "$rc" -eq 0 ] || die "run $i exits 0"
done
# A dry run in the same directory stays outside the chain.
run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exits 0" 0 "$rc"

# The report file of sequence N.
by_seq() {
  python3 - "$REPORTS" "$1" <<'PY'
import json, os, sys
for f in sorted(os.listdir(sys.argv[1])):
    if f.endswith(".json") and json.load(open(os.path.join(sys.argv[1], f))).get("sequence") == int(sys.argv[2]):
        print(f)
PY
}
r1=$(by_seq 1); r2=$(by_seq 2); r3=$(by_seq 3); r4=$(by_seq 4)
[ -n "$r4" ] || die "four chained reports"

verify_chain() { # DIR [options...]; output in $out, exit status in $vrc
  out=$(retention verify --chain "$@" 2>&1)
  vrc=$?
}

verify_chain "$REPORTS" --public-key "$PUB"
assert_eq "an intact chain verifies" 0 "$vrc"
assert_match "and says so" "chain OK: 5 reports \(4 executed, 1 dry run\)" "$out"
verify_chain "$REPORTS" --public-key "$PUB" --db ""
assert_eq "it matches the ledger" 0 "$vrc"

# A scratch copy of the reports for each kind of damage.
fresh() {
  rm -rf "$WORK/c"
  cp -a "$REPORTS" "$WORK/c"
}

fresh
rm "$WORK/c/$r2" "$WORK/c/$r2.sig"
verify_chain "$WORK/c" --public-key "$PUB"
assert_eq "a deleted report breaks the chain" 1 "$vrc"
assert_match "the report after the gap is named" "BREAK $r3: sequence 3: its previous report .* is not in the directory; a report after $r1 \(sequence 1\) was removed" "$out"
verify_chain "$WORK/c" --public-key "$PUB" --db ""
assert_match "the ledger names the deleted file" "BREAK $r2: in the ledger .*sequence 2.* but missing from the directory" "$out"

fresh
rm "$WORK/c/$r2"
verify_chain "$WORK/c" --public-key "$PUB"
assert_match "a signature left without its report is named" "BREAK $r2.sig: signature without its report" "$out"

fresh
mv "$WORK/c/$r2" "$WORK/c/x"; mv "$WORK/c/$r2.sig" "$WORK/c/x.sig"
mv "$WORK/c/$r3" "$WORK/c/$r2"; mv "$WORK/c/$r3.sig" "$WORK/c/$r2.sig"
mv "$WORK/c/x" "$WORK/c/$r3"; mv "$WORK/c/x.sig" "$WORK/c/$r3.sig"
verify_chain "$WORK/c" --public-key "$PUB"
assert_eq "swapped reports break the chain" 1 "$vrc"
assert_match "the first swapped file is named" "BREAK $r2: holds the report of run .* renamed or swapped" "$out"
assert_match "the second swapped file is named" "BREAK $r3: holds the report of run .* renamed or swapped" "$out"

fresh
python3 - "$WORK/c/$r2" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b'"total":') + 9
b[i] = ord("9") if b[i] != ord("9") else ord("8")
open(p, "wb").write(b)
PY
verify_chain "$WORK/c" --public-key "$PUB"
assert_eq "a changed byte breaks the chain" 1 "$vrc"
assert_match "the changed report is named" "BREAK $r2: signature does not match" "$out"
assert_match "and the next one no longer links to it" "BREAK $r3: sequence 3: its previous report" "$out"
verify_chain "$WORK/c" --public-key "$PUB" --db ""
assert_match "the ledger's hash differs too" "BREAK $r2: the ledger records SHA-256 .* altered" "$out"

fresh
cp "$WORK/c/$r2" "$WORK/c/retention-copy.json"; cp "$WORK/c/$r2.sig" "$WORK/c/retention-copy.json.sig"
verify_chain "$WORK/c" --public-key "$PUB"
assert_eq "a duplicated report breaks the chain" 1 "$vrc"
assert_match "the copy is named" "BREAK retention-copy.json: duplicated report: a copy of $r2" "$out"

# The newest report removed: no later report can tell, the ledger can.
fresh
rm "$WORK/c/$r4" "$WORK/c/$r4.sig"
verify_chain "$WORK/c" --public-key "$PUB"
assert_eq "without the ledger the truncated chain looks whole" 0 "$vrc"
verify_chain "$WORK/c" --public-key "$PUB" --db ""
assert_eq "with the ledger it does not" 1 "$vrc"
assert_match "the missing newest report is named" "BREAK $r4: in the ledger .*sequence 4" "$out"

# Key rotation: run 5 signs with a new key.
retention keygen --out "$WORK/new.pem" >/dev/null
retention run --report-dir "$REPORTS" --signing-key "$WORK/new.pem" --progress-interval 0 \
  --policy "$WORK/policy.json" 2>"$WORK/run.log"
assert_eq "run with the new key exits 0" 0 "$?"
r5=$(by_seq 5)
verify_chain "$REPORTS" --public-key "$PUB"
assert_eq "a report signed by a key not given breaks the chain" 1 "$vrc"
assert_match "it is named, with the key" "BREAK $r5: signed by an unknown key sha256:" "$out"
verify_chain "$REPORTS" --public-key "$PUB" --public-key "$WORK/new.pub.pem" --db ""
assert_eq "both keys verify the rotated chain" 0 "$vrc"

# The ledger cannot be rewritten to match a forged directory.
err=$(psql -X -q -c "UPDATE retention.runs SET report_sha256 = 'x' WHERE sequence = 2" 2>&1)
assert_match "a completed ledger row refuses UPDATE" "run .* is complete and its ledger row is frozen" "$err"
err=$(psql -X -q -c "DELETE FROM retention.runs WHERE sequence = 4" 2>&1)
assert_match "ledger rows refuse DELETE" "retention.runs keeps every run: DELETE refused" "$err"
finish
