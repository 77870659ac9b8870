#!/usr/bin/env bash
# Command one: on a fresh machine, install what is missing, build, and start
# `vesta serve` on the embedded default. Arguments go to `vesta serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DVESTA_BUILD_TESTS=OFF -DVESTA_BUILD_BENCH=OFF
exec "${VESTA_BUILD_DIR:-build}/app/vesta" serve "$@"
