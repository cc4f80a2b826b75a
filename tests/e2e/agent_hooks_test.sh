#!/usr/bin/env bash
# shellcheck disable=SC2034 # BROKER_* are read by lib.sh's cleanup
# End-to-end: the agent with hook commands and --snapshot files.
#
# The agents start while the broker is down and must catch up once it
# comes up on the same port. rome's --on-reserved hook gets the
# reservation on stdin and LRB_* in its environment; exit 0 activates,
# exit 1 releases with the hook's last stderr line as the reason, and
# --on-released runs when the reservation ends. paris's --on-provide hook
# sees the reservation placed on it. Rewriting rome's snapshot file must
# change what the broker knows of rome within a couple of intervals.
set -uo pipefail
# shellcheck source=tests/e2e/agent_lib.sh
source "$(dirname "$0")/agent_lib.sh"
e2e_init

make_snapshot "$E2E_DIR/rome.json" 8 32Gi europe-west8
make_snapshot "$E2E_DIR/paris.json" 16 64Gi europe-west9
cat >"$E2E_DIR/on-reserved.sh" <<'HOOK'
#!/bin/sh
# Records what it was given; refuses when the suite made a "deny" file.
dir=$(dirname "$0")
cat >"$dir/stdin.$LRB_RESERVATION_ID.json"
echo "$LRB_RESERVATION_ID $LRB_PROVIDER $LRB_REQUESTER $LRB_CPU $LRB_MEMORY" \
  "$LRB_GPU" >>"$dir/reserved.log"
if [ -e "$dir/deny" ]; then
  echo "checking quota" >&2
  echo "  no GPU quota left  " >&2
  exit 1
fi
HOOK
chmod +x "$E2E_DIR/on-reserved.sh"

# --- the broker is down when the agents start --------------------------
start_broker "$E2E_DIR/broker" || exit 1
PORT=$BROKER_PORT
stop_broker
start_agent rome --snapshot "$E2E_DIR/rome.json" --interval 1s \
  --on-reserved "$E2E_DIR/on-reserved.sh" \
  --on-released "echo \$LRB_RESERVATION_ID >>$E2E_DIR/released.log" \
  --state-dir "$E2E_DIR/rome-state"
ROME_LOG=$AGENT_LOG
start_agent paris --snapshot "$E2E_DIR/paris.json" --interval 1s \
  --on-provide "echo \$LRB_RESERVATION_ID >>$E2E_DIR/provided.log"
sleep 2
check "rome's agent keeps running while the broker is down" "it exited" \
  kill -0 "${AGENT_PID[rome]}"
check "it warns that the advertisement was not accepted" "log: $(
  tail -n 3 "$ROME_LOG")" grep -q "advertisement not accepted" "$ROME_LOG"

"$LRB_BIN" broker --listen "127.0.0.1:$PORT" --db "$E2E_DIR/broker/lrb.db" \
  >"$E2E_DIR/broker/broker.late.log" 2>&1 &
BROKER_PID=$!
BROKER_LOG="$E2E_DIR/broker/broker.late.log"
check "both agents catch up once the broker is up" "not both known" \
  wait_for 20 eval 'cluster_known rome && cluster_known paris'

# --- on-reserved exits 0: Active ---------------------------------------
reserve --requester rome --cpu 2 --mem 4Gi
R1=$RES_ID
check "the hook's success activates the reservation" \
  "phase $(jb .status.phase)" wait_for 15 phase_is "$R1" Active
expect_eq "the hook saw id, provider, requester and amounts" \
  "$R1 paris rome 2 4Gi 0" "$(grep "^$R1 " "$E2E_DIR/reserved.log")"
expect_eq "the hook got the reservation as JSON on stdin" "$R1" \
  "$(jq -r .id "$E2E_DIR/stdin.$R1.json" 2>/dev/null)"
provided() { grep -qx "$R1" "$E2E_DIR/provided.log" 2>/dev/null; }
check "paris's on-provide hook saw the reservation" "no line" \
  wait_for 10 provided

# --- on-reserved exits 1: Released with its message -----------------
touch "$E2E_DIR/deny"
reserve --requester rome --cpu 1 --mem 1Gi
R2=$RES_ID
check "the hook's failure releases the reservation" \
  "phase $(jb .status.phase)" wait_for 15 phase_is "$R2" Released
expect_match "the reason is the hook's last stderr line, trimmed" \
  "(^| )no GPU quota left$" "$(jb '"\(.status.reason) \(.status.message)"')"

# --- on-released runs when a reservation ends --------------------------
"$LRB_BIN" --broker "$BROKER_URL" release "$R1" >/dev/null 2>&1
released() { grep -qx "$R1" "$E2E_DIR/released.log" 2>/dev/null; }
check "on-released runs at release" "no line" wait_for 15 released
expect_eq "on-reserved ran once for the activated reservation" 1 \
  "$(grep -c "^$R1 " "$E2E_DIR/reserved.log")"

# --- the snapshot is re-read -------------------------------------------
make_snapshot "$E2E_DIR/rome.json.tmp" 12 32Gi europe-west8
mv "$E2E_DIR/rome.json.tmp" "$E2E_DIR/rome.json"
rome_cpu() {
  api GET /api/v1/clusters/rome
  [[ $(jb '.resources.available | amount("cpu")') == 11000 ]]
}
check "a rewritten snapshot reaches the broker (12 - 1 = 11 cores)" \
  "$(jb '.resources.available')" wait_for 5 rome_cpu

stop_agent rome
expect_eq "the agent stops on SIGTERM with status 0" 0 "$WAIT_STATUS"
stop_agent paris
finish
