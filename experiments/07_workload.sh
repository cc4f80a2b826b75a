#!/usr/bin/env bash
# Experiment 7, a real workload: rome has no GPU and borrows eight.
#
# The job is the trace's pod openb-pod-4406, an 8-GPU pod (64.2 cores,
# 257 GiB) that ran 58.3 hours: the size of a distributed training job.
# rome (CPU-only nodes of the trace), paris and berlin (their shares of
# the trace's GPU nodes) run real agents at their GCP prices; rome's
# agent has an --on-reserved hook, the path a site uses to make borrowed
# capacity usable (here it records that it ran and succeeds, so the agent
# activates the reservation). Measured, per run: the time from `lrb
# reserve --wait` being called to it returning with the reservation
# Active, and the broker's own createdAt → activatedAt. Then the cost of
# borrowing for the job's 58.3 hours at the chosen provider's price,
# against owning the GPUs, under the assumptions printed with the result.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
exp_init workload "$@"

RUNS=$((SHORT ? 2 : 10))
JOB=openb-pod-4406
IFS=, read -r _ cpu_m mem_mi gpus _ _ _ _ created deleted _ < <(
  grep "^$JOB," "$TRACE_PODS")
hours=$(awk -v a="$created" -v b="$deleted" 'BEGIN {print (b - a) / 3600}')

# price REGION COLUMN: a GCP region's price from the prices file.
price() {
  awk -F, -v r="$1" -v c="$2" '$1 == "gcp" && $2 == r {print $c}' "$PRICES"
}
# Regions without a GPU price take the median of GCP's, as the demo does.
median_gpu=$(awk -F, '$1 == "gcp" && $6 != "" {print $6}' "$PRICES" |
  sort -n | awk '{v[NR] = $1}
    END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      print m}')

