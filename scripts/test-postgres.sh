#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the receipts tests, on 127.0.0.1 and a free port.
#
#   scripts/test-postgres.sh start [DIR]   create + start a cluster in DIR (default: a new
#                                          temp dir); prints the database URL on stdout
#   scripts/test-postgres.sh url DIR       print the URL of the cluster in DIR
#   scripts/test-postgres.sh stop DIR      stop it and delete DIR
#
# Uses Debian's binaries (/usr/lib/postgresql/*/bin; `apt-get install postgresql`).
# initdb refuses to run as root, so as root the cluster belongs to the `postgres`
# user and every server command runs through `runuser -u postgres --`.
# Authentication is `trust`, acceptable only because the server listens on
# loopback and on a unix socket inside DIR, and lives for one test run.
set -euo pipefail

die() { echo "test-postgres: $*" >&2; exit 1; }

bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] || die "no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install -y postgresql)"
  echo "$dir"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cmd_start() {
  local dir=${1:-} bin port url
  bin=$(bindir)
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/consentry-pg.XXXXXX")
  fi
  mkdir -p "$dir"
  if [ -f "$dir/url" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    cat "$dir/url"
    return
  fi
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (installed with the postgresql package)"
    chown postgres: "$dir"
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U consentry --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  port=$(free_port)
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
    || { cat "$dir/server.log" >&2; die "the server did not start"; }
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U consentry consentry_test \
    || die "createdb failed"
  url="postgresql://consentry@127.0.0.1:$port/consentry_test"
  echo "$url" >"$dir/url"
  echo "test-postgres: cluster in $dir (stop with: $0 stop $dir)" >&2
  echo "$url"
}

cmd_url() {
  local dir=${1:?usage: $0 url DIR}
  [ -f "$dir/url" ] || die "no cluster in $dir"
  cat "$dir/url"
}

cmd_stop() {
  local dir=${1:?usage: $0 stop DIR} bin
  bin=$(bindir)
  [ -d "$dir/data" ] || die "no cluster in $dir"
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  url) shift; cmd_url "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 start [DIR] | url DIR | stop DIR" >&2; exit 2 ;;
esac
