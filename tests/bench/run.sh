#!/usr/bin/env bash
# Speed at scale (issue 6): builds a Release binary into build-bench/, starts
# a scratch PostgreSQL of its own, generates data with a fixed seed, and
# prints one table of ratios, each measured against a baseline in the same
# run on an identical copy of the data (the machine is shared: only ratios
# from one run are comparable). Not part of tests/run.sh.
#
#   tests/bench/run.sh                 BENCH_SCALE=0.5 (about 13 min on 2 cores)
#   BENCH_SCALE=1 tests/bench/run.sh   the issue's sizes (10M/5M, 3M, 2M)
#
# Cases:
#   1  backlog: N of 2N rows past the cutoff, 1% held; `retention run` against
#      one bare DELETE ... WHERE ts < cutoff AND NOT EXISTS (held)
#   1b nightly: one day of 31 (~3%) past the cutoff, timestamp indexed; same
#   2  archive of M rows: `retention run` against \copy (SELECT ...) | gzip -1
#      followed by a bare DELETE
#   3  24 monthly partitions, 12 expired: `retention run` against deleting the
#      same rows in batches of 10000 keys
#   4  peak RSS of `retention run`, 1x against 10x rows (case 1's run is 10x)
#   5  the longest transaction of the job during case 1 (pg_stat_activity
#      sampled every 50 ms)
#   6  p99 latency of a pgbench insert workload on another table while a
#      copy of case 1 runs, against the same workload alone
#   7  4 classes of equal size: wall time of `retention run --jobs 1` against
#      `--jobs 4` on identical copies of the tables
#
#   BENCH_ONLY=7 tests/bench/run.sh    case 7 alone
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
SCALE=${BENCH_SCALE:-0.5}
SEED=0.42
jobs=$(nproc 2>/dev/null || echo 2)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

rows() { python3 -c "import sys; print(max(1000, int(float(sys.argv[1]) * float(sys.argv[2]))))" \
  "$1" "$SCALE"; }
N=$(rows 5000000)      # case 1: N old of 2N
S=$(rows 3000000)      # case 1b: table size
M=$(rows 2000000)      # case 2: archived rows (of 2M)
P=$(rows 2400000)      # case 3: rows over 24 partitions

echo "== build (Release) in build-bench/"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRETENTION_FAULTS=OFF >/dev/null
cmake --build build-bench -j"$jobs" >build-bench/build.log 2>&1 || { cat build-bench/build.log; exit 1; }
BIN=$root/build-bench/retention

tmp=$(mktemp -d /tmp/retention-bench.XXXXXX)
chmod 0755 "$tmp"
sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  tests/pg.sh stop "$tmp/pg" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
echo "== scratch PostgreSQL in $tmp/pg"
tests/pg.sh start "$tmp/pg" >/dev/null
export PGHOST="$tmp/pg" PGUSER=postgres PGDATABASE=bench
unset PGPASSWORD PGSERVICE PGPORT
createdb bench
mkdir -p "$tmp/reports" "$tmp/archive"
"$BIN" db migrate >/dev/null 2>&1
"$BIN" keygen --out "$tmp/key.pem" >/dev/null

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
sql() { psql -X -q -v ON_ERROR_STOP=1 >/dev/null; }
now() { date +%s.%N; }
ratio() { python3 -c "import sys; a,b=map(float,sys.argv[1:3]); print('%.2f' % (a/b if b else 0))" "$@"; }
rate() { python3 -c "import sys; n,s=map(float,sys.argv[1:3]); print('%.0f' % (n/s if s else 0))" "$@"; }

# One hold on customer 0 keeps 1% of the rows (customer_id = id % 100).
"$BIN" hold add --ticket BENCH-1 --match customer_id=0 --reason benchmark >/dev/null
HELD="NOT EXISTS (SELECT 1 FROM retention.holds h WHERE h.released_at IS NULL
  AND h.match_column = 'customer_id' AND h.match_value = t.customer_id::text
  AND (h.class_name IS NULL OR h.class_name = 'c'))"

# The baselines compare with a literal cutoff, as the job's statements do:
# "ts < now() - interval '30 days'" would recompute the interval arithmetic
# for every row and slow the baseline down (2 s against 0.9 s for 2M rows).
cutoff() { echo "'$(q "SELECT $1")'::timestamptz"; }

# A policy of one class c on table $1; archive or purge; retain $3.
policy() {
  cat >"$tmp/policy.json" <<EOF
{"name": "bench", "version": 1, "timezone": "UTC", "max_fraction": 0.9,
 "classes": [{"name": "c", "table": "$1", "key": "id", "timestamp_column": "ts",
   "action": "$2", "retain": "$3", "hold_keys": ["customer_id"]}]}
EOF
}

