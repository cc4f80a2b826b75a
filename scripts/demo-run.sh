#!/usr/bin/env bash
# The demo: three clusters cut from the real Alibaba GPU trace borrow
# capacity from each other through one broker, at real GCP prices.
#
#   scripts/demo-run.sh [--short] [--lrb PATH]
#
# Rome (europe-west8, CPU only), Paris (europe-west9) and Berlin
# (europe-west3) each get a kubectl-shaped snapshot made by `lrb sim
# snapshot` from a share of the trace's nodes and the pods running at
# trace second AT; an `lrb agent` per cluster advertises it with its
# region's prices from data/pricing/regions.csv. Then the trace's next
# pods are played as `lrb reserve` requests in trace order, one
# requester after another, and each pod is released when the trace
# deletes it. The summary reads the broker's own numbers (`lrb capacity
# -o json`) and ends with `lrb doctor` on the database. Everything runs
# on 127.0.0.1 in a fresh temporary directory, removed at exit with
# every process started here. GPU prices: a region that lists none
# (europe-west8/9) takes the median of GCP's listed GPU prices, as `lrb
# sim` does.
set -euo pipefail
cd "$(dirname "$0")/.."

LRB=${LRB_BIN:-build/release/src/cli/lrb}
SHORT=0
while (($#)); do
  case $1 in
  --short) SHORT=1 ;;
  --lrb)
    LRB=$2
    shift
    ;;
  *)
    echo "usage: $0 [--short] [--lrb PATH]" >&2
    exit 2
    ;;
  esac
  shift
done
LRB=$(realpath "$LRB")

NODES=data/alibaba-gpu-2023/openb_node_list_all_node.csv
PODS=data/alibaba-gpu-2023/openb_pod_list_default.csv
PRICES=data/pricing/regions.csv
AT=5000000                   # trace second the snapshots are taken at
PLAYS=$((SHORT ? 9 : 30))    # pods played as reservation requests
PAUSE=$((SHORT ? 0 : 1))     # seconds between two requests
CLUSTERS=(rome paris berlin)
declare -A REGION=([rome]=europe-west8 [paris]=europe-west9
  [berlin]=europe-west3)

DIR=$(mktemp -d "${TMPDIR:-/tmp}/lrb-demo.XXXXXX")
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# price REGION COLUMN: the region's GCP price in that column.
price() {
  awk -F, -v r="$1" -v c="$2" '$1 == "gcp" && $2 == r {print $c}' "$PRICES"
}

# The GPU price of a region, else the median of GCP's listed ones.
gpu_price() {
  local own
  own=$(price "$1" 6)
  if [[ -n $own ]]; then
    echo "$own"
    return
  fi
  awk -F, '$1 == "gcp" && $6 != "" {print $6}' "$PRICES" | sort -n |
    awk '{v[NR] = $1}
      END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m}'
}

# Waits at most $2 seconds for the non-empty file $1.
wait_file() {
  for _ in $(seq $(($2 * 20))); do
    [[ -s $1 ]] && return 0
    sleep 0.05
  done
  return 1
}

start_broker() {
  "$LRB" broker --listen 127.0.0.1:0 --port-file "$DIR/port" \
    --db "$DIR/lrb.db" >"$DIR/broker.log" 2>&1 &
  PIDS+=($!)
  wait_file "$DIR/port" 10 || {
    echo "demo: the broker did not start:" >&2
    tail -n 20 "$DIR/broker.log" >&2
    exit 1
  }
  LRB_BROKER="http://127.0.0.1:$(tr -d '[:space:]' <"$DIR/port")"
  export LRB_BROKER
}

make_snapshots() {
  local i=1 c flags
  for c in "${CLUSTERS[@]}"; do
    flags=()
    [[ $c == rome ]] && flags=(--cpu-only)
    "$LRB" sim snapshot --nodes "$NODES" --pods "$PODS" --share "$i/3" \
      --cluster "$c" --region "${REGION[$c]}" --at "$AT" \
      --out "$DIR/$c.json" "${flags[@]}" 2>&1 | sed 's/^lrb: warning: /  /'
    i=$((i + 1))
  done
}

start_agents() {
  local c r gpu
  for c in "${CLUSTERS[@]}"; do
    r=${REGION[$c]}
    gpu=$(gpu_price "$r")
    "$LRB" agent --cluster "$c" --snapshot "$DIR/$c.json" --region "$r" \
      --label cloud=gcp --cpu-price "$(price "$r" 3)" \
      --memory-price "$(price "$r" 4)" --gpu-price "$gpu" \
      --interval 2s --on-reserved true --state-dir "$DIR/state-$c" \
      >"$DIR/agent-$c.log" 2>&1 &
    PIDS+=($!)
    printf '  %-7s %-13s cpu $%s/core-h  mem $%s/GiB-h  gpu $%s/h\n' \
      "$c" "$r" "$(price "$r" 3)" "$(price "$r" 4)" "$gpu"
  done
  for _ in $(seq 200); do
    if [[ $("$LRB" capacity -o json 2>/dev/null | jq '.items | length') == 3 ]]
    then
      return 0
    fi
    sleep 0.1
  done
  echo "demo: the agents did not register; their logs:" >&2
  tail -n 5 "$DIR"/agent-*.log >&2
  exit 1
}

MADE=0
FAILED=0
declare -A HELD_PRICE=() HELD_BY=() HELD_FOR=() ENDS=()

