#!/usr/bin/env bash
# clang-format (check only) and clang-tidy over our C++ sources.
#   scripts/lint.sh            check every tracked source
#   scripts/lint.sh --fix      reformat in place (clang-format only)
# clang-tidy reads ${VESTA_BUILD_DIR:-build}/compile_commands.json, so build first.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t sources < <(git ls-files -co --exclude-standard -- '*.h' '*.cpp' '*.cuh' '*.cu')

if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${sources[@]}"
  exit 0
fi

echo "lint: clang-format on ${#sources[@]} files"
clang-format --dry-run -Werror "${sources[@]}"

build_dir="${VESTA_BUILD_DIR:-build}"
if [[ ! -f "$build_dir/compile_commands.json" ]]; then
  echo "lint: no $build_dir/compile_commands.json; run scripts/build.sh first" >&2
  exit 1
fi
mapfile -t tidy_sources < <(printf '%s\n' "${sources[@]}" | grep -E '\.cpp$')
echo "lint: clang-tidy on ${#tidy_sources[@]} files"
log="$(mktemp)"
status=0
printf '%s\n' "${tidy_sources[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build_dir" --quiet --extra-arg=-Wno-unknown-warning-option >"$log" 2>&1 || status=$?
grep -v -E '^[0-9]+ warnings? generated|^Suppressed [0-9]+ warnings' "$log" || true
rm -f "$log"
if [[ $status -ne 0 ]]; then
  echo "lint: clang-tidy found problems (see above)" >&2
  exit 1
fi
echo "lint: ok"