start_broker "$WORK/b"
i=1
for c in rome:europe-west8 paris:europe-west9 berlin:europe-west3; do
  id=${c%%:*} region=${c#*:}
  flags=()
  [[ $id == rome ]] && flags=(--cpu-only)
  "$LRB" sim snapshot --nodes "$TRACE_NODES" --pods "$TRACE_PODS" \
    --share "$i/3" --cluster "$id" --region "$region" "${flags[@]}" \
    --out "$WORK/$id.json" 2>/dev/null
  gpu=$(price "$region" 6)
  hook=()
  [[ $id == rome ]] && hook=(--on-reserved "$WORK/hook.sh")
  HOOK_LOG="$WORK/hook.log" "$LRB" agent --cluster "$id" \
    --snapshot "$WORK/$id.json" --region "$region" \
    --cpu-price "$(price "$region" 3)" --memory-price "$(price "$region" 4)" \
    --gpu-price "${gpu:-$median_gpu}" --interval 2s "${hook[@]}" \
    --state-dir "$WORK/state-$id" >"$WORK/agent-$id.log" 2>&1 &
  track $!
  i=$((i + 1))
done
cat >"$WORK/hook.sh" <<'HOOK'
#!/bin/sh
# Where a site would create the virtual node or the network route.
echo "$LRB_RESERVATION_ID $LRB_PROVIDER $LRB_GPU" >>"$HOOK_LOG"
HOOK
chmod +x "$WORK/hook.sh"
for _ in $(seq 100); do
  n=$("$LRB" capacity -o json 2>/dev/null | jq '.items | length') || n=0
  ((n == 3)) && break
  sleep 0.1
done

csv="$OUT/runs.csv"
echo "run,provider,price_per_hour,wall_ms,broker_ms,phase" >"$csv"
for run in $(seq "$RUNS"); do
  t0=$(now_ms)
  out=$("$LRB" reserve --requester rome --cpu "${cpu_m}m" --mem "${mem_mi}Mi" \
    --gpu "$gpus" --duration 1h --wait --timeout 60s -o json)
  wall=$(($(now_ms) - t0))
  jq -r --argjson run "$run" --argjson wall "$wall" '
    def t: sub("\\.[0-9]+"; "") as $s | ($s | sub("Z$"; "") + "Z" | fromdateiso8601)
      + ((capture("\\.(?<f>[0-9]+)") | ("0." + .f | tonumber)) // 0);
    . as $r | [$run, .targetClusterID,
      (.decision.rows[] | select(.clusterID == $r.targetClusterID)
       | .pricePerHour), $wall,
      (((.status.activatedAt | t) - (.createdAt | t)) * 1000 | round),
      .status.phase] | @csv' <<<"$out" | tr -d '"' >>"$csv"
  "$LRB" release "$(jq -r .id <<<"$out")" --reason "job done" >/dev/null
  tail -n 1 "$csv"
done

# Owning, all stated as assumptions except the TDP (NVIDIA's T4 sheet).
CARD_USD=2000     # assumed purchase price of one T4-class card
YEARS=3           # assumed amortisation period
WATTS=70          # NVIDIA T4 board power
PUE=1.5           # assumed data-centre overhead on power
KWH_USD=0.20      # assumed electricity price per kWh
read -r provider p_h phase < <(awk -F, 'NR == 2 {print $2, $3, $6}' "$csv")
wall_stats=$(awk -F, 'NR > 1 {print $4}' "$csv" | $PY ci)
broker_stats=$(awk -F, 'NR > 1 {print $5}' "$csv" | $PY ci)
# Per GPU-hour owned: the card over its hours, plus its power.
read -r own_h borrow own_job < <(awk -v c="$CARD_USD" -v y="$YEARS" \
  -v w="$WATTS" -v pue="$PUE" -v k="$KWH_USD" -v g="$gpus" -v p="$p_h" \
  -v h="$hours" 'BEGIN {
    own = c / (y * 8760) + w / 1000 * pue * k
    printf "%.4f %.2f %.2f\n", own, p * h, own * g * h }')
gpu_price=$(jq -r --arg p "$provider" '.items[] | select(.clusterID == $p)
  | .prices.gpuPerHour | to_entries[0].value' <(curl -fsS \
  "$BROKER_URL/api/v1/clusters"))
breakeven=$(awk -v o="$own_h" -v g="$gpu_price" 'BEGIN {printf "%.0f", 100 * o / g}')
own_year=$(awk -v o="$own_h" -v g="$gpus" 'BEGIN {printf "%.0f", o * g * 8760}')
doctor=$(doctor_line)
echo "provider $provider at \$$p_h/h; own \$$own_h per GPU-hour"
section "## 7. A real workload: rome borrows 8 GPUs for a training job" "" \
  "Command: \`experiments/07_workload.sh\`. The job is the trace's" \
  "\`$JOB\`: ${cpu_m} millicores, ${mem_mi} MiB, $gpus GPUs for" \
  "$(printf %.1f "$hours") h. rome (no GPU) asks for it $RUNS times through" \
  "\`lrb reserve --wait\`; its agent's --on-reserved hook runs and the" \
  "agent activates the reservation." "" \
  "| measure | mean ± 95 % CI (ms) |" "|---|---|" \
  "| request → Active, as the caller waits | $(jq -r '"\(.mean | round) ± \(.ci95 | round)"' <<<"$wall_stats") |" \
  "| createdAt → activatedAt, the broker's clock | $(jq -r '"\(.mean | round) ± \(.ci95 | round)"' <<<"$broker_stats") |" \
  "" "The broker chose **$provider** at **\$$p_h per hour** for the whole" \
  "request (CPU, memory and $gpus GPUs at \$$gpu_price per GPU-hour; a" \
  "region the prices file lists no GPU price for takes the median of" \
  "GCP's listed ones, as the demo does), so" \
  "borrowing for the job's $(printf %.1f "$hours") h costs **\$$borrow**." "" \
  "Owning instead — **assumptions, not measurements**: a T4-class card" \
  "bought at \$$CARD_USD (assumed), amortised over $YEARS years (assumed)," \
  "drawing $WATTS W (NVIDIA's T4 board power) at PUE $PUE and" \
  "\$$KWH_USD/kWh (both assumed); no host server, network, space or staff." \
  "That is \$$own_h per GPU-hour for every hour of the $YEARS years, used" \
  "or not: \$$own_year a year for $gpus GPUs, of which the job's" \
  "$(printf %.1f "$hours") h are \$$own_job. Per GPU-hour, owning is cheaper" \
  "than borrowing once the GPUs are busy more than **$breakeven %** of the" \
  "time ($own_h / $gpu_price); below that, borrowing is. Final phase of the" \
  "reservations: $phase; \`lrb doctor\`: $doctor."
