#!/usr/bin/env bash
# A purge class removes exactly the rows past the cutoff that no open hold
# keeps: holds by ticket and by customer keep theirs, a released hold keeps
# nothing, a hold scoped to another class keeps nothing here, NULL
# timestamps are never removed, and a dry run gives the real run's numbers.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.inputs (id bigserial PRIMARY KEY, received_at timestamptz,
                         customer_id bigint, ticket_id text, body text);
CREATE TABLE app.other (id bigserial PRIMARY KEY, at timestamptz, customer_id bigint);
-- plain old rows, and one a second past the cutoff
INSERT INTO app.inputs (received_at, customer_id, body)
  SELECT now() - interval '40 days', 1, 'old' FROM generate_series(1, 5);
INSERT INTO app.inputs (received_at, customer_id, body)
  VALUES (now() - interval '30 days' - interval '1 second', 2, 'just past');
-- five minutes short of the cutoff: all three runs start well within that, even on a
-- loaded test machine (ten seconds was not enough once tests ran in parallel)
INSERT INTO app.inputs (received_at, customer_id, body)
  VALUES (now() - interval '30 days' + interval '5 minutes', 2, 'just young');
-- held by ticket, held by customer, under a released hold, under another class's hold
INSERT INTO app.inputs (received_at, customer_id, ticket_id, body)
  SELECT now() - interval '90 days', 7, 'INV-2026-0007', 'ticket' FROM generate_series(1, 3);
INSERT INTO app.inputs (received_at, customer_id, body)
  SELECT now() - interval '60 days', 42, 'customer' FROM generate_series(1, 2);
INSERT INTO app.inputs (received_at, customer_id, body)
  SELECT now() - interval '60 days', 43, 'released' FROM generate_series(1, 2);
INSERT INTO app.inputs (received_at, customer_id, body)
  VALUES (now() - interval '60 days', 44, 'other class hold');
-- undated and young
INSERT INTO app.inputs (received_at, customer_id, body)
  SELECT NULL, 1, 'undated' FROM generate_series(1, 2);
INSERT INTO app.inputs (received_at, customer_id, body)
  SELECT now() - interval '1 day', 42, 'young' FROM generate_series(1, 4);
SQL
total=$(q "SELECT count(*) FROM app.inputs")

cat >"$WORK/policy.json" <<'EOF2'
{"name": "purge-test", "version": 3, "timezone": "UTC", "max_fraction": 0.9,
 "classes": [
  {"name": "inputs", "table": "app.inputs", "key": "id", "timestamp_column": "received_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["ticket_id", "customer_id"]},
  {"name": "other", "table": "app.other", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]}]}
EOF2

retention hold add --ticket INV-2026-0007 --match ticket_id=INV-2026-0007 --reason "fraud case" \
  --by analyst >/dev/null || die "hold add by ticket"
retention hold add --ticket INV-2026-0042 --match customer_id=42 --reason "complaint" \
  --policy "$WORK/policy.json" >/dev/null || die "hold add by customer"
retention hold add --ticket INV-2026-0043 --match customer_id=43 --reason "closed" >/dev/null
retention hold release --ticket INV-2026-0043 --reason "case closed" >/dev/null \
  || die "hold release"
retention hold add --ticket INV-2026-0044 --match customer_id=44 --class other \
  --reason "scoped" >/dev/null || die "scoped hold"

# Dry run first: counts only.
run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exits 0" 0 "$rc"
assert_eq "dry run: nothing removed" "$total" "$(q "SELECT count(*) FROM app.inputs")"
assert_eq "dry run mode" "dry-run" "$(report_get '["mode"]')"
dry=$(latest_report)
assert_eq "dry run eligible" 9 "$(class_get inputs eligible)"
assert_eq "dry run held" 5 "$(class_get inputs held)"
assert_eq "dry run undated" 2 "$(class_get inputs undated)"
assert_eq "dry run purged" 0 "$(class_get inputs purged)"
sleep 1

# The real run.
run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
assert_eq "status" success "$(report_get '["status"]')"
assert_eq "purged" 9 "$(class_get inputs purged)"
assert_eq "eligible equals the dry run's" "$(class_get inputs eligible "$dry")" \
  "$(class_get inputs eligible)"
assert_eq "held equals the dry run's" "$(class_get inputs held "$dry")" "$(class_get inputs held)"
assert_eq "undated equals the dry run's" "$(class_get inputs undated "$dry")" \
  "$(class_get inputs undated)"
assert_eq "rows left" $((total - 9)) "$(q "SELECT count(*) FROM app.inputs")"
assert_eq "row a second past the cutoff is gone" 0 \
  "$(q "SELECT count(*) FROM app.inputs WHERE body = 'just past'")"
assert_eq "row five minutes short of the cutoff stays" 1 \
  "$(q "SELECT count(*) FROM app.inputs WHERE body = 'just young'")"
assert_eq "ticket hold kept its rows" 3 \
  "$(q "SELECT count(*) FROM app.inputs WHERE ticket_id = 'INV-2026-0007'")"
assert_eq "customer hold kept old rows" 2 \
  "$(q "SELECT count(*) FROM app.inputs WHERE customer_id = 42 AND body = 'customer'")"
assert_eq "released hold kept nothing" 0 \
  "$(q "SELECT count(*) FROM app.inputs WHERE customer_id = 43")"
assert_eq "other class's hold kept nothing here" 0 \
  "$(q "SELECT count(*) FROM app.inputs WHERE customer_id = 44")"
assert_eq "undated rows stay" 2 "$(q "SELECT count(*) FROM app.inputs WHERE received_at IS NULL")"
assert_eq "report: rows held by the ticket" 3 \
  "$(report_get '["holds"][[h["ticket"] for h in r["holds"]].index("INV-2026-0007")]["rows_held"]')"
assert_eq "report: rows held by the customer hold" 2 \
  "$(report_get '["holds"][[h["ticket"] for h in r["holds"]].index("INV-2026-0042")]["rows_held"]')"
assert_eq "report: released hold absent" False \
  "$(report_eval '"INV-2026-0043" in [h["ticket"] for h in r["holds"]]')"
assert_eq "report: policy version" 3 "$(report_get '["policy"]["version"]')"
assert_eq "report: policy sha256" "$(sha256sum "$WORK/policy.json" | cut -d' ' -f1)" \
  "$(report_get '["policy"]["sha256"]')"
assert_eq "history keeps the released hold" "added released" \
  "$(q "SELECT string_agg(event, ' ' ORDER BY event_id) FROM retention.hold_history
        WHERE ticket = 'INV-2026-0043'")"

# A second run finds nothing more to do, and chains to the first.
first=$(latest_report)
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "second run purges nothing" 0 "$(class_get inputs purged)"
assert_eq "second run chains to the first" "$(sha256sum "$first" | cut -d' ' -f1)" \
  "$(report_get '["previous_report_sha256"]')"
assert_eq "second run sequence" 2 "$(report_get '["sequence"]')"
finish
