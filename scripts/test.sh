#!/usr/bin/env bash
# Command two: install what the tests need, build, and run every test suite.
#   1. the Release build (CUDA code compiled when nvcc is found) and all its
#      tests, GPU tests skipping with a reason when no device exists;
#   2. a ThreadSanitizer build of the concurrent code (core and index suites).
# Set VESTA_SKIP_TSAN=1 to skip step 2 locally.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

scripts/install-deps.sh --test

echo "== build (Release) =="
scripts/build.sh -DVESTA_BUILD_TESTS=ON -DVESTA_BUILD_BENCH=ON
build_dir="${VESTA_BUILD_DIR:-build}"
"$build_dir/app/vesta" --version

echo "== tests (Release) =="
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" | tee "$build_dir/ctest-release.log"

if [[ "${VESTA_SKIP_TSAN:-0}" != "1" ]]; then
  echo "== tests (ThreadSanitizer: core, index) =="
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVESTA_CUDA=OFF \
    -DVESTA_SANITIZE=thread -DVESTA_BUILD_BENCH=OFF
  cmake --build build-tsan --target core_tests index_tests
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L '^(core|index)$' \
    | tee build-tsan/ctest-tsan.log
fi

echo "== summary =="
grep -h "tests passed" "$build_dir/ctest-release.log" build-tsan/ctest-tsan.log 2>/dev/null || true
