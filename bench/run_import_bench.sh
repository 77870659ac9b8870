#!/usr/bin/env bash
# Bulk import rate of `vesta serve` (durable, FileStore and optionally
# PostgreSQL) against milvus-lite's insert rate on the same points, and query
# p99 during an import against p99 without one. See bench/import_bench.py.
#   bench/run_import_bench.sh [--points N] [--dim D] [--postgres URL]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.venv-import
if [[ ! -x "$venv/bin/python" ]]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements-import.txt
exec "$venv/bin/python" bench/import_bench.py --vesta "${VESTA_BINARY:-build/app/vesta}" "$@"
