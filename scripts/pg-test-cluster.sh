#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from Debian's binaries
# (/usr/lib/postgresql/<version>/bin; PG_BIN overrides), in a directory of its
# own, listening on 127.0.0.1 only, trust authentication for the user `vesta`.
#
#   scripts/pg-test-cluster.sh start DIR PORT   prints the URL on stdout:
#                                               postgresql://vesta@127.0.0.1:PORT/vesta
#   scripts/pg-test-cluster.sh stop DIR [MODE]  stops it (DIR is left for the caller)
#   scripts/pg-test-cluster.sh restart DIR [MODE] [DOWN_S]
#                                               stops it, waits DOWN_S seconds
#                                               (default 0), starts it again on
#                                               the same port, prints the URL
#
# MODE is pg_ctl's shutdown mode: fast (the default: sessions are ended, a
# checkpoint is written) or immediate (every server process is killed at once,
# as in a crash; the next start runs crash recovery). `start` on a cluster
# that is already running only prints its URL, so a test that restarts the
# shared cluster can always end with it.
#
# initdb refuses to run as root, so as root (CI) the cluster runs as the
# unprivileged user vesta-pg, created when missing; DIR is handed to it, so
# its parent directories must be traversable (a mktemp -d directory is).
# For tests only: anyone on the machine who reaches the port is trusted.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT | stop DIR [fast|immediate]" \
    "| restart DIR [fast|immediate] [DOWN_S]" >&2
  exit 2
}

pg_bin="${PG_BIN:-}"
if [[ -z "$pg_bin" ]]; then
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
fi
if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" ]]; then
  echo "pg-test-cluster: no PostgreSQL binaries in /usr/lib/postgresql/*/bin" \
    "(scripts/install-deps.sh --test installs them)" >&2
  exit 1
fi

run_as=()
if [[ $(id -u) -eq 0 ]]; then
  if ! id vesta-pg >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin vesta-pg
  fi
  run_as=(runuser -u vesta-pg --)
fi

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || usage

running() {
  "${run_as[@]}" "$pg_bin/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

start_cluster() {
  local dir="$1" port="$2"
  if ((${#run_as[@]})); then chown vesta-pg "$dir"; fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    "${run_as[@]}" "$pg_bin/initdb" -D "$dir/data" -U vesta --auth=trust --encoding=UTF8 \
      --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if ! running "$dir"; then
    # The socket goes into DIR too: /var/run/postgresql is not ours.
    "${run_as[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" \
      start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
  fi
  if ! "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U vesta -d postgres -tAq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'vesta'" | grep -q 1; then
    "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U vesta -d postgres -q -c "CREATE DATABASE vesta"
  fi
  echo "postgresql://vesta@127.0.0.1:$port/vesta"
}

stop_cluster() {
  local dir="$1" mode="$2"
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    "${run_as[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null
  fi
}

shutdown_mode() {
  case "${1:-fast}" in
    fast | immediate) echo "${1:-fast}" ;;
    *) usage ;;
  esac
}

case "$cmd" in
  start)
    port="${3:-}"
    [[ "$port" =~ ^[0-9]+$ ]] || usage
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    start_cluster "$dir" "$port"
    ;;
  stop)
    mode="$(shutdown_mode "${3:-}")"
    dir="$(cd "$dir" && pwd)"
    stop_cluster "$dir" "$mode"
    ;;
  restart)
    mode="$(shutdown_mode "${3:-}")"
    down_s="${4:-0}"
    [[ "$down_s" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
    dir="$(cd "$dir" && pwd)"
    # The fourth line of postmaster.pid is the port the server listens on.
    port="$(sed -n 4p "$dir/data/postmaster.pid" 2>/dev/null || true)"
    [[ "$port" =~ ^[0-9]+$ ]] ||
      { echo "pg-test-cluster: no cluster running in $dir" >&2; exit 1; }
    stop_cluster "$dir" "$mode"
    sleep "$down_s"
    start_cluster "$dir" "$port"
    ;;
  *)
    usage
    ;;
esac
