#!/usr/bin/env bash
# Experiment 6, failures: kill things and count what survives.
#
# Three faults, each repeated, each on real processes:
#   agent-kill    paris's agent, advertising every 200 ms, is SIGKILLed
#                 (mid-publish most of the time) and restarted; recovery
#                 is the time from the kill until the broker stores a
#                 newer generation from the new agent;
#   broker-kill   the broker is SIGKILLed while a burst of concurrent
#                 reservations is in flight, then restarted on the same
#                 database; recovery is the time from the restart until
#                 /readyz answers 200; every reservation whose 201 the
#                 clients received must be there, in its acknowledged
#                 phase, with the capacity it holds;
#   agent-stop    rome's agent is SIGSTOPped until the broker marks rome
#                 Stale (--stale-after 3s), then SIGCONTed; recovery is
#                 the time from SIGCONT until rome is Ready again.
# After each: reservations acknowledged before the fault are all still
# there (lost = 0), and `lrb doctor` finds the invariant intact.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
exp_init failures "$@"

REPS=$((SHORT ? 1 : 5))
BURST=$((SHORT ? 200 : 400))
csv="$OUT/faults.csv"
echo "fault,rep,recovery_ms,detect_ms,acknowledged,lost,doctor" >"$csv"

# poll_ms SECONDS COMMAND...: runs COMMAND every 20 ms until it succeeds;
# prints the milliseconds it took, or returns 1 after SECONDS.
poll_ms() {
  local limit=$1 start
  shift
  start=$(now_ms)
  while ! "$@" >/dev/null 2>&1; do
    (($(now_ms) - start < limit * 1000)) || return 1
    sleep 0.02
  done
  echo $(($(now_ms) - start))
}

cluster_field() {
  curl -fsS "$BROKER_URL/api/v1/clusters/$1" | jq -r ".$2"
}
generation_above() {
  (($(cluster_field "$1" generation) > $2))
}
state_is() {
  [[ $(cluster_field "$1" state) == "$2" ]]
}
ready() {
  curl -fsS "$BROKER_URL/readyz"
}
both_ready() {
  state_is rome Ready && state_is paris Ready
}

# holding_ids: the ids and phases of every reservation, sorted.
holding_ids() {
  curl -fsS "$BROKER_URL/api/v1/reservations?limit=10000" |
    jq -r '.items[] | "\(.id) \(.status.phase)"' | sort
}

# more_than N: whether the broker holds more than N reservations.
more_than() {
  (($(curl -fsS "$BROKER_URL/api/v1/reservations?limit=10000" | jq '.items | length') > $1))
}

# lost BEFORE_FILE: prints how many reservations of BEFORE ("id phase"
# lines) are gone, or held capacity (Reserved, Active) and no longer do.
# Reserved becoming Active is progress (the agent activates what it is
# granted), not a loss; a Failed reservation must merely still exist.
lost() {
  holding_ids >"$WORK/after"
  awk 'NR == FNR {now[$1] = $2; next}
    !($1 in now) || (($2 == "Reserved" || $2 == "Active") &&
      now[$1] != "Reserved" && now[$1] != "Active") {print $1}' \
    "$WORK/after" "$1" >"$WORK/lost"
  cat "$WORK/lost" >>"$OUT/lost.txt"
  wc -l <"$WORK/lost"
}

snapshot() {
  "$LRB" sim snapshot --nodes "$TRACE_NODES" --pods "$TRACE_PODS" \
    --share "$2" --cluster "$1" --region "$3" "${@:4}" \
    --out "$WORK/$1.json" 2>/dev/null
}

# agent ID REGION: starts ID's agent; sets AGENT_PID.
agent() {
  "$LRB" agent --cluster "$1" --snapshot "$WORK/$1.json" --region "$2" \
    --cpu-price 0.0319 --memory-price 0.00428 --gpu-price 0.3675 \
    --interval 200ms --state-dir "$WORK/state-$1" \
    >>"$WORK/agent-$1.log" 2>&1 &
  AGENT_PID=$!
  track "$AGENT_PID"
}

reserve_some() {
  for _ in $(seq "$1"); do
    "$LRB" reserve --requester "$2" --cpu 1 --mem 1Gi --duration 1h \
      -o name >/dev/null
  done
}

snapshot rome 1/3 europe-west8 --cpu-only
snapshot paris 2/3 europe-west9
start_broker "$WORK/b" --stale-after 3s --sweep-interval 100ms
agent rome europe-west8
ROME_PID=$AGENT_PID
agent paris europe-west9
poll_ms 10 state_is rome Ready >/dev/null
poll_ms 10 state_is paris Ready >/dev/null
reserve_some 5 rome
reserve_some 5 paris

# 1. Kill paris's agent while it publishes, restart it.
for rep in $(seq "$REPS"); do
  holding_ids >"$WORK/before"
  gen=$(cluster_field paris generation)
  sleep "0.$((RANDOM % 9 + 1))"
  kill -KILL "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null || true
  killed=$(now_ms)
  agent paris europe-west9
  gen=$(cluster_field paris generation)
  poll_ms 20 generation_above paris "$gen" >/dev/null
  ms=$(($(now_ms) - killed))
  echo "agent-kill,$rep,$ms,,$(wc -l <"$WORK/before"),$(lost "$WORK/before"),$(doctor_line)" >>"$csv"
  tail -n 1 "$csv"