# Runs the job under /usr/bin/time, with any extra options given; sets job_secs, job_rows
# (summed over the classes), job_rss_kb.
job() {
  local t0 t1
  t0=$(now)
  /usr/bin/time -v -o "$tmp/time.txt" "$BIN" run --policy "$tmp/policy.json" \
    --report-dir "$tmp/reports" --archive-dir "$tmp/archive" --signing-key "$tmp/key.pem" \
    --progress-interval 0 "$@" 2>"$tmp/job.log" || { tail -n 20 "$tmp/job.log"; exit 1; }
  t1=$(now)
  job_secs=$(python3 -c "print($t1 - $t0)")
  job_rss_kb=$(awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}' "$tmp/time.txt")
  job_rows=$(python3 -c 'import json,sys,glob,os
f=max(glob.glob(sys.argv[1]+"/*.json"), key=os.path.getmtime)
print(sum(c["purged"]+c["archived"] for c in json.load(open(f))["classes"]))' "$tmp/reports")
}

# Times SQL given on stdin (psql, autocommit); sets sql_secs.
timed_sql() {
  local t0 t1
  t0=$(now)
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null
  t1=$(now)
  sql_secs=$(python3 -c "print($t1 - $t0)")
}

# Same rows, same physical order, same indexes: table $2 becomes a copy of $1.
copy_table() {
  sql <<SQL
CREATE TABLE $2 (LIKE $1 INCLUDING ALL);
INSERT INTO $2 SELECT * FROM $1 ORDER BY id;
VACUUM ANALYZE $2;
SQL
}

# Warms both tables' heaps into the cache so neither side pays the first read.
warm() { for t in "$@"; do q "SELECT count(*) FROM $t" >/dev/null; done; }

results=()
add() { results+=("$(printf '| %-3s | %-62s | %12s | %12s | %8s | %-10s |' "$@")"); }

# Cases 1 to 6 (not indented: BENCH_ONLY=7 skips them).
if [ "${BENCH_ONLY:-}" != 7 ]; then
# --- case 1: backlog -------------------------------------------------------
echo "== case 1: backlog, $N of $((2 * N)) rows past the cutoff, 1% held"
sql <<SQL
SELECT setseed($SEED);
CREATE TABLE b1 (id bigint PRIMARY KEY, ts timestamptz, customer_id bigint, body text);
INSERT INTO b1 SELECT i, now() - interval '60 days' + (i::float8 / $((2 * N))) * interval '60 days',
  i % 100, md5(random()::text) FROM generate_series(1, $((2 * N))) i;
VACUUM ANALYZE b1;
SQL
copy_table b1 b1_bare
copy_table b1 b1_pg
warm b1 b1_bare
cut=$(cutoff "now() - interval '30 days'")
timed_sql <<SQL
DELETE FROM b1_bare t WHERE t.ts < $cut AND $HELD;
SQL
bare_rows=$(q "SELECT $((2 * N)) - count(*) FROM b1_bare")
bare_rate=$(rate "$bare_rows" "$sql_secs")
policy public.b1 purge "30 days"
# Case 5: the job's transactions, sampled while it runs.
(
  while true; do
    psql -X -A -t -c "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)
      FROM pg_stat_activity WHERE application_name = 'retention' AND xact_start IS NOT NULL" \
      2>/dev/null
    sleep 0.05
  done >"$tmp/xact.txt"
) &
sampler=$!
job
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
c1_secs=$job_secs
c1_rss=$job_rss_kb
job_rate=$(rate "$job_rows" "$job_secs")
add 1 "backlog: job rows/s / bare DELETE rows/s ($job_rows rows)" "$job_rate" "$bare_rate" \
  "$(ratio "$job_rate" "$bare_rate")" ">= 0.9"
longest=$(sort -g "$tmp/xact.txt" | tail -n 1)

# --- case 1b: nightly ------------------------------------------------------
echo "== case 1b: nightly, one day of 31 past the cutoff ($S rows, ts indexed)"
sql <<SQL
SELECT setseed($SEED);
CREATE TABLE b2 (id bigint PRIMARY KEY, ts timestamptz, customer_id bigint, body text);
INSERT INTO b2 SELECT i, now() - interval '31 days' + (i::float8 / $S) * interval '31 days',
  i % 100, md5(random()::text) FROM generate_series(1, $S) i;
CREATE INDEX ON b2 (ts);
VACUUM ANALYZE b2;
SQL
copy_table b2 b2_bare
warm b2 b2_bare
cut=$(cutoff "now() - interval '30 days'")
timed_sql <<SQL
DELETE FROM b2_bare t WHERE t.ts < $cut AND $HELD;
SQL
bare_rows=$(q "SELECT $S - count(*) FROM b2_bare")
bare_rate=$(rate "$bare_rows" "$sql_secs")
policy public.b2 purge "30 days"
job
job_rate=$(rate "$job_rows" "$job_secs")
add 1b "nightly 1/31: job rows/s / bare DELETE rows/s ($job_rows rows)" "$job_rate" "$bare_rate" \
  "$(ratio "$job_rate" "$bare_rate")" ">= 0.9"

# --- case 2: archive -------------------------------------------------------
echo "== case 2: archive of $M rows (of $((2 * M)))"
sql <<SQL
SELECT setseed($SEED);
CREATE TABLE b3 (id bigint PRIMARY KEY, ts timestamptz, customer_id bigint, body text);
INSERT INTO b3 SELECT i, now() - interval '180 days' + (i::float8 / $((2 * M))) * interval '180 days',
  i % 100, md5(random()::text) FROM generate_series(1, $((2 * M))) i;
VACUUM ANALYZE b3;
SQL
copy_table b3 b3_bare
warm b3 b3_bare
cut=$(cutoff "now() - interval '90 days'")
t0=$(now)
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT * FROM b3_bare t WHERE t.ts < $cut AND $HELD) TO STDOUT CSV HEADER" \
  | gzip -1 >"$tmp/bare.csv.gz"
