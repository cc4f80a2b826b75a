#!/usr/bin/env bash
# Runs the seven experiments and writes RESULTS.md from their sections.
#
#   experiments/run-all.sh [--short] [--out DIR] [--lrb PATH]
#
# The full run writes data to experiments/out/ (not committed), plots to
# experiments/figures/ and the report to experiments/RESULTS.md (both
# committed). The short run, which the test suite uses so that the
# experiments cannot rot, writes everything, plots and report included,
# under --out (default experiments/out/short) and leaves the committed
# files alone. Each experiment runs even if an earlier one failed; the
# exit status says whether all succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=0
OUT=""
LRB=${LRB_BIN:-build/release/src/cli/lrb}
while (($#)); do
  case $1 in
  --short) SHORT=1 ;;
  --out) OUT=$2 && shift ;;
  --lrb) LRB=$2 && shift ;;
  *)
    echo "usage: $0 [--short] [--out DIR] [--lrb PATH]" >&2
    exit 2
    ;;
  esac
  shift
done
LRB=$(realpath "$LRB")
if ((SHORT)); then
  OUT=${OUT:-experiments/out/short}
  FIGURES="$OUT/figures"
  RESULTS="$OUT/RESULTS.md"
  mode=(--short)
else
  OUT=${OUT:-experiments/out}
  FIGURES=experiments/figures
  RESULTS=experiments/RESULTS.md
  mode=()
fi
mkdir -p "$OUT" "$FIGURES"
OUT=$(realpath "$OUT")
FIGURES=$(realpath "$FIGURES")
EXP_RESULTS_DIR=$(realpath "$(dirname "$RESULTS")")
export EXP_RESULTS_DIR

EXPERIMENTS=(01_functional 02_latency 03_cost 04_scalability 05_concurrency
  06_failures 07_workload)
NAMES=(functional latency cost scalability concurrency failures workload)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
failed=()
declare -A SECONDS_OF=()
for i in "${!EXPERIMENTS[@]}"; do
  e=${EXPERIMENTS[$i]}
  t0=$(date +%s)
  if ! bash "experiments/$e.sh" "${mode[@]}" --out "$OUT" \
    --figures "$FIGURES" --lrb "$LRB"; then
    failed+=("$e")
    echo "run-all: $e failed" >&2
  fi
  SECONDS_OF[$e]=$(($(date +%s) - t0))
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The report: the machine, the commands, then each experiment's section.
{
  echo "# lrb experiments: results"
  echo
  if ((SHORT)); then
    echo "**Short run** (the test suite's smoke run; figures are not"
    echo "meaningful at this size)."
  else
    echo "Written by \`experiments/run-all.sh\` from a real full run on the"
    echo "machine below; every number in this file comes from that run."
  fi
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| date | $started |"
  echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available |"
  echo "| memory | $(free -g | awk '/^Mem:/ {print $2 " GiB"}') |"
  echo "| kernel | $(uname -sr) |"
  echo "| lrb | $("$LRB" version 2>/dev/null | head -1 | tr -s ' ') |"
  echo "| load average (1, 5, 15 min) | before $load_before, after $load_after |"
  echo
  echo "The machine was shared: other builds and test runs were going on"
  echo "at the same time (see the load averages), so absolute timings are"
  echo "pessimistic and noisy; counts, choices and costs are not affected."
  echo
  echo "Commands (from the project root):"
  echo
  echo '```'
  echo "scripts/build.sh release"
  echo "experiments/run-all.sh${mode[*]:+ ${mode[*]}}"
  for e in "${EXPERIMENTS[@]}"; do
    echo "# or one at a time: experiments/$e.sh${mode[*]:+ ${mode[*]}}   (${SECONDS_OF[$e]} s)"
  done
  echo '```'
  for n in "${NAMES[@]}"; do
    echo
    if [[ -s $OUT/$n/section.md ]]; then
      cat "$OUT/$n/section.md"
    else
      echo "## $n: did not complete (see its output)"
    fi
  done
  if ((${#failed[@]})); then
    echo
    echo "**Failed in this run:** ${failed[*]}."
  fi
} >"$RESULTS"
echo "run-all: wrote $RESULTS"
((${#failed[@]} == 0))