# release_ended T: releases the reservations whose pod ended by T.
release_ended() {
  local id
  for id in "${!ENDS[@]}"; do
    if ((ENDS[$id] <= $1)); then
      "$LRB" release "$id" --reason "pod ended in the trace" >/dev/null
      printf '  %-7s ← %-8s released %s: its pod ended in the trace\n' \
        "${HELD_FOR[$id]}" "${HELD_BY[$id]}" "$id"
      unset "ENDS[$id]" "HELD_PRICE[$id]" "HELD_BY[$id]" "HELD_FOR[$id]"
    fi
  done
}

# reserve REQUESTER CPU_MILLI MEM_MIB GPUS END: one request, one line.
reserve() {
  local who=$1 cpu=$2 mem=$3 gpus=$4 end=$5 args out rc=0
  args=(--requester "$who" --cpu "${cpu}m" --mem "${mem}Mi" --duration 1h)
  ((gpus > 0)) && args+=(--gpu "$gpus")
  out=$("$LRB" reserve "${args[@]}" -o json 2>"$DIR/reserve.err") || rc=$?
  local what
  what=$(printf 'cpu %-6s mem %-9s gpu %s' "$((cpu / 1000))" \
    "$((mem / 1024))Gi" "$gpus")
  if ((rc == 0)); then
    local id target score p
    read -r id target score p < <(jq -r '. as $r | [.id, .targetClusterID,
      (.decision.rows[] | select(.clusterID == $r.targetClusterID)
       | (.score * 10 | round / 10), (.pricePerHour // 0))] | @tsv' <<<"$out")
    MADE=$((MADE + 1))
    HELD_PRICE[$id]=$p
    HELD_BY[$id]=$target
    HELD_FOR[$id]=$who
    ENDS[$id]=$end
    printf '  %-7s → %-8s score %5.1f  $%8.4f/h   %s\n' \
      "$who" "$target" "$score" "$p" "$what"
  else
    FAILED=$((FAILED + 1))
    local why
    why=$(jq -r '.status.message // empty' <<<"$out" 2>/dev/null || true)
    [[ -n $why ]] || why=$(head -c 120 "$DIR/reserve.err")
    printf '  %-7s → %-8s %s\n' "$who" "FAILED" "$what"
    fold -s -w 66 <<<"$why" | sed 's/ *$//; s/^/              /'
  fi
}

play() {
  local i=0 cpu mem num_gpu created deleted who
  while IFS=, read -r _ cpu mem num_gpu created deleted; do
    who=${CLUSTERS[$((i % 3))]}
    release_ended "$created"
    reserve "$who" "$cpu" "$((mem > 0 ? mem : 1))" "$num_gpu" "$deleted"
    i=$((i + 1))
    sleep "$PAUSE"
  done < <(awk -F, -v at="$AT" 'NR > 1 && $9 > at && $2 <= 32000 {
      print $1 "," $2 "," $3 "," $4 "," $9 "," ($10 == "" ? 1e12 : $10)}' \
    "$PODS" | head -n "$PLAYS")
  # One request no cluster can take: 100000 GPUs from rome.
  reserve rome 8000 32768 100000 0
}

summary() {
  local c
  echo
  echo "== summary"
  printf '  reservations made %d, failed %d\n' "$MADE" "$FAILED"
  echo "  cost per hour of what is still held, by provider:"
  local total=0
  for c in "${CLUSTERS[@]}"; do
    local sum=0 id
    for id in "${!HELD_BY[@]}"; do
      [[ ${HELD_BY[$id]} == "$c" ]] &&
        sum=$(awk -v a="$sum" -v b="${HELD_PRICE[$id]}" 'BEGIN {print a + b}')
    done
    total=$(awk -v a="$total" -v b="$sum" 'BEGIN {print a + b}')
    printf '    %-7s $%9.4f/h\n' "$c" "$sum"
  done
  printf '    %-7s $%9.4f/h\n' "total" "$total"
  echo "  utilisation (reserved / allocatable, from lrb capacity; the trace"
  echo "  runs at most 56 of its pods at once on 1,523 nodes, so it is low):"
  "$LRB" capacity -o json | jq -r "$(cat <<'JQ'
def q: if . == null then 0 else tostring
  | capture("^(?<n>[0-9.e+-]+)(?<u>[a-zA-Z]*)$") as $m
  | ($m.n | tonumber) * ({"": 1, m: 0.001, Ki: 1024, Mi: 1048576,
      Gi: 1073741824, Ti: 1099511627776, k: 1e3, M: 1e6, G: 1e9}[$m.u] // 1)
  end;
def pct($r; $a): if ($a | q) > 0
  then "\((($r | q) / ($a | q) * 1000 | round) / 10)%" else "-" end;
def gpu: .gpu // .["nvidia.com/gpu"];
.items[] | "    \(.clusterID | . + "       " | .[0:7])"
  + "  cpu \(pct(.reserved.cpu; .allocatable.cpu))"
  + "  memory \(pct(.reserved.memory; .allocatable.memory))"
  + "  gpu \(pct(.reserved | gpu; .allocatable | gpu))"
JQ
)"
  echo "  lrb doctor:"
  "$LRB" doctor --db "$DIR/lrb.db" | sed 's/^/    /'
}

echo "== snapshots from the Alibaba GPU trace (second $AT)"
make_snapshots
echo "== broker and agents (prices: data/pricing/regions.csv)"
start_broker
start_agents
echo "== reservations from the trace's pods"
echo "  from      to       score (0-100) price/h     request"
play
summary
