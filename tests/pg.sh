#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL 15 cluster in a directory of its own,
# listening only on a unix socket inside that directory (no TCP at all).
#
#   tests/pg.sh start DIR   initdb (if needed) and start; prints the PGHOST line
#   tests/pg.sh stop DIR    fast shutdown; the directory is left for the caller
#
# postgres refuses to run as root, so as root the cluster runs as the
# "postgres" system user (created when missing) and DIR is handed to it.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent postgres
    chown postgres "$dir"
    chmod 0755 "$dir"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "'$PGBIN/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >'$dir/initdb.log' 2>&1"
  fi
  as_owner "'$PGBIN/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 \
    -o \"-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off \
    -c max_connections=60 -c log_min_messages=warning\" start >/dev/null"
  echo "PGHOST=$dir"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "'$PGBIN/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null" || true
  fi
  ;;
*)
  echo "usage: pg.sh start|stop DIR" >&2
  exit 2
  ;;
esac
