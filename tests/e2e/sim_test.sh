#!/usr/bin/env bash
# End-to-end: `lrb sim` on the carried Alibaba GPU trace and prices.
#
# The full default trace (8,152 pods over 1,523 nodes) must replay in
# seconds and give an acceptance rate in (0, 1]; -o json must parse with
# the documented fields and agree with itself (accepted + rejected =
# requests, the clusters' served counts sum to accepted); the same seed
# must give the same JSON; -o csv must carry its stable header. Bad
# flags and a bad CSV must fail with exit 2 and a message naming the
# place. `lrb sim snapshot` must write a List that `lrb inventory` reads
# with the same totals as the trace's nodes of that share.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

e2e_init
DATA="$LRB_SOURCE_DIR/data"
NODES="$DATA/alibaba-gpu-2023/openb_node_list_all_node.csv"
PODS="$DATA/alibaba-gpu-2023/openb_pod_list_default.csv"
PRICES="$DATA/pricing/regions.csv"
SIM=("$LRB_BIN" sim --nodes "$NODES" --pods "$PODS" --prices "$PRICES")

# The full trace, timed.
start=$(now_ms)
if "${SIM[@]}" --clusters 3 --seed 1 -o json >"$E2E_DIR/full.json" \
  2>"$E2E_DIR/full.err"; then
  pass "full trace replays"
else
  fail "full trace replays" "$(head -c 400 "$E2E_DIR/full.err")"
fi
elapsed=$(($(now_ms) - start))
if ((elapsed < 60000)); then
  pass "full trace in ${elapsed} ms"
else
  fail "full trace within a minute" "${elapsed} ms"
fi

if jq -e '.requests == 8152 and .acceptanceRate > 0 and
          .acceptanceRate <= 1' "$E2E_DIR/full.json" >/dev/null; then
  pass "8152 requests, acceptance in (0, 1]"
else
  fail "8152 requests, acceptance in (0, 1]" \
    "$(jq -c '{requests, acceptanceRate}' "$E2E_DIR/full.json" 2>&1)"
fi

if jq -e '(.accepted + .rejected == .requests) and
          ([.clusters[].served] | add) == .accepted and
          ([.clusters[].requested] | add) == .requests and
          (.clusters | length) == 3 and
          ([.clusters[].nodes] | add) == 1523 and
          .totalCostUSD > 0 and .gpuFragmentation >= 0 and
          .gpuFragmentation <= 1 and
          all(.clusters[].utilization[]; . >= 0 and . <= 1)' \
  "$E2E_DIR/full.json" >/dev/null; then
  pass "json totals agree with the per-cluster rows"
else
  fail "json totals agree" "$(jq -c 'del(.clusters)' "$E2E_DIR/full.json")"
fi

# The default regions are the first three GCP rows of the prices file.
regions=$(jq -r '[.clusters[].region] | join(",")' "$E2E_DIR/full.json")
expected=$(awk -F, '$1 == "gcp" {print $2}' "$PRICES" | head -3 | paste -sd,)
expect_eq "default regions are the first GCP rows" "$expected" "$regions"

# Determinism: the same seed gives the same JSON.
"${SIM[@]}" --clusters 3 --seed 1 -o json --limit 2000 >"$E2E_DIR/a.json"
"${SIM[@]}" --clusters 3 --seed 1 -o json --limit 2000 >"$E2E_DIR/b.json"
if cmp -s "$E2E_DIR/a.json" "$E2E_DIR/b.json"; then
  pass "same seed, identical json"
else
  fail "same seed, identical json" "the two runs differ"
fi
expect_eq "--limit replays that many pods" 2000 \
  "$(jq .requests "$E2E_DIR/a.json")"

# CSV: the stable header and one row.
"${SIM[@]}" --clusters 4 --policy cost --limit 1000 -o csv \
  --regions gcp/europe-west8,gcp/europe-west9,gcp/europe-west3,aws/us-east-1 \
  >"$E2E_DIR/out.csv"
expect_eq "csv header" \
  "policy,seed,clusters,requests,accepted,rejected,acceptance_rate,total_cost_usd,mean_cost_usd,gpu_fragmentation" \
  "$(head -1 "$E2E_DIR/out.csv")"
expect_match "csv row" '^cost,1,4,1000,[0-9]+,[0-9]+,' \
  "$(sed -n 2p "$E2E_DIR/out.csv")"

# A split file names the clusters.
{
  echo "node,cluster"
  awk -F, 'NR > 1 {print $1 "," (NR % 2 ? "rome" : "paris")}' "$NODES"
} >"$E2E_DIR/split.csv"
"${SIM[@]}" --split "$E2E_DIR/split.csv" --limit 500 \
  --regions gcp/europe-west8,gcp/europe-west9 -o json >"$E2E_DIR/split.json"
expect_eq "split clusters" "paris,rome" \
  "$(jq -r '[.clusters[].cluster] | sort | join(",")' "$E2E_DIR/split.json")"

# Bad input: exit 2 and a message naming the place.
printf 'sn,cpu_milli,memory_mib,gpu,model\nn0,32000,lots,0,\n' \
  >"$E2E_DIR/bad.csv"
set +e
"$LRB_BIN" sim --nodes "$E2E_DIR/bad.csv" --pods "$PODS" --prices "$PRICES" \
  --clusters 2 2>"$E2E_DIR/bad.err" >/dev/null
rc=$?
set -e
expect_eq "bad node csv exits 2" 2 "$rc"
expect_match "bad node csv names line and column" 'bad.csv:2: column 3' \
  "$(cat "$E2E_DIR/bad.err")"
set +e
"${SIM[@]}" --clusters 1 >/dev/null 2>"$E2E_DIR/one.err"
rc=$?
set -e
expect_eq "one cluster exits 2" 2 "$rc"

# Snapshot of share 2/3 at t=0 read back by the inventory.
"$LRB_BIN" sim snapshot --nodes "$NODES" --pods "$PODS" --share 2/3 \
  --cluster paris --region europe-west9 --at 5000000 \
  --out "$E2E_DIR/paris.json" 2>/dev/null
want_cpu=$(awk -F, 'NR > 1 && (NR - 2) % 3 == 1 {s += $2} END {print s}' \
  "$NODES")
want_gpu=$(awk -F, 'NR > 1 && (NR - 2) % 3 == 1 {s += $4} END {print s}' \
  "$NODES")
"$LRB_BIN" inventory --snapshot "$E2E_DIR/paris.json" -o json \
  >"$E2E_DIR/inv.json"
got_cpu=$(jq -r "$E2E_JQ_DEFS"' [.. | objects | .allocatable? // empty
  | amount("cpu")] | max' "$E2E_DIR/inv.json")
got_gpu=$(jq -r "$E2E_JQ_DEFS"' [.. | objects | .allocatable? // empty
  | amount("gpu")] | max' "$E2E_DIR/inv.json")
expect_eq "snapshot cpu = the share's nodes" "$want_cpu" "$got_cpu"
expect_eq "snapshot gpus = the share's nodes" "$want_gpu" "$got_gpu"
pods_in=$(jq '[.items[] | select(.kind == "Pod")] | length' \
  "$E2E_DIR/paris.json")
if ((pods_in > 0)); then
  pass "snapshot holds $pods_in running pods"
else
  fail "snapshot holds running pods" "none"
fi

echo "$E2E_PASSED passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
