#!/usr/bin/env bash
# Guards refuse a run with exit 3 and remove nothing: a class that would
# remove more than max_fraction of its table (the default 0.5, and a
# per-class override), a signing key readable by others or missing, a
# database clock far from the host's, and --as-of outside a dry run.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigint PRIMARY KEY, ts timestamptz);
INSERT INTO app.t SELECT i, now() - interval '100 days' FROM generate_series(1, 60) i;
INSERT INTO app.t SELECT i, now() FROM generate_series(61, 100) i;
SQL
policy() { # POLICY_EXTRA CLASS_EXTRA
  cat >"$WORK/policy.json" <<EOF2
{"name": "guards", "version": 1$1,
 "classes": [{"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts",
              "action": "purge", "retain": "90 days"$2}]}
EOF2
}
rows() { q "SELECT count(*) FROM app.t"; }

# 60 of 100 rows is above the default max_fraction of 0.5.
policy "" ""
run_job --policy "$WORK/policy.json"
assert_eq "default max_fraction: exit 3" 3 "$rc"
assert_eq "default max_fraction: refused" refused "$(report_get '["status"]')"
assert_eq "default max_fraction: guard detail" \
  "would remove 60 of 100 rows (60.0%), above max_fraction 50.0%" \
  "$(report_eval '[g["detail"] for g in r["guards"] if g["guard"] == "max_fraction"][0]')"
assert_eq "default max_fraction: nothing removed" 100 "$(rows)"
sleep 1

# A policy-wide 0.7 lets it through, a per-class 0.55 refuses again.
policy ', "max_fraction": 0.7' ', "max_fraction": 0.55'
run_job --policy "$WORK/policy.json"
assert_eq "per-class max_fraction overrides the policy's: exit 3" 3 "$rc"
assert_eq "per-class max_fraction: guard detail" \
  "would remove 60 of 100 rows (60.0%), above max_fraction 55.0%" \
  "$(report_eval '[g["detail"] for g in r["guards"] if g["guard"] == "max_fraction"][0]')"
assert_eq "per-class max_fraction: nothing removed" 100 "$(rows)"
sleep 1

# --as-of belongs to dry runs.
policy ', "max_fraction": 0.7' ""
run_job --policy "$WORK/policy.json" --as-of "2026-01-01 00:00:00+00"
assert_eq "--as-of without --dry-run: exit 3" 3 "$rc"
assert_match "--as-of without --dry-run: says why" 'guard as-of' "$(cat "$WORK/run.log")"
assert_eq "--as-of without --dry-run: nothing removed" 100 "$(rows)"

# The signing key: readable by others, or missing.
chmod 0644 "$KEY"
run_job --policy "$WORK/policy.json"
assert_eq "key mode 0644: exit 3" 3 "$rc"
assert_match "key mode 0644: names the mode" 'readable by group or others \(mode 0644\)' \
  "$(cat "$WORK/run.log")"
assert_eq "key mode 0644: nothing removed" 100 "$(rows)"
chmod 0600 "$KEY"
retention run --policy "$WORK/policy.json" --report-dir "$REPORTS" \
  --signing-key "$WORK/no-such-key.pem" 2>"$WORK/run.log"
rc=$?
assert_eq "missing key: exit 3" 3 "$rc"
assert_match "missing key: names the file" 'no-such-key.pem: cannot open signing key' \
  "$(cat "$WORK/run.log")"
assert_eq "missing key: nothing removed" 100 "$(rows)"

# The database clock an hour from the host's (the host's time() shifted by a shim).
if cc -shared -fPIC -o "$WORK/skew.so" -x c - <<'C' 2>/dev/null; then
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
time_t time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3600;
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
C
  LD_PRELOAD=$WORK/skew.so run_job --policy "$WORK/policy.json"
  assert_eq "clock skew: exit 3" 3 "$rc"
  assert_match "clock skew: says by how much" \
    'guard clock: the database clock is (359[0-9]|360[0-9]) s behind' \
    "$(cat "$WORK/run.log")"
  assert_eq "clock skew: in the report's guards" clock \
    "$(report_eval '[g["guard"] for g in r["guards"]][0]')"
  assert_eq "clock skew: nothing removed" 100 "$(rows)"
  sleep 1
  LD_PRELOAD=$WORK/skew.so run_job --policy "$WORK/policy.json" --max-clock-skew 0
  assert_eq "--max-clock-skew 0 turns the check off" 0 "$rc"
  assert_eq "and the run goes ahead" 40 "$(rows)"
else
  echo "# no C compiler: clock skew not simulated"
  run_job --policy "$WORK/policy.json"
  assert_eq "finally the run goes ahead" 0 "$rc"
fi
finish