sync -f "$tmp/bare.csv.gz"
psql -X -q -v ON_ERROR_STOP=1 \
  -c "DELETE FROM b3_bare t WHERE t.ts < $cut AND $HELD" >/dev/null
t1=$(now)
bare_rows=$(q "SELECT $((2 * M)) - count(*) FROM b3_bare")
bare_rate=$(rate "$bare_rows" "$(python3 -c "print($t1 - $t0)")")
policy public.b3 archive "90 days"
job
job_rate=$(rate "$job_rows" "$job_secs")
add 2 "archive: job rows/s / \\copy|gzip -1 + DELETE rows/s ($job_rows rows)" "$job_rate" \
  "$bare_rate" "$(ratio "$job_rate" "$bare_rate")" ">= 1.0"

# --- case 3: partitions ----------------------------------------------------
echo "== case 3: 24 monthly partitions, 12 expired ($P rows)"
{
  echo "CREATE TABLE b4 (id bigint, ts timestamptz NOT NULL, customer_id bigint, body text,
        PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);"
  echo "CREATE TABLE b4_bare (LIKE b4 INCLUDING ALL) PARTITION BY RANGE (ts);"
  for t in b4 b4_bare; do
    for m in $(seq 0 23); do
      echo "CREATE TABLE ${t}_m$m PARTITION OF $t FOR VALUES FROM
        (date_trunc('month', now()) - interval '$((24 - m)) months')
        TO (date_trunc('month', now()) - interval '$((23 - m)) months');"
    done
    echo "CREATE TABLE ${t}_now PARTITION OF $t FOR VALUES FROM (date_trunc('month', now()))
          TO (date_trunc('month', now()) + interval '1 month');"
  done
  # Customer 0 is held: the 12 expired partitions hold none of its rows
  # (otherwise no partition could be dropped whole); the young ones do.
  echo "SELECT setseed($SEED);"
  echo "INSERT INTO b4 SELECT i, date_trunc('month', now()) - interval '24 months'
        + (i::float8 / $P) * (interval '24 months'),
        CASE WHEN i <= $((P / 2)) THEN 1 + i % 99 ELSE i % 100 END, md5(random()::text)
        FROM generate_series(1, $P) i;"
  echo "INSERT INTO b4_bare SELECT * FROM b4 ORDER BY id;"
  echo "VACUUM ANALYZE b4; VACUUM ANALYZE b4_bare;"
} | sql
warm b4 b4_bare
cut=$(cutoff "date_trunc('month', now()) - interval '12 months'")
timed_sql <<SQL
DO \$\$
DECLARE n bigint;
BEGIN
  LOOP
    DELETE FROM b4_bare t WHERE (t.id, t.ts) IN (SELECT id, ts FROM b4_bare x
      WHERE x.ts < $cut LIMIT 10000);
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
    COMMIT;
  END LOOP;
END \$\$;
SQL
bare_rows=$(q "SELECT $P - count(*) FROM b4_bare")
bare_rate=$(rate "$bare_rows" "$sql_secs")
# The policy's cutoff is a whole number of months back from today; the
# expired partitions end at the start of this month 12 months ago.
policy public.b4 purge "12 months"
job
job_rate=$(rate "$job_rows" "$job_secs")
add 3 "partitions: job rows/s / batched DELETE rows/s ($job_rows rows)" "$job_rate" "$bare_rate" \
  "$(ratio "$job_rate" "$bare_rate")" ">= 50"

