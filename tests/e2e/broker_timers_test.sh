#!/usr/bin/env bash
# End-to-end: the broker's clocks, on short settings.
#
# A reservation that is not activated before its deadline, and a lease that
# is not renewed, must end Expired and give their capacity back; a renewal
# must keep a lease alive past its first end. A cluster unheard for
# --stale-after must turn Stale and be left out of decisions with a
# reason, and be Ready again on its next advertisement. After a restart on
# the same database, no cluster may go stale before --stale-after has
# passed since the restart, however old its last advertisement is
# (startup grace). A watcher resuming from an event compacted away must
# get 410. Every check on time is made both ways: not before the
# deadline (within a small tolerance for the sweep) and by a bounded wait
# after it. A background heartbeat keeps the other clusters Ready.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# Short enough to keep the suite short, long enough that a loaded CI
# machine (2 cores, suites in parallel) does not blur the deadlines: each
# check that something has NOT happened yet is made well before its time.
STALE_S=3
ACTIVATION_S=4
LEASE_S=4
GRACE_S=5
FLAGS=(--activation-timeout "${ACTIVATION_S}s" --sweep-interval 200ms
  --default-duration 1h --max-duration 24h --event-retention 5s
  --log-level debug)

# request REQUESTER CPU MEMORY [JQ_FILTER]: prints a reservation request.
request() {
  jq -nc --arg who "$1" --arg cpu "$2" --arg mem "$3" \
    "{requesterID: \$who, requestedResources: {cpu: \$cpu, memory: \$mem}}
     | ${4:-.}"
}

# Advertises every cluster named in the file $1 every 300 ms until $2
# exists (at most 120 s). The bodies are rendered once, with only the
# generation changed per beat, so that a loaded machine (jq is slow to
# start) cannot stretch a beat toward --stale-after.
heartbeat_loop() {
  local list=$1 stop=$2 name
  local deadline=$(($(now_ms) + 120000))
  local -A bodies=()
  while read -r name; do
    [[ -n $name ]] && bodies[$name]=$(ad_json "$name" '.generation = "GEN"')
  done <"$list"
  while [[ ! -e $stop ]] && (($(now_ms) < deadline)); do
    for name in "${!bodies[@]}"; do
      api POST /api/v1/advertisements \
        "${bodies[$name]/\"GEN\"/$(next_generation)}"
    done
    sleep 0.3
  done
}

# Starts the heartbeat for the clusters given as arguments.
start_heartbeat() {
  printf '%s\n' "$@" >"$E2E_DIR/beat.tmp"
  mv "$E2E_DIR/beat.tmp" "$E2E_DIR/beat"
  rm -f "$E2E_DIR/beat.stop"
  heartbeat_loop "$E2E_DIR/beat" "$E2E_DIR/beat.stop" &
  HEARTBEAT_PID=$!
  track_pid "$HEARTBEAT_PID"
}

# Stops the heartbeat and waits for its last advertisement to finish.
stop_heartbeat() {
  touch "$E2E_DIR/beat.stop"
  wait_pid "$HEARTBEAT_PID" 10 || kill_tree "$HEARTBEAT_PID"
}

# phase_is ID PHASE: succeeds when the reservation is in PHASE.
phase_is() {
  [[ $(reservation_phase "$1") == "$2" ]]
}

# state_is ID STATE: succeeds when the cluster is in STATE.
state_is() {
  api GET "/api/v1/clusters/$1"
  [[ $(jb '.state') == "$2" ]]
}

# all_states: prints "id:state" of every cluster.
all_states() {
  api GET /api/v1/clusters
  jb '[.items[] | "\(.clusterID):\(.state)"] | join(",")'
}

# elapsed_s SINCE_MS: prints the seconds since SINCE_MS, with fraction.
elapsed_s() {
  awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.3f", (b - a) / 1000 }'
}

