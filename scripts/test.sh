#!/usr/bin/env bash
# Command two: install what the tests need, build, and run every test suite.
#   0. a throwaway PostgreSQL cluster (scripts/pg-test-cluster.sh, 127.0.0.1
#      only, a free port, stopped and removed on exit) for the tests that need
#      one; they read its URL from VESTA_TEST_POSTGRES_URL, and its directory
#      from VESTA_TEST_POSTGRES_DIR (the test that restarts it); and the graph
#      test peer, FalkorDB from its pinned PyPI wheel
#      (scripts/graph-test-peer.sh, a free port, stopped and removed on exit),
#      whose Bolt URL the Bolt client's tests read from VESTA_TEST_BOLT_URL
#      (and the official neo4j driver's python from VESTA_TEST_GRAPH_PYTHON);
#   1. the Release build (CUDA code compiled when nvcc is found) and all its
#      tests, GPU tests skipping with a reason when no device exists;
#   2. the compatibility suite: the official qdrant-client (pinned, in
#      tests/compat/.venv) against a real `vesta serve`; the Python client
#      (clients/python, with its LightRAG storage, pinned test requirements
#      in clients/python/.venv) against a real `vesta serve`;
#      then clang-format and clang-tidy (scripts/lint.sh);
#   3. an ASan + UBSan build and a ThreadSanitizer build (CPU only), each
#      running every suite.
# Locally, VESTA_SKIP_SANITIZERS=1 skips step 3 and VESTA_SKIP_LINT=1 the lint.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

scripts/install-deps.sh --test

echo "== PostgreSQL for the tests =="
pg_dir="$(mktemp -d /tmp/vesta-test-pg-XXXXXX)"
pg_port="${VESTA_TEST_POSTGRES_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
graph_dir="$(mktemp -d /tmp/vesta-test-graph-XXXXXX)"
stop_peers() {
  scripts/graph-test-peer.sh stop "$graph_dir" || true
  rm -rf "$graph_dir"
  scripts/pg-test-cluster.sh stop "$pg_dir" || true
  rm -rf "$pg_dir"
}
trap stop_peers EXIT
VESTA_TEST_POSTGRES_URL="$(scripts/pg-test-cluster.sh start "$pg_dir" "$pg_port")"
export VESTA_TEST_POSTGRES_URL
export VESTA_TEST_POSTGRES_DIR="$pg_dir"
echo "PostgreSQL test cluster: $VESTA_TEST_POSTGRES_URL"

echo "== the graph test peer (FalkorDB over Bolt) =="
bolt_port="${VESTA_TEST_BOLT_PORT:-$(scripts/graph-test-peer.sh free-port)}"
VESTA_TEST_BOLT_URL="$(scripts/graph-test-peer.sh start "$graph_dir" "$bolt_port")"
export VESTA_TEST_BOLT_URL
VESTA_TEST_GRAPH_PYTHON="$(scripts/graph-test-peer.sh python)"
export VESTA_TEST_GRAPH_PYTHON
echo "graph test peer: $VESTA_TEST_BOLT_URL"

echo "== build (Release) =="
scripts/build.sh -DVESTA_BUILD_TESTS=ON -DVESTA_BUILD_BENCH=ON
build_dir="${VESTA_BUILD_DIR:-build}"
"$build_dir/app/vesta" --version

echo "== tests (Release) =="
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" | tee "$build_dir/ctest-release.log"

echo "== compatibility: the official qdrant-client against vesta serve =="
venv=tests/compat/.venv
if [[ ! -x "$venv/bin/python" ]]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
VESTA_BINARY="$build_dir/app/vesta" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/compat | tee "$build_dir/pytest-compat.log"

echo "== Python client: vesta-client and its LightRAG storage against vesta serve =="
client_venv=clients/python/.venv
if [[ ! -x "$client_venv/bin/python" ]]; then python3 -m venv "$client_venv"; fi
"$client_venv/bin/pip" install --quiet --disable-pip-version-check \
  -r clients/python/requirements-test.txt
"$client_venv/bin/pip" install --quiet --disable-pip-version-check ./clients/python
VESTA_BINARY="$build_dir/app/vesta" "$client_venv/bin/python" -m pytest -q -p no:cacheprovider \
  clients/python/tests | tee "$build_dir/pytest-client.log"

if [[ "${VESTA_SKIP_LINT:-0}" != "1" ]]; then
  echo "== lint =="
  VESTA_BUILD_DIR="$build_dir" scripts/lint.sh
fi

logs=("$build_dir/ctest-release.log")
if [[ "${VESTA_SKIP_SANITIZERS:-0}" != "1" ]]; then
  for sanitizer in address thread; do
    dir="build-$sanitizer"
    echo "== tests ($sanitizer sanitizer) =="
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVESTA_CUDA=OFF \
      -DVESTA_SANITIZE="$sanitizer" -DVESTA_BUILD_BENCH=OFF
    cmake --build "$dir"
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1" \
      LSAN_OPTIONS="suppressions=$PWD/tests/lsan-suppressions.txt" \
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      ctest --test-dir "$dir" --output-on-failure -j "$jobs" | tee "$dir/ctest.log"
    logs+=("$dir/ctest.log")
  done
fi

echo "== summary =="
for log in "${logs[@]}"; do
  printf '%-28s %s\n' "$(dirname "$log"):" "$(grep -h "tests passed" "$log")"
done
printf '%-28s %s\n' "qdrant-client compat:" "$(tail -n 1 "$build_dir/pytest-compat.log")"
printf '%-28s %s\n' "python client:" "$(tail -n 1 "$build_dir/pytest-client.log")"