# --- case 4: memory --------------------------------------------------------
N10=$((N / 10))
echo "== case 4: peak RSS, $N10 of $((2 * N10)) rows against case 1's $N of $((2 * N))"
sql <<SQL
SELECT setseed($SEED);
CREATE TABLE b5 (id bigint PRIMARY KEY, ts timestamptz, customer_id bigint, body text);
INSERT INTO b5 SELECT i, now() - interval '60 days' + (i::float8 / $((2 * N10))) * interval '60 days',
  i % 100, md5(random()::text) FROM generate_series(1, $((2 * N10))) i;
VACUUM ANALYZE b5;
SQL
policy public.b5 purge "30 days"
job
add 4 "peak RSS KiB: 10x rows / 1x rows" "$c1_rss" "$job_rss_kb" \
  "$(ratio "$c1_rss" "$job_rss_kb")" "<= 1.10"
add 5 "longest job transaction in case 1, s (sampled every 50 ms)" "$longest" "-" "-" "< 2 s"

# --- case 6: concurrent inserts --------------------------------------------
dur=$(python3 -c "import math; print(max(5, math.ceil($c1_secs)))")
echo "== case 6: pgbench inserts for ${dur} s, alone and during a copy of case 1"
sql <<SQL
CREATE TABLE ins (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), v int);
SQL
echo "INSERT INTO ins (v) VALUES (1);" >"$tmp/ins.sql"
bench_p99() {
  rm -f "$tmp"/pgbench_log.*
  (cd "$tmp" && "$PGBIN/pgbench" -n -c 2 -j 1 -T "$dur" -f ins.sql -l \
    --log-prefix=pgbench_log bench >"$tmp/pgbench.out" 2>&1)
  cat "$tmp"/pgbench_log.* | awk '{print $3}' | sort -n \
    | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.2f\n", a[i]/1000}'
}
p99_alone=$(bench_p99)
policy public.b1_pg purge "30 days"
bench_p99 >"$tmp/p99.txt" &
pgb=$!
sleep 0.5
job
wait "$pgb"
p99_busy=$(cat "$tmp/p99.txt")
add 6 "pgbench insert p99 ms: during case 1 / alone" "$p99_busy" "$p99_alone" \
  "$(ratio "$p99_busy" "$p99_alone")" "report"
fi

# --- case 7: --jobs --------------------------------------------------------
J=$(rows 1000000)
echo "== case 7: 4 classes of $J rows each, half past the cutoff: --jobs 1 against --jobs 4"
{
  echo "SELECT setseed($SEED);"
  for c in a b c d; do
    echo "CREATE TABLE j1_$c (id bigint PRIMARY KEY, ts timestamptz, customer_id bigint,
          body text);"
    echo "INSERT INTO j1_$c SELECT i, now() - interval '60 days'
          + (i::float8 / $J) * interval '60 days', i % 100, md5(random()::text)
          FROM generate_series(1, $J) i;"
    echo "CREATE TABLE j4_$c (LIKE j1_$c INCLUDING ALL);"
    echo "INSERT INTO j4_$c SELECT * FROM j1_$c ORDER BY id;"
    echo "VACUUM ANALYZE j1_$c; VACUUM ANALYZE j4_$c;"
  done
} | sql
# Four purge classes on tables $1_a to $1_d.
policy4() {
  python3 - "$1" >"$tmp/policy.json" <<'PY'
import json, sys
print(json.dumps({"name": "bench-jobs", "version": 1, "timezone": "UTC", "max_fraction": 0.9,
  "classes": [{"name": c, "table": "public.%s_%s" % (sys.argv[1], c), "key": "id",
               "timestamp_column": "ts", "action": "purge", "retain": "30 days",
               "hold_keys": ["customer_id"]} for c in "abcd"]}))
PY
}
warm j1_a j1_b j1_c j1_d j4_a j4_b j4_c j4_d
policy4 j1
job --jobs 1
j1_secs=$job_secs
j1_rows=$job_rows
policy4 j4
job --jobs 4
add 7 "--jobs 4 against --jobs 1, wall s ($j1_rows, $job_rows rows)" \
  "$(printf '%.1f' "$job_secs")" "$(printf '%.1f' "$j1_secs")" "$(ratio "$j1_secs" "$job_secs")" \
  "report"

echo
echo "BENCH_SCALE=$SCALE, $(nproc) cores, PostgreSQL $(q 'SHOW server_version'), fsync off"
printf '| %-3s | %-62s | %12s | %12s | %8s | %-10s |\n' case measure job baseline ratio target
printf '|%s|%s|%s|%s|%s|%s|\n' ----- "$(printf -- '-%.0s' {1..64})" -------------- \
  -------------- ---------- ------------
printf '%s\n' "${results[@]}"