# at_least WHAT VALUE MIN: passes when VALUE >= MIN (numbers).
at_least() {
  check "$1" "$2 < $3" awk -v v="$2" -v m="$3" 'BEGIN { exit !(v >= m) }'
}

e2e_init
start_broker "$E2E_DIR/broker" --stale-after "${STALE_S}s" "${FLAGS[@]}"
for name in rome paris berlin; do
  advertise "$name"
  expect_status "advertise $name" 200 201
done
start_heartbeat rome paris berlin

# --- activation deadline -------------------------------------------------
t0=$(now_ms)
api POST /api/v1/reservations "$(request rome 4 8Gi)"
read -r phase res target <<<"$(jb '[.status.phase, .id, .targetClusterID]
                                    | join(" ")')"
created="$BODY"
expect_eq "the provider holds 4 cores meanwhile" 4000 \
  "$(cluster_amount "$target" reserved cpu)"
expect_eq "reserved, waiting for activation" Reserved "$phase"
BODY=$created
expect_near "activation deadline = reservedAt + $ACTIVATION_S s" \
  "$ACTIVATION_S" "$(jb '(.status.activationDeadline | epoch)
                         - (.status.reservedAt | epoch)')" 0.05
if wait_for 15 phase_is "$res" Expired; then
  pass "not activated in time: Expired"
  # The sweep runs every 200 ms; it may not expire anything early.
  at_least "not expired before its deadline" "$(elapsed_s "$t0")" \
    "$ACTIVATION_S"
else
  fail "not activated in time: Expired" "phase $(reservation_phase "$res")"
fi
api GET "/api/v1/reservations/$res"
expect_ne "endedAt set on expiry" "" "$(jb '.status.endedAt // ""')"
expect_eq "the provider's 4 cores come back" 0 \
  "$(cluster_amount "$target" reserved cpu)"

# --- lease not renewed ---------------------------------------------------
t0=$(now_ms)
api POST /api/v1/reservations \
  "$(request rome 4 8Gi ".duration = \"${LEASE_S}s\"")"
read -r res target <<<"$(jb '"\(.id) \(.targetClusterID)"')"
api POST "/api/v1/reservations/$res/activate"
expect_eq "activated before the deadline" Active "$(jb '.status.phase')"
expect_near "lease = reservedAt + $LEASE_S s" "$LEASE_S" \
  "$(jb '(.status.expiresAt | epoch) - (.status.reservedAt | epoch)')" 0.05
if wait_for 15 phase_is "$res" Expired; then
  pass "lease not renewed: Expired"
  at_least "lease not ended before expiresAt" "$(elapsed_s "$t0")" \
    "$LEASE_S"
else
  fail "lease not renewed: Expired" "phase $(reservation_phase "$res")"
fi
expect_eq "the expired lease's cores come back" 0 \
  "$(cluster_amount "$target" reserved cpu)"

# --- lease renewed -------------------------------------------------------
# A 6 s lease renewed for 6 s at t = 3 s ends at t = 9 s instead of 6 s;
# checking at t = 7.5 s leaves 1.5 s of slack on both sides. (The
# activation deadline does not apply: it is activated at once.)
t_created=$(now_ms)
api POST /api/v1/reservations "$(request rome 4 8Gi '.duration = "6s"')"
res=$(jb '.id')
api POST "/api/v1/reservations/$res/activate"
sleep 3
api POST "/api/v1/reservations/$res/renew" '{"duration": "6s"}'
expect_status "renew an Active lease" 200
t0=$(now_ms)
sleep 4.5
at_least "checking past the first lease's end" "$(elapsed_s "$t_created")" 6
expect_eq "renewed lease alive past its first end" Active \
  "$(reservation_phase "$res")"
if wait_for 10 phase_is "$res" Expired; then
  pass "renewed lease expires in turn"
  at_least "renewed lease lasts 6 s from the renewal" "$(elapsed_s "$t0")" \
    5.8
else
  fail "renewed lease expires in turn" "phase $(reservation_phase "$res")"
