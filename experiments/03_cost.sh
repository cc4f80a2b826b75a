#!/usr/bin/env bash
# Experiment 3, cost: what does each policy cost on the real trace?
#
# `lrb sim` replays the Alibaba trace's pods (arrivals and departures in
# trace time, each reservation held for its pod's lifetime) through the
# broker's own scoring core and locking logic, over three clusters cut
# from the trace's 1,523 nodes, at real list prices. Two price settings:
# "eu" is the demo's (GCP europe-west8, europe-west9, europe-west3: one
# cloud, neighbouring regions) and "mixed" spreads the clusters over
# three clouds and continents (GCP us-central1, AWS eu-central-1, Azure
# japaneast). Each policy runs over the first 100 pods, then the whole
# trace, for several seeds (the seed draws the requesters and the random
# choices); savings against `random` are paired by seed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
exp_init cost "$@"

SEEDS=$((SHORT ? 3 : 10))
SIZES=(100)
((SHORT)) || SIZES+=(all)
declare -A REGIONS=(
  [eu]="gcp/europe-west8,gcp/europe-west9,gcp/europe-west3"
  [mixed]="gcp/us-central1,aws/eu-central-1,azure/japaneast")
POLICIES=("random" "resource" "weighted 0.7,0.3" "weighted 0.5,0.5" "cost")

runs="$OUT/runs.csv"
echo "regions,size,policy,seed,accepted,total_usd,mean_usd" >"$runs"
for set in eu mixed; do
  for size in "${SIZES[@]}"; do
    limit=()
    [[ $size == all ]] || limit=(--limit "$size")
    for p in "${POLICIES[@]}"; do
      read -r name weights <<<"$p"
      flags=(--policy "$name")
      [[ -n $weights ]] && flags+=(--weights "$weights")
      label=$name${weights:+ ${weights/,//}}
      for seed in $(seq "$SEEDS"); do
        "$LRB" sim --nodes "$TRACE_NODES" --pods "$TRACE_PODS" \
          --prices "$PRICES" --clusters 3 --regions "${REGIONS[$set]}" \
          "${flags[@]}" --seed "$seed" "${limit[@]}" -o json |
          jq -r --arg s "$set" --arg z "$size" --arg p "$label" \
            '[$s, $z, $p, .seed, .accepted, .totalCostUSD, .meanCostUSD]
             | @csv' | tr -d '"' >>"$runs"
      done
    done
    echo "  $set/$size done"
  done
done
table=$($PY cost "$runs" "$OUT/savings.csv")
echo "$table"

# Savings of each policy (bars with the CI), one cluster of bars per
# price setting and size.
awk -F, 'NR > 1 && $3 != "random" {
    printf "%s/%s,%s,%s,%s\n", $1, $2, $3, $11, $12}' "$OUT/savings.csv" \
  >"$OUT/plot.csv"
plot cost_savings "set title 'Saving per reservation against random (mean ± 95 % CI)'
set ylabel '% cheaper than random'; set style data histogram
set style histogram errorbars gap 2 lw 1; set style fill solid 0.6
set datafile separator ','; set key top left; set xtics rotate by -20
set yrange [*:*]
plot for [p in 'resource weighted_0.7/0.3 weighted_0.5/0.5 cost'] \\
  '< sed \"s/ /_/\" $OUT/plot.csv | grep \",'.p.',\"' \\
  using 3:4:xtic(1) title p"

section "## 3. Cost on the real trace (\`lrb sim\`)" "" \
  "Command: \`experiments/03_cost.sh\`: \`lrb sim --clusters 3 --regions" \
  "R1,R2,R3 --policy P [--weights W] --seed S [--limit 100]\` for $SEEDS" \
  "seeds. Cost is what the accepted reservations cost at the providers'" \
  "list prices for their pods' lifetimes; the saving is per reservation," \
  "paired by seed, against \`random\`. eu = GCP europe-west8/9/3 (the" \
  "demo's); mixed = GCP us-central1, AWS eu-central-1, Azure japaneast." "" \
  "| prices | pods | policy | seeds | accepted | total USD | USD per reservation | saving vs random % |" \
  "|---|---|---|---|---|---|---|---|" "$table"
figure cost_savings "Savings against random"

# The reading, from the numbers above.
saving() { # SET POLICY: the saving on the largest size run, "x ± y".
  awk -F, -v s="$1" -v p="$2" '$1 == s && $3 == p {v = sprintf("%.1f ± %.1f",
    $11, $12)} END {print v}' "$OUT/savings.csv"
}
acceptance=$(awk -F, 'NR > 1 {a = $5; n = ($2 == "all") ? 8152 : $2}
  END {printf "%.0f", 100 * a / n}' "$OUT/savings.csv")
prices() { # SET: "region cpu/mem/gpu" for each region of the set.
  local r
  for r in ${REGIONS[$1]//,/ }; do
    awk -F, -v c="${r%%/*}" -v g="${r#*/}" '$1 == c && $2 == g {
      printf "%s %s/%s/%s; ", g, $3, $4, ($6 == "" ? "GCP median" : $6)}' \
      "$PRICES"
  done
}
section "Prices per core-hour / GiB-hour / GPU-hour (USD): eu: $(prices eu)" \
  "mixed: $(prices mixed)" "" \
  "Reading: the original work expected 70/30 to save 20–30 % against" \
  "random; on real list prices it saves $(saving eu 'weighted 0.7/0.3') %" \
  "(eu) and $(saving mixed 'weighted 0.7/0.3') % (mixed) per reservation" \
  "over the largest replay. Two facts of the data explain it. First, a" \
  "policy can save at most the price spread between the candidates," \
  "and random already picks the cheaper one about half the time: GCP" \
  "prices europe-west8 and europe-west9 identically and europe-west3 about" \
  "11 % above them, so in eu there is little to save; across clouds and" \
  "continents the spread, and the saving, is larger. Second, the trace" \
  "never fills three clusters cut from its 1,523 nodes (last acceptance" \
  "$acceptance %; at most 56 of its pods run at once), so the resource" \
  "score R is nearly equal everywhere and the cost term decides alone:" \
  "70/30, 50/50 and cost then make the same choices, while resource," \
  "which ignores price, costs about what random does. A 20–30 % saving" \
  "needs candidates whose prices differ by more than that, such as spot" \
  "against on-demand capacity, which the prices file carries but the" \
  "clusters here do not advertise."
