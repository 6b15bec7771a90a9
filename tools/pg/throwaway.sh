#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and benchmarks: initdb in a temporary folder, run as the 'postgres' user,
# listening on 127.0.0.1 at a free port only (no unix socket outside the folder), trust authentication, fsync on.
#
#   tools/pg/throwaway.sh start [DIR]   prints the connection string (postgres://postgres@127.0.0.1:PORT/inceptionnet)
#   tools/pg/throwaway.sh stop  [DIR]   stops the cluster and deletes the folder
#   tools/pg/throwaway.sh pause|resume [DIR]   stops / starts the server keeping the data (outage tests use pg_ctl too)
#
# DIR defaults to ${TMPDIR:-/tmp}/inceptionnet-pg. Needs Debian's postgresql package (apt-get install -y postgresql).
set -euo pipefail
action=${1:-}
dir=${2:-${TMPDIR:-/tmp}/inceptionnet-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "error: PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install -y postgresql)" >&2; exit 2; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
  start)
    [ ! -e "$dir/data/postmaster.pid" ] || { echo "error: a cluster is already running in $dir (stop it first)" >&2; exit 2; }
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres:postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
      || shuf -i 20000-60000 -n 1)
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 2; }
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 2; }
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres inceptionnet
    echo "$port" >"$dir/port"
    echo "postgres://postgres@127.0.0.1:$port/inceptionnet"
    ;;
  stop)
    if [ -e "$dir/data/postmaster.pid" ]; then as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true; fi
    rm -rf "$dir"
    ;;
  pause)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    port=$(cat "$dir/port")
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c max_connections=200" start >/dev/null
    ;;
  *)
    echo "usage: $0 start|stop|pause|resume [DIR]" >&2; exit 2 ;;
esac
