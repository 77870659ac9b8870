#!/usr/bin/env bash
# Side-by-side run of Vesta's CPU search against faiss-cpu from PyPI.
#   bench/run_faiss_compare.sh [--quick] [faiss_compare.py options]
# Creates bench/.venv from bench/requirements.txt on first use; never touches
# the system Python. Build first: scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.venv
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
fi
"$venv/bin/pip" install --quiet -r bench/requirements.txt
binary="${VESTA_BUILD_DIR:-build}/bench/vesta_flat_bench"
if [[ ! -x "$binary" ]]; then
  echo "run_faiss_compare: $binary not found; run scripts/build.sh first" >&2
  exit 1
fi
exec "$venv/bin/python" bench/faiss_compare.py --vesta-bench "$binary" "$@"