done

# 2. SIGKILL the broker in a burst of reservations, restart it.
for rep in $(seq "$REPS"); do
  holding_ids >"$WORK/before"
  $PY burst --url "$BROKER_URL" --n "$BURST" --alternate \
    --clusters rome,paris --csv "$WORK/burst.csv" >/dev/null 2>&1 &
  burst=$!
  track "$burst"
  # Kill as soon as the burst commits: mid-burst for sure.
  poll_ms 30 more_than $(($(wc -l <"$WORK/before") + 5)) \
    >/dev/null || true
  kill -KILL "$BROKER_PID"
  wait "$BROKER_PID" 2>/dev/null || true
  wait "$burst" 2>/dev/null || true
  # Acknowledged: a 201 naming a reservation reached the client. Those
  # and the ones before.
  awk -F, 'NR > 1 && $2 == 201 && $4 != "" {print $4 " " $3}' \
    "$WORK/burst.csv" >>"$WORK/before"
  sort -o "$WORK/before" "$WORK/before"
  acked=$(awk -F, 'NR > 1 && $2 == 201 && $3 == "Reserved"' \
    "$WORK/burst.csv" | wc -l)
  restarted=$(now_ms)
  LISTEN_PORT=${BROKER_URL##*:}
  start_broker "$WORK/b" --stale-after 3s --sweep-interval 100ms
  poll_ms 20 ready >/dev/null
  ms=$(($(now_ms) - restarted))
  # The agents find the broker again on their next attempt; wait for
  # both, so that the next burst meets Ready clusters.
  back=$(poll_ms 30 both_ready) || back=timeout
  echo "broker-kill,$rep,$ms,$back,$acked of $BURST,$(lost "$WORK/before"),$(doctor_line)" >>"$csv"
  tail -n 1 "$csv"
done

# 3. SIGSTOP rome's agent until rome is Stale, then SIGCONT.
for rep in $(seq "$REPS"); do
  poll_ms 20 state_is rome Ready >/dev/null
  holding_ids >"$WORK/before"
  kill -STOP "$ROME_PID"
  detect=$(poll_ms 20 state_is rome Stale)
  kill -CONT "$ROME_PID"
  ms=$(poll_ms 20 state_is rome Ready)
  echo "agent-stop,$rep,$ms,$detect,$(wc -l <"$WORK/before"),$(lost "$WORK/before"),$(doctor_line)" >>"$csv"
  tail -n 1 "$csv"
done

table=$(awk -F, 'NR > 1 {printf "| %s | %s | %s | %s | %s | %s | %s |\n",
  $1, $2, $3, ($4 == "" ? "-" : $4), $5, $6, $7}' "$csv")
section "## 6. Failures" "" \
  "Command: \`experiments/06_failures.sh\`. A broker (--stale-after 3s)," \
  "agents for rome (CPU only) and paris from trace snapshots advertising" \
  "every 200 ms, and standing reservations both ways. Recovery: agent-kill" \
  "= SIGKILL until the broker stores the restarted agent's next" \
  "advertisement; broker-kill = restart until /readyz is 200 (the burst" \
  "of $BURST concurrent reservations was cut by the SIGKILL as soon as a" \
  "few of it were committed);" \
  "agent-stop = SIGCONT until rome is Ready again (detect = SIGSTOP until" \
  "the broker marked it Stale; for broker-kill, detect = restart until" \
  "both agents had advertised again). Acknowledged = reservations" \
  "existing before the fault plus every 201 the clients received (the" \
  "column counts the burst's Reserved ones); lost = those no" \
  "longer there or no longer holding capacity (Reserved → Active is" \
  "progress: the agents activate what they are granted)." "" \
  "| fault | run | recovery ms | detect / agents back ms | acknowledged | lost | lrb doctor |" \
  "|---|---|---|---|---|---|---|" "$table" "" \
  "Reading: $(awk -F, 'NR > 1 {l += $6} END {print l + 0}' "$csv")" \
  "acknowledged reservations were lost over $(($(wc -l <"$csv") - 1))" \
  "faults, and \`lrb doctor\` found the invariant broken after" \
  "$(awk -F, 'NR > 1 && $7 != "ok"' "$csv" | wc -l) of them. A" \
  "reservation is acknowledged only after its commit with" \
  "synchronous=FULL, so a SIGKILL can cut requests in flight (their" \
  "clients see a reset and may retry with an idempotency key) but not" \
  "undo one answered 201. A killed agent comes back with a generation" \
  "above the stored one (its state directory), so the broker accepts" \
  "it at once; a stopped agent is marked Stale after --stale-after (3 s" \
  "here; detect ≈ 3 s plus the 100 ms sweep) and Ready on its first" \
  "advertisement after SIGCONT, with its reservations untouched."
