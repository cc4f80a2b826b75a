#!/usr/bin/env bash
# Experiment 1, functional: does the broker choose what the formula says?
#
# Four clusters with different capacities, GPU models and real GCP prices
# (rome has no GPU) are advertised to a real broker; then random requests
# (cpu, memory, sometimes GPUs; from every requester; under the weighted
# 70/30 and 50/50, resource, cost and binpack policies) are reserved and a
# most of the time one held reservation is released, so that free
# capacity rises and falls. For every request an oracle written from
# DESIGN.md section 6 (experiments/lrbexp.py, Python, no shared code with
# the C++ core) keeps its own account of the holdings, ranks the
# candidates and names the winner. The result is the share of requests
# where the broker's choice (or its "no cluster fits") equals the
# oracle's: it must be 100 %.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
exp_init functional "$@"

N=$((SHORT ? 60 : 1000))
# The driver advertises once; keep the clusters Ready however long.
start_broker "$WORK/b" --stale-after 10m
$PY functional --url "$BROKER_URL" --n "$N" --seed 7 \
  --csv "$OUT/choices.csv" >"$OUT/summary.json"
doctor=$(doctor_line)
jq --arg d "$doctor" '. + {doctor: $d}' "$OUT/summary.json" \
  >"$OUT/summary.tmp" && mv "$OUT/summary.tmp" "$OUT/summary.json"
cat "$OUT/summary.json"

read -r n m pct none diff contested < <(jq -r \
  '[.requests, .matches, .match_pct, .no_candidate, .max_score_diff,
    .contested] | @tsv' "$OUT/summary.json")
by_policy=$(awk -F, 'NR > 1 {n[$3 " " $4]++; m[$3 " " $4] += $13}
  END {for (k in n) printf "| %s | %d | %d |\n", k, n[k], m[k]}' \
  "$OUT/choices.csv" | sort)
section "## 1. Functional: every choice against an independent oracle" "" \
  "Command: \`experiments/01_functional.sh\`. $n random requests over rome" \
  "(64 cores, no GPU), paris (128, 8 × A100), berlin (256, 16 × T4) and" \
  "warsaw (96, 4 × L4), most of them followed by the release of a held" \
  "reservation. CPU and memory prices are GCP's for their regions; GPU" \
  "prices are set per model for the experiment." "" \
  "| policy weights (R/C) | requests | broker = oracle |" \
  "|---|---|---|" "$by_policy" "" \
  "**$m of $n choices ($pct %) equal the oracle's**, including $none" \
  "requests where neither found a cluster that fits and $contested" \
  "where two or more candidates competed. The largest" \
  "difference between the broker's score of its choice and the oracle's" \
  "is $diff (floating-point rounding). \`lrb doctor\`: $doctor." \
  "Data: \`out/functional/choices.csv\`."
