#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `.ci/pg.sh start DIR` prints its URL, `.ci/pg.sh stop DIR`;
# `.ci/pg.sh restart DIR` restarts it in place (tests/db/test_server_restart.py, with REGISTRY_TEST_PG_DIR=DIR).
# As root the server runs as the postgres user, on a private port and socket directory, fsync off.
set -euo pipefail
action=${1:?start or stop}
dir=${2:-/tmp/registry-pg}
port=${PGPORT_TEST:-55432}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$action" in
  start)
    url="postgresql+psycopg://postgres@/postgres?host=$dir&port=$port"
    # A server already running from this folder is reused, never wiped from under its users.
    if [ -f "$dir/data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      if [ -S "$dir/.s.PGSQL.$port" ]; then echo "$url"; exit 0; fi
      as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    # As root the server runs as postgres, which must be able to enter every folder above DIR.
    as_pg test -w "$dir" || { echo "the postgres user cannot write to $dir (is a folder above it private?)" >&2; exit 1; }
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "$url"
    ;;
  restart)
    # The same server, same data and options: a fast shutdown (open transactions roll back) and a start.
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w restart >/dev/null
    ;;
  stop)
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|restart|stop [DIR]" >&2; exit 2 ;;
esac
