#!/usr/bin/env bash
# Builds lrb. Usage: scripts/build.sh [release|asan|tsan|werror] — the
# release build (static SQLite, yaml-cpp, libstdc++) goes to build/release.
set -euo pipefail
cd "$(dirname "$0")/.."

kind="${1:-release}"
jobs="$(nproc)"
case "$kind" in
release)
  flags=(-DCMAKE_BUILD_TYPE=Release -DLRB_STATIC_DEPS=ON -DLRB_WERROR=ON) ;;
asan)
  flags=(-DCMAKE_BUILD_TYPE=Debug -DLRB_SANITIZE=ON -DLRB_WERROR=ON
    -DLRB_BENCH=OFF) ;;
tsan)
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRB_TSAN=ON -DLRB_BENCH=OFF) ;;
*)
  echo "lrb: error: unknown build kind '$kind': use release, asan or tsan" >&2
  exit 2 ;;
esac

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/lrb-ccache}"
# Paths relative to the checkout, so that another clone hits the cache.
export CCACHE_BASEDIR="$PWD"
cmake -S . -B "build/$kind" -G "Unix Makefiles" "${flags[@]}" >/dev/null
cmake --build "build/$kind" -j "$jobs"
