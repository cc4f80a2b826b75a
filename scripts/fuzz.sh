#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang (ASan+UBSan, build
# dir build/fuzz or $LRB_FUZZ_BUILD_DIR) and runs each one for a while on
# a copy of its seed corpus, so that what a run discovers never rewrites
# the corpus in the repository. Fails when a harness crashes, leaks,
# times out or aborts; the input that did it is kept under
# <build>/artifacts/ and the harness's output is shown.
#
# Usage: scripts/fuzz.sh [--seconds N] [NAME...]
#   N     seconds per harness (default 10)
#   NAME  harnesses to run, e.g. quantity http (default: every
#         fuzz/*_fuzz.cpp but http, see below)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
names=()
while (($# > 0)); do
  case "$1" in
  --seconds)
    seconds=${2:?--seconds needs a number}
    shift 2 ;;
  --seconds=*)
    seconds=${1#--seconds=}
    shift ;;
  -h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
  -*)
    echo "lrb: error: fuzz.sh: unknown option '$1'" >&2
    exit 2 ;;
  *)
    names+=("$1")
    shift ;;
  esac
done
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
  echo "lrb: error: fuzz.sh: --seconds must be a whole number above 0," \
    "not '$seconds'" >&2
  exit 2
fi
# TODO(#6): the http harness runs only when named. Its runs stall now
# and then (one connection unanswered for 30 s after a few hundred
# inputs) although the input replayed alone is answered at once, and a
# check that fails by chance must not gate the test command.
if ((${#names[@]} == 0)); then
  for source in fuzz/*_fuzz.cpp; do
    name=${source##*/}
    [[ $name == http_fuzz.cpp ]] || names+=("${name%_fuzz.cpp}")
  done
fi
for name in "${names[@]}"; do
  if [[ ! -f fuzz/${name}_fuzz.cpp ]]; then
    echo "lrb: error: fuzz.sh: no harness fuzz/${name}_fuzz.cpp" >&2
    exit 2
  fi
done

build=${LRB_FUZZ_BUILD_DIR:-build/fuzz}
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/lrb-ccache}"
export CCACHE_BASEDIR="$PWD"
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G "Unix Makefiles" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRB_FUZZ=ON -DLRB_TESTS=OFF \
  -DLRB_BENCH=OFF >/dev/null
targets=()
for name in "${names[@]}"; do
  targets+=("${name}_fuzz")
done
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/lrb-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts"
failed=()
for name in "${names[@]}"; do
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [[ -d fuzz/corpus/$name ]]; then
    cp -R "fuzz/corpus/$name/." "$corpus/"
  fi
  log="$work/$name.log"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or
  # an allocation bomb; exit 1 on both, as on a crash.
  if "$build/fuzz/${name}_fuzz" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name-" "$corpus" >"$log" 2>&1; then
    echo "fuzz $name: ok, $(grep -E '^#[0-9]+' "$log" | tail -n 1)"
  else
    echo "fuzz $name: FAILED; its output:" >&2
    tail -n 60 "$log" >&2
    failed+=("$name")
  fi
done
if ((${#failed[@]} > 0)); then
  echo "lrb: error: fuzz.sh: ${failed[*]} failed; inputs in" \
    "$build/artifacts/" >&2
  exit 1
fi
