#!/usr/bin/env bash
# The DSP number-pattern pilot, end to end, on a scratch database.
#
# Installs what is missing (Debian packages), builds retention (Release) into
# build/, starts a throwaway PostgreSQL 15 in a temporary directory (unix
# socket only, no TCP), loads the pilot's demo schema and data
# (deploy/demo/), puts two investigations on hold, runs the pilot policy as a
# dry run and then for real, checks the signed report with stock openssl and
# with `retention verify`, shows that the dry run's numbers are the real
# run's, and prints a summary. The server is always stopped and the directory
# removed on exit, however the script ends.
#
#   deploy/demo.sh              run the demo
#   KEEP=1 deploy/demo.sh       keep the directory (reports, archive, keys,
#                               logs, the stopped cluster) and print its path
#   BUILD_DIR=DIR deploy/demo.sh  build somewhere other than build-release/
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

policy=$root/policies/dsp-number-pattern-pilot.json
build=${BUILD_DIR:-build-release}
keep=${KEEP:-0}
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n== %s\n' "$*"; }
die() {
  echo "demo: $*" >&2
  exit 1
}

# --- the scratch directory and the guarantee that nothing outlives us -------
tmp=$(mktemp -d /tmp/retention-demo.XXXXXX)
chmod 0755 "$tmp" # the server runs as "postgres" when we are root
started_pg=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$started_pg" = 1 ]; then
    "$root/tests/pg.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
  fi
  if [ "$keep" = 1 ]; then
    echo
    echo "KEEP=1: kept $tmp (the server is stopped; tests/pg.sh start $tmp/pg restarts it)"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/reports" "$tmp/archive" "$tmp/logs"
mkdir -m 0700 "$tmp/keys"
reports=$tmp/reports
archive=$tmp/archive
key=$tmp/keys/audit.pem
pub=$tmp/keys/audit.pub.pem

# --- install and build ------------------------------------------------------
step "dependencies"
scripts/install-deps.sh
echo "ok"

step "build ($build, Release)"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRETENTION_FAULTS=OFF >"$tmp/logs/cmake.log" 2>&1 ||
  ! cmake --build "$build" -j"$jobs" >>"$tmp/logs/cmake.log" 2>&1; then
  cat "$tmp/logs/cmake.log" >&2
  die "build failed"
fi
bin=$(cd "$build" && pwd)/retention
[ -x "$bin" ] || die "no executable at $bin"
"$bin" --version

# --- JSON helpers: jq when present, else python3, else psql's json functions --
# report_rows FILE SECTION prints tab-separated rows:
#   classes   name action cutoff total eligible held undated purged archived status
#   holds     ticket rows_held
#   segments  class path rows sha256
#   run       mode status exit_code run_id as_of
# (DEMO_JSON_TOOL=jq|python3|psql forces one, to test the fallbacks.)
if [ -n "${DEMO_JSON_TOOL:-}" ]; then
  json_tool=$DEMO_JSON_TOOL
elif command -v jq >/dev/null 2>&1; then
  json_tool=jq
elif command -v python3 >/dev/null 2>&1; then
  json_tool=python3
else
  json_tool=psql
fi

report_rows() {
  local file=$1 section=$2
  case $json_tool in
  jq)
    case $section in
    classes) jq -r '.classes[] | [.name, .action, (.cutoff // "-"), .total, .eligible, .held,
                     .undated, .purged, .archived, .status] | map(tostring) | @tsv' "$file" ;;
    holds) jq -r '.holds[] | [.ticket, .rows_held] | map(tostring) | @tsv' "$file" ;;
    segments) jq -r '.archive_segments[] | [.class, .path, .rows, .sha256] | map(tostring)
                     | @tsv' "$file" ;;
    run) jq -r '[.mode, .status, .exit_code, .run_id, (.as_of // "-")] | map(tostring)
                | @tsv' "$file" ;;
    esac
    ;;
  python3)
    python3 - "$file" "$section" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = sys.argv[2]