fi

# --- stale and back ------------------------------------------------------
stop_heartbeat
start_heartbeat rome paris
advertise berlin
t0=$(now_ms)
api GET /api/v1/clusters/berlin
expect_eq "berlin Ready after its last advertisement" Ready "$(jb '.state')"
if wait_for 10 state_is berlin Stale; then
  pass "berlin unheard: Stale"
  at_least "not Stale before --stale-after" "$(elapsed_s "$t0")" 2.8
else
  fail "berlin unheard: Stale" "state $(jb '.state')"
fi
expect_eq "the others, still heard, stay Ready" \
  "berlin:Stale,paris:Ready,rome:Ready" "$(all_states)"
gpu=$(request rome 1 1Gi '.requestedResources.gpu = "1"')
api POST /api/v1/explain "$gpu"
expect_eq "stale berlin is left out" "" "$(jb '.chosen // ""')"
expect_ne "stale berlin's row says why" "" \
  "$(jb '.rows[] | select(.clusterID == "berlin") | .reason // ""')"
api POST /api/v1/reservations "$gpu"
expect_eq "a GPU request while berlin is stale: Failed" Failed \
  "$(jb '.status.phase')"
advertise berlin
api GET /api/v1/clusters/berlin
expect_eq "berlin Ready on its next advertisement" Ready "$(jb '.state')"
api POST /api/v1/explain "$gpu"
expect_eq "berlin chosen again" berlin "$(jb '.chosen // ""')"

# --- startup grace -------------------------------------------------------
# The restarted broker gets a longer --stale-after (and so grace), and
# stays down longer than that since the last advertisements: without the
# grace every cluster would be Stale at the first sweep.
stop_heartbeat
for name in rome paris berlin; do
  advertise "$name"
done
t_last=$(now_ms)
stop_broker
expect_eq "broker exits 0 on SIGTERM" 0 "$BROKER_EXIT"
sleep $((GRACE_S + 1))
# The broker's clock starts after this instant, before its port file.
t_launch=$(now_ms)
start_broker "$E2E_DIR/broker" --stale-after "${GRACE_S}s" "${FLAGS[@]}"
at_least "last advertisements older than --stale-after at restart" \
  "$(elapsed_s "$t_last")" "$GRACE_S"
expect_eq "after restart every cluster is still Ready" \
  "berlin:Ready,paris:Ready,rome:Ready" "$(all_states)"
sleep_until_ms=$((t_launch + GRACE_S * 1000 / 2))
while (($(now_ms) < sleep_until_ms)); do
  sleep 0.1
done
expect_eq "half the grace after restart every cluster is still Ready" \
  "berlin:Ready,paris:Ready,rome:Ready" "$(all_states)"
all_stale() {
  [[ $(all_states) == "berlin:Stale,paris:Stale,rome:Stale" ]]
}
if wait_for 15 all_stale; then
  pass "unheard after the grace: Stale"
  at_least "not Stale before --stale-after since the restart" \
    "$(elapsed_s "$t_launch")" "$GRACE_S"
else
  fail "unheard after the grace: Stale" "$(all_states)"
fi

# --- event retention -----------------------------------------------------
# Everything up to the restart is older than --event-retention 5s by now
# (the stay down alone took 6 s), so a watcher resuming from the first
# event has missed some and must be told so.
api GET "/api/v1/events?since=1&timeout=1s"
expect_error "a watch from a compacted seq" 410 "*"
api GET "/api/v1/events?since=0&timeout=1s"
last_seq=$(jb '.lastSeq')
api GET "/api/v1/events?since=$last_seq&timeout=1s"
expect_eq "a watch from the last seq is fine" "200 $last_seq" \
  "$STATUS $(jb '.lastSeq')"

doctor_check "doctor clean"
stop_broker
expect_eq "broker exits 0 on SIGTERM after restart" 0 "$BROKER_EXIT"
summary
