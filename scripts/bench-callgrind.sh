#!/usr/bin/env bash
# Prints instructions per scoring decision at 10,000 clusters, counted by
# valgrind's callgrind: a figure that, unlike wall time, does not move
# with the load of a shared machine, so it can gate regressions. The
# scoring bench runs twice, with N decisions and with none; the second
# run's instructions (building the fleet, start-up) are subtracted and
# the rest divided by N.
#
# Usage: scripts/bench-callgrind.sh [DECISIONS] [CLUSTERS]
# The bench binary is $SCORING_BENCH, else the newest
# build/*/bench/scoring_bench (build it from a Release tree).
set -euo pipefail
cd "$(dirname "$0")/.."
decisions=${1:-20}
clusters=${2:-10000}
bench=${SCORING_BENCH:-}
if [ -z "$bench" ]; then
  for candidate in build/*/bench/scoring_bench; do
    if [ -x "$candidate" ] && { [ -z "$bench" ] || [ "$candidate" -nt "$bench" ]; }; then
      bench=$candidate
    fi
  done
fi
if [ -z "$bench" ] || [ ! -x "$bench" ]; then
  echo "bench-callgrind: no scoring_bench found; build the scoring_bench" \
    "target or set SCORING_BENCH" >&2
  exit 2
fi
command -v valgrind >/dev/null || {
  echo "bench-callgrind: valgrind is not installed" >&2
  exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Returns the total instruction count (Ir) of one callgrind run.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out.$1" \
    "$bench" --once "$1" "$clusters" >"$tmp/log.$1" 2>&1
  awk '/^(summary|totals):/ { print $2; exit }' "$tmp/out.$1"
}

with=$(instructions "$decisions")
without=$(instructions 0)
per=$(((with - without) / decisions))
echo "bench: $bench"
echo "clusters=$clusters decisions=$decisions total_ir=$with baseline_ir=$without"
echo "instructions_per_decision=$per"
echo "instructions_per_cluster=$((per / clusters))"
