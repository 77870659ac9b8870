#!/usr/bin/env bash
# Graph writes through Vesta's graph API (POST /graph/{ws}/upsert, wait=
# delivered) against the official neo4j driver writing the same entities one
# transaction each, into the same graph test peer (FalkorDB over Bolt,
# scripts/graph-test-peer.sh), in one run. See bench/graph_bench.py.
#   bench/run_graph_bench.sh [--entities N] [--dim D] [--batch B] [--wait delivered|durable]
#                            [--graph-statement-bytes N (default 3000)]
# The vesta binary: $VESTA_BINARY (default build/app/vesta). The peer and its
# virtual environment (tests/graph/.venv: the pinned driver) are the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."
peer_dir="$(mktemp -d /tmp/vesta-graph-bench-peer-XXXXXX)"
stop_peer() {
  scripts/graph-test-peer.sh stop "$peer_dir" || true
  rm -rf "$peer_dir"
}
trap stop_peer EXIT
url="$(scripts/graph-test-peer.sh start "$peer_dir" "$(scripts/graph-test-peer.sh free-port)")"
python="$(scripts/graph-test-peer.sh python)"
"$python" bench/graph_bench.py --vesta "${VESTA_BINARY:-build/app/vesta}" --bolt "$url" "$@"
