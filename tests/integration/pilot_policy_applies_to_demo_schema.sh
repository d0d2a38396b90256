#!/usr/bin/env bash
# The shipped DSP pilot policy, on the demo schema and data: a dry run and the
# real run give the documented numbers, the held investigations keep their
# rows, and the anonymised aggregates are not touched.
. "$(dirname "$0")/lib.sh"
setup_db

psql -X -q -v ON_ERROR_STOP=1 -f "$SRC/deploy/demo/schema.sql" >/dev/null || die "schema"
psql -X -q -v ON_ERROR_STOP=1 -f "$SRC/deploy/demo/data.sql" >/dev/null || die "data"
policy=$SRC/policies/dsp-number-pattern-pilot.json
retention hold add --ticket INV-2026-0142 --match ticket_id=INV-2026-0142 \
  --class raw_customer_inputs --reason "investigation" --policy "$policy" >/dev/null || die "hold"
retention hold add --ticket INV-2026-0157 --match customer_id=100042 --reason "complaint" \
  --policy "$policy" >/dev/null || die "hold"
aggregates=$(q "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM dsp.anonymised_aggregates t")

run_job --policy "$policy" --dry-run
assert_eq "dry run exits 0" 0 "$rc"
dry=$(latest_report)
sleep 1
run_job --policy "$policy"
assert_eq "run exits 0" 0 "$rc"
for c in raw_customer_inputs:1480:20:0 pilot_interaction_logs:1785:15:0 \
  support_escalations:998:2:150; do
  IFS=: read -r name eligible held undated <<<"$c"
  assert_eq "$name eligible (dry run)" "$eligible" "$(class_get "$name" eligible "$dry")"
  assert_eq "$name held" "$held" "$(class_get "$name" held)"
  assert_eq "$name undated" "$undated" "$(class_get "$name" undated)"
done
assert_eq "raw inputs purged" 1480 "$(class_get raw_customer_inputs purged)"
assert_eq "interaction logs purged" 1785 "$(class_get pilot_interaction_logs purged)"
assert_eq "escalations archived" 998 "$(class_get support_escalations archived)"
assert_eq "escalations procedure" SOP-17 "$(class_get support_escalations procedure)"
assert_eq "aggregates kept" kept "$(class_get anonymised_aggregates status)"
assert_eq "aggregates untouched" "$aggregates" \
  "$(q "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM dsp.anonymised_aggregates t")"
assert_eq "ticket hold keeps 10 rows" 10 \
  "$(report_eval '[h for h in r["holds"] if h["ticket"] == "INV-2026-0142"][0]["rows_held"]')"
assert_eq "customer hold keeps 27 rows" 27 \
  "$(report_eval '[h for h in r["holds"] if h["ticket"] == "INV-2026-0157"][0]["rows_held"]')"
finish
