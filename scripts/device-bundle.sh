#!/usr/bin/env bash
# Packs what bench/run_gpu_checks.sh needs into .devrun/ (ignored by git), for
# a machine with an NVIDIA GPU that has the CUDA driver and toolkit but not
# this machine's other libraries: the binaries from ${VESTA_BUILD_DIR:-build}
# (app/vesta, tests/index_tests, tests/kernels_tests, bench/vesta_gpu_bench)
# and the shared libraries they load, except the C library's own, the CUDA
# driver and cuBLAS, which must come from that machine. Then, there:
#   VESTA_BIN=.devrun bash bench/run_gpu_checks.sh --parts tests,sanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
build="${VESTA_BUILD_DIR:-build}"
out=.devrun
rm -rf "$out"
mkdir -p "$out/app" "$out/tests" "$out/bench" "$out/lib"
for binary in app/vesta tests/index_tests tests/kernels_tests bench/vesta_gpu_bench; do
  [[ -x "$build/$binary" ]] || { echo "device-bundle: $build/$binary is not built" >&2; exit 1; }
  cp "$build/$binary" "$out/$binary"
done
ldd "$out"/app/vesta "$out"/tests/* "$out"/bench/* | awk '/=> \// {print $3}' | sort -u |
  grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libcublas[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
du -sh "$out" | awk '{print "device-bundle: " $1 " in .devrun/ (the device tool carries at most 64 MiB)"}'