def out(*v):
    print("\t".join("-" if x is None else str(x) for x in v))
if s == "classes":
    for c in r["classes"]:
        out(c["name"], c["action"], c.get("cutoff"), c["total"], c["eligible"], c["held"],
            c["undated"], c["purged"], c["archived"], c["status"])
elif s == "holds":
    for h in r["holds"]:
        out(h["ticket"], h["rows_held"])
elif s == "segments":
    for g in r["archive_segments"]:
        out(g["class"], g["path"], g["rows"], g["sha256"])
elif s == "run":
    out(r["mode"], r["status"], r["exit_code"], r["run_id"], r.get("as_of"))
PY
    ;;
  psql)
    local sql
    case $section in
    classes) sql="SELECT concat_ws(E'\t', c->>'name', c->>'action', coalesce(c->>'cutoff', '-'),
                    c->>'total', c->>'eligible', c->>'held', c->>'undated', c->>'purged',
                    c->>'archived', c->>'status')
                  FROM json_array_elements((:'rep')::json->'classes') c" ;;
    holds) sql="SELECT concat_ws(E'\t', h->>'ticket', h->>'rows_held')
                FROM json_array_elements((:'rep')::json->'holds') h" ;;
    segments) sql="SELECT concat_ws(E'\t', g->>'class', g->>'path', g->>'rows', g->>'sha256')
                   FROM json_array_elements((:'rep')::json->'archive_segments') g" ;;
    run) sql="SELECT concat_ws(E'\t', r->>'mode', r->>'status', r->>'exit_code', r->>'run_id',
                coalesce(r->>'as_of', '-')) FROM (SELECT (:'rep')::json) AS x(r)" ;;
    esac
    psql -X -q -A -t -v ON_ERROR_STOP=1 -v rep="$(cat "$file")" <<<"$sql;"
    ;;
  esac
}

show_classes() {
  local file=$1 name action cutoff total eligible held undated purged archived status
  printf '  %-24s %-8s %-27s %6s %9s %5s %8s %7s %9s  %s\n' class action cutoff total \
    eligible held undated purged archived status
  while IFS=$'\t' read -r name action cutoff total eligible held undated purged archived status; do
    printf '  %-24s %-8s %-27s %6s %9s %5s %8s %7s %9s  %s\n' "$name" "$action" "$cutoff" \
      "$total" "$eligible" "$held" "$undated" "$purged" "$archived" "$status"
  done < <(report_rows "$file" classes)
}

# --- the scratch server and the demo database -------------------------------
step "scratch PostgreSQL in $tmp/pg (unix socket only)"
# Only our own server: nothing from the caller's environment may redirect it.
unset PGHOSTADDR PGPORT PGSERVICE PGSERVICEFILE PGPASSWORD PGPASSFILE PGOPTIONS PGSSLMODE
started_pg=1
"$root/tests/pg.sh" start "$tmp/pg"
export PGHOST=$tmp/pg PGUSER=postgres PGDATABASE=dsp_demo
export RETENTION_LOG_FORMAT=${RETENTION_LOG_FORMAT:-text}

