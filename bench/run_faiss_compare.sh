#!/usr/bin/env bash
# Side-by-side run of Vesta's CPU flat search against faiss-cpu from PyPI.
#
#   bench/run_faiss_compare.sh [--quick] [faiss_compare.py options]
#   e.g. bench/run_faiss_compare.sh --quick --json-out /tmp/faiss_compare.json
#
# Creates bench/.venv (python3 -m venv) and installs the pinned
# bench/requirements.txt into it the first time, and again whenever that file
# changes; never touches the system Python. Needs the C++ bench binary at
# ${VESTA_BUILD_DIR:-build}/bench/vesta_flat_bench: build it with scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${VESTA_BUILD_DIR:-build}/bench/vesta_flat_bench"
if [[ ! -x "$binary" ]]; then
  echo "run_faiss_compare: $binary not found; run scripts/build.sh first" \
       "(or set VESTA_BUILD_DIR to the build dir that has it)" >&2
  exit 1
fi

venv=bench/.venv
if [[ ! -x "$venv/bin/python" ]]; then
  echo "run_faiss_compare: creating $venv" >&2
  if ! python3 -m venv "$venv"; then
    rm -rf "$venv"
    echo "run_faiss_compare: 'python3 -m venv' failed; on Debian/Ubuntu:" \
         "apt-get install python3-venv" >&2
    exit 1
  fi
fi

# Reinstall only when requirements.txt differs from what was installed last
# (a stamp inside the venv), so that repeated runs need no network.
stamp="$venv/.requirements.installed"
if ! cmp -s bench/requirements.txt "$stamp"; then
  echo "run_faiss_compare: installing bench/requirements.txt into $venv" >&2
  # Wheels only: faiss-cpu and numpy must never be compiled from source here.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --only-binary=:all: -r bench/requirements.txt
  cp bench/requirements.txt "$stamp"
fi

exec "$venv/bin/python" bench/faiss_compare.py --vesta-bench "$binary" "$@"
