#!/usr/bin/env bash
# Configures and builds Vesta (Release, CUDA when nvcc is found) into
# ${VESTA_BUILD_DIR:-build}. Extra arguments go to the CMake configure step,
# e.g. scripts/build.sh -DVESTA_CUDA=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${VESTA_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir"
