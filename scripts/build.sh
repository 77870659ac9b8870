#!/usr/bin/env bash
# Configures and builds Vesta (Release, CUDA when nvcc is found) into
# ${VESTA_BUILD_DIR:-build}. Extra arguments go to the CMake configure step,
# e.g. scripts/build.sh -DVESTA_CUDA=OFF
# The build's output is kept in <build>/build.log, and ptxas's resource report
# for the CUDA kernels it compiled (registers, shared memory, spills) in
# <build>/ptxas-report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${VESTA_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" 2>&1 | tee "$build_dir/build.log"
if grep -q "ptxas info" "$build_dir/build.log"; then
  grep -E "ptxas info *: (Compiling entry|Used)|spill" "$build_dir/build.log" \
    > "$build_dir/ptxas-report.txt"
  echo "ptxas resource report: $build_dir/ptxas-report.txt" \
    "($(grep -c "Compiling entry" "$build_dir/ptxas-report.txt") kernel builds)"
fi
