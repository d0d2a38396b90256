#!/usr/bin/env bash
# An option given twice is refused (exit 2) instead of the last one silently
# winning: a second --match would otherwise leave the first customer unheld.
# Options meant to repeat (--public-key) still do. A connection string libpq
# cannot parse is refused with exit 2 and without libpq's detail, which quotes
# the string, password included; nothing of the password reaches the log or
# the report.
. "$(dirname "$0")/lib.sh"
setup_db
retention keygen --out "$WORK/old.pem" --public-out "$WORK/old.pub.pem" >/dev/null

# A hold with two --match options: refused, nothing added.
retention hold add --ticket INV-1 --match customer_id=5 --match customer_id=6 \
  --reason "two customers" 2>"$WORK/hold.log"
assert_eq "hold add with --match twice exits 2" 2 "$?"
assert_match "the refusal names the option" "option --match is given twice" "$(cat "$WORK/hold.log")"
assert_eq "no hold was added" 0 "$(q "SELECT count(*) FROM retention.holds")"

retention hold add --ticket INV-1 --ticket INV-2 --match customer_id=5 --reason r 2>/dev/null
assert_eq "hold add with --ticket twice exits 2" 2 "$?"

# A run with two policies: refused before anything is read.
echo '{' >"$WORK/bad.json"
run_job --policy "$WORK/bad.json" --policy "$SRC/policies/dsp-number-pattern-pilot.json"
assert_eq "run with --policy twice exits 2" 2 "$rc"
assert_match "the run names the option" "option --policy is given twice" "$(cat "$WORK/run.log")"

# --public-key repeats by design (key rotation): a second one is not a usage error.
pubs=$(retention verify --chain "$REPORTS" --public-key "$WORK/old.pub.pem" \
  --public-key "$WORK/old.pub.pem" 2>&1)
assert_eq "verify takes --public-key twice" "" "$(grep -o 'given twice' <<<"$pubs")"

# Unparsable connection strings carrying a password.
secret='Sale50%off'
n=0
for conninfo in "postgresql://postgres:${secret}@/x?host=$PGHOST" \
  "postgresql://postgres:${secret}@[::1/x" "host=$PGHOST password='${secret}"; do
  n=$((n + 1))
  run_job --dry-run --policy "$SRC/policies/dsp-number-pattern-pilot.json" --db "$conninfo"
  assert_eq "unparsable connection string $n exits 2" 2 "$rc"
  assert_match "it says the string is not valid" "connection string is not valid" \
    "$(cat "$WORK/run.log")"
  assert_eq "the password is not in the log" 0 "$(grep -c "Sale50" "$WORK/run.log")"
  assert_eq "the password is not in any report" 0 \
    "$(cat "$REPORTS"/*.json 2>/dev/null | grep -c "Sale50")"
  retention hold list --db "$conninfo" 2>"$WORK/list.log"
  assert_eq "hold list with it exits 2" 2 "$?"
  assert_eq "hold list does not print the password" 0 "$(grep -c "Sale50" "$WORK/list.log")"
done

# A valid string whose server is not there: exit 1, the password still absent.
run_job --dry-run --policy "$SRC/policies/dsp-number-pattern-pilot.json" \
  --db "host=$WORK/nowhere dbname=x user=postgres password=${secret}"
assert_eq "an unreachable server exits 1" 1 "$rc"
assert_eq "the password is not in that log" 0 "$(grep -c "Sale50" "$WORK/run.log")"
finish