createdb dsp_demo
psql -X -q -v ON_ERROR_STOP=1 -f deploy/demo/schema.sql
psql -X -q -v ON_ERROR_STOP=1 -f deploy/demo/data.sql
count_tables() {
  psql -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -c "
    SELECT 'raw_customer_inputs', count(*) FROM dsp.raw_customer_inputs
    UNION ALL SELECT 'pilot_interaction_logs', count(*) FROM dsp.pilot_interaction_logs
    UNION ALL SELECT 'anonymised_aggregates', count(*) FROM dsp.anonymised_aggregates
    UNION ALL SELECT 'support_escalations', count(*) FROM dsp.support_escalations"
}
before=$(count_tables)
echo "loaded deploy/demo/schema.sql and data.sql into dsp_demo:"
printf '%s\n' "$before" | while IFS=$'\t' read -r t n; do printf '  dsp.%-24s %6s rows\n' "$t" "$n"; done
aggregates_before=$(psql -X -A -t -c "SELECT md5(string_agg(a::text, ',' ORDER BY id))
                                      FROM dsp.anonymised_aggregates a")

step "retention db migrate"
"$bin" db migrate

step "retention keygen"
"$bin" keygen --out "$key"

step "two investigations on hold"
"$bin" hold add --ticket INV-2026-0142 --match ticket_id=INV-2026-0142 \
  --class raw_customer_inputs --policy "$policy" --by "demo: fraud analyst" \
  --reason "Fraud investigation: inputs quoted in ticket INV-2026-0142 are evidence"
"$bin" hold add --ticket INV-2026-0157 --match customer_id=100042 --policy "$policy" \
  --by "demo: complaints team" \
  --reason "Regulator complaint by customer 100042: keep everything about them"
"$bin" hold list

# Runs the policy; the report it wrote is in $last_report, its exit status in $last_rc.
last_report=
last_rc=0
run_policy() {
  local label=$1
  shift
  local list_before
  list_before=$(find "$reports" -maxdepth 1 -name '*.json' | sort)
  last_rc=0
  "$bin" run --policy "$policy" --report-dir "$reports" --archive-dir "$archive" \
    --signing-key "$key" --progress-interval 0 "$@" 2>"$tmp/logs/$label.log" || last_rc=$?
  sed 's/^/  | /' "$tmp/logs/$label.log"
  last_report=$(comm -13 <(printf '%s\n' "$list_before") \
    <(find "$reports" -maxdepth 1 -name '*.json' | sort) | tail -n 1)
  [ -n "$last_report" ] || die "$label: no report written (exit status $last_rc)"
  if [ "$last_rc" -ne 0 ]; then
    show_classes "$last_report" || true
    die "$label: exit status $last_rc; report $last_report"
  fi
  echo "report: $last_report"
  show_classes "$last_report"
}

step "dry run (read-only snapshot, changes nothing)"
run_policy dry-run --dry-run
dry_report=$last_report
after_dry=$(count_tables)
[ "$after_dry" = "$before" ] || die "the dry run changed row counts"
echo "row counts unchanged by the dry run"
if [ -n "$(find "$archive" -type f 2>/dev/null)" ]; then
  die "the dry run wrote archive files"
fi

step "real run"
run_policy execute
real_report=$last_report

step "verify the real run's report"
echo "\$ openssl pkeyutl -verify -pubin -inkey $pub -rawin -in REPORT -sigfile REPORT.sig"
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$real_report" \
  -sigfile "$real_report.sig"
echo "\$ retention verify --public-key $pub --archive-dir $archive REPORT"
"$bin" verify --public-key "$pub" --archive-dir "$archive" "$real_report"
"$bin" verify --public-key "$pub" "$dry_report"

step "dry run and real run agree"
mismatch=0
printf '  %-24s %14s %14s %14s %10s\n' class "eligible d/r" "held d/r" "undated d/r" removed
while IFS=$'\t' read -r name _ _ _ de dh du _ _ _ && IFS=$'\t' read -r rname _ _ _ re rh ru rp ra _ <&3; do
  [ "$name" = "$rname" ] || die "class order differs between the reports"
  removed=$((rp + ra))
  mark=
  if [ "$de" != "$re" ] || [ "$dh" != "$rh" ] || [ "$du" != "$ru" ] || [ "$removed" != "$re" ]; then
    mark="  <-- MISMATCH"
    mismatch=1
  fi
  printf '  %-24s %14s %14s %14s %10s%s\n' "$name" "$de / $re" "$dh / $rh" "$du / $ru" \
    "$removed" "$mark"
done < <(report_rows "$dry_report" classes) 3< <(report_rows "$real_report" classes)
[ "$mismatch" = 0 ] || die "the dry run's numbers differ from the real run's"
echo "every class: the dry run counted exactly what the real run removed"

step "holds (rows kept past their cutoff)"
report_rows "$real_report" holds | while IFS=$'\t' read -r t n; do
  printf '  %-16s %6s rows held\n' "$t" "$n"
done

step "archive segments (SOP-17)"
seg_rows=0
seg_count=0
first=
while IFS=$'\t' read -r _ path rows sha; do
  printf '  %s  %6s rows  sha256 %s\n' "$path" "$rows" "$sha"
  seg_rows=$((seg_rows + rows))
  seg_count=$((seg_count + 1))
  first=${first:-$path}
done < <(report_rows "$real_report" segments)
if [ -n "$first" ]; then
  echo "  plain gzip CSV with a header, readable without retention (zcat):"
  { zcat "$archive/$first" || true; } | head -n 3 | cut -c 1-120 | sed 's/^/    /'
  echo "  sha256sum: $(sha256sum "$archive/$first" | cut -d ' ' -f 1)"
fi

step "the live tables afterwards"
after=$(count_tables)
paste <(printf '%s\n' "$before") <(printf '%s\n' "$after" | cut -f 2) |
  while IFS=$'\t' read -r t b a; do
    printf '  dsp.%-24s %6s -> %6s rows\n' "$t" "$b" "$a"
  done
aggregates_after=$(psql -X -A -t -c "SELECT md5(string_agg(a::text, ',' ORDER BY id))
                                     FROM dsp.anonymised_aggregates a")
[ "$aggregates_after" = "$aggregates_before" ] || die "anonymised_aggregates changed"
echo "  anonymised_aggregates: byte for byte unchanged (keep class)"
psql -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -c "
  SELECT 'INV-2026-0142 (ticket_id) rows older than 30 days still in raw_customer_inputs',
         count(*) FROM dsp.raw_customer_inputs
   WHERE ticket_id = 'INV-2026-0142' AND received_at < now() - interval '30 days'
  UNION ALL
  SELECT 'INV-2026-0157 (customer 100042) rows past cutoff still live',
         (SELECT count(*) FROM dsp.raw_customer_inputs
           WHERE customer_id = 100042 AND received_at < now() - interval '30 days')
       + (SELECT count(*) FROM dsp.pilot_interaction_logs
           WHERE customer_id = 100042 AND logged_at < now() - interval '180 days')
       + (SELECT count(*) FROM dsp.support_escalations
           WHERE customer_id = 100042 AND closed_at < now() - interval '90 days')
  UNION ALL
  SELECT 'open escalations (closed_at NULL) still live', count(*)
    FROM dsp.support_escalations WHERE closed_at IS NULL" |
  while IFS=$'\t' read -r what n; do printf '  %s: %s\n' "$what" "$n"; done

step "a second dry run finds nothing left to do"
run_policy dry-run-2 --dry-run
left=$(report_rows "$last_report" classes | awk -F'\t' '{s += $5} END {print s + 0}')
[ "$left" = 0 ] || die "the second dry run still finds $left eligible rows"

# --- summary ------------------------------------------------------------------
read -r _ _ _ run_id _ < <(report_rows "$real_report" run)
purged=$(report_rows "$real_report" classes | awk -F'\t' '{s += $8} END {print s + 0}')
archived=$(report_rows "$real_report" classes | awk -F'\t' '{s += $9} END {print s + 0}')
held=$(report_rows "$real_report" classes | awk -F'\t' '{s += $6} END {print s + 0}')
undated=$(report_rows "$real_report" classes | awk -F'\t' '{s += $7} END {print s + 0}')

step "summary"
cat <<EOF
  policy          $(basename "$policy")
  run             $run_id (execute), exit status 0
  report          $(basename "$real_report") (+ .sig), signature verified by openssl and retention verify
  purged          $purged rows
  archived        $archived rows in $seg_count segment(s) under SOP-17 ($seg_rows rows listed)
  kept by holds   $held rows (2 open investigations)
  undated, kept   $undated rows (open escalations)
  dry run         same numbers as the real run, nothing changed
  aggregates      untouched
EOF
echo
echo "demo complete; the scratch server is being stopped (json via $json_tool)"
