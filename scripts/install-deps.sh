#!/usr/bin/env bash
# Installs, from Debian's packages, what Vesta needs to build (and, with --test,
# to run its tests and benchmarks: PostgreSQL's server binaries too, for the
# throwaway cluster of scripts/pg-test-cluster.sh). Installs only what is
# missing, so a second run is a no-op that needs no network.
#
#   scripts/install-deps.sh          build dependencies
#   scripts/install-deps.sh --test   build + test dependencies
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  nlohmann-json3-dev libboost-dev libssl-dev zlib1g-dev libdeflate-dev
  libpqxx-dev
)
test_packages=(
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-venv
  postgresql
)

if [[ "${1:-}" == "--test" ]]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
