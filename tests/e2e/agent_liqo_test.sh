#!/usr/bin/env bash
# End-to-end: two agents with --liqo, each on its own fake API server.
#
# rome and paris advertise to one broker; a reservation by rome lands on
# paris, and rome's agent makes it usable with a Liqo ResourceSlice in
# paris's tenant namespace on rome's own API server. rome's fake grants
# half of every slice (--auto-accept 0.5), so the reservation must become
# Active with half of what was asked; release must delete the slice. The
# other way round, paris's fake answers nothing until told to, which
# leaves room to kill -9 paris's agent between creating the slice and
# activating: after a restart the slice is not created again and the
# reservation is activated exactly once. A denial releases with the
# provider's message, an orphan slice is swept, and an offloaded pod on
# the provider shows up in its advertisement's `consumed`.
set -uo pipefail
# shellcheck source=tests/e2e/agent_lib.sh
source "$(dirname "$0")/agent_lib.sh"
e2e_init
make_pki
SLICES=/apis/authentication.liqo.io/v1beta1

make_snapshot "$E2E_DIR/rome.json" 8 32Gi europe-west8
make_snapshot "$E2E_DIR/paris.json" 16 64Gi europe-west9
cp "$E2E_DIR/paris.json" "$E2E_DIR/paris-live.json"
start_broker "$E2E_DIR/broker" || exit 1
start_fake rome --auto-accept 0.5 || exit 1
start_fake paris || exit 1

rome_agent() {
  start_agent rome --kubeconfig "$E2E_DIR/rome.kubeconfig" --liqo \
    --interval 1s --state-dir "$E2E_DIR/rome-state"
}
paris_agent() {
  start_agent paris --kubeconfig "$E2E_DIR/paris.kubeconfig" --liqo \
    --snapshot "$E2E_DIR/paris-live.json" --interval 1s \
    --state-dir "$E2E_DIR/paris-state"
  PARIS_LOG=$AGENT_LOG
}
rome_agent

paris_agent
PARIS_LOG1=$PARIS_LOG

check "both clusters advertise" "not both known" \
  wait_for 15 eval 'cluster_known rome && cluster_known paris'
api GET /api/v1/clusters/paris
expect_eq "paris advertises its free cpu (16 - 1 = 15 cores)" 15000 \
  "$(jb '.resources.available | amount("cpu")')"

# --- rome asks; its fake grants half -----------------------------------
reserve --requester rome --cpu 2 --mem 4Gi
R1=$RES_ID
check "rome's reservation becomes Active" "phase $(jb .status.phase)" \
  wait_for 20 phase_is "$R1" Active
expect_eq "it was placed on paris" paris "$(jb .targetClusterID)"
expect_eq "granted cpu is half of 2 cores" 1000 \
  "$(jb '.grantedResources | amount("cpu")')"
expect_eq "granted memory is half of 4Gi" $((2 * 1024 * 1024 * 1024)) \
  "$(jb '.grantedResources | amount("memory")')"
fake_api rome GET "$SLICES/namespaces/liqo-tenant-paris/resourceslices/$R1"
expect_eq "the slice is in paris's tenant namespace on rome's API" 200 \
  "$STATUS"
expect_eq "the slice is labelled with the reservation" "$R1" \
  "$(jb '.metadata.labels["lrb.io/reservation-id"]')"
expect_eq "the slice names the provider" "paris|default" \
  "$(jb '"\(.spec.providerClusterID)|\(.spec.class)"')"
expect_eq "the slice asks for the reserved cpu" 2000 \
  "$(jb '.spec.resources | amount("cpu")')"

# --- the provider reports what runs there for rome --------------------
jq --arg r rome '.items += [{kind: "Pod", apiVersion: "v1",
    metadata: {name: "offloaded-1", namespace: "liqo-tenant-rome",
      labels: {"liqo.io/origin-cluster-id": $r}},
    spec: {nodeName: "node-1", containers: [{name: "c", image: "a:1",
      resources: {requests: {cpu: "500m", memory: "1Gi"}}}]},
    status: {phase: "Running"}}]' "$E2E_DIR/paris.json" \
  >"$E2E_DIR/paris-live.json.tmp"
mv "$E2E_DIR/paris-live.json.tmp" "$E2E_DIR/paris-live.json"
consumed_cpu() {
  api GET /api/v1/clusters/paris
  [[ $(jb ".consumed[\"$R1\"] | amount(\"cpu\")") == 500 ]]
}
check "paris reports the offloaded pod as consumed by the reservation" \
  "$(short_body)" wait_for 15 consumed_cpu

# --- release deletes the slice ----------------------------------------
"$LRB_BIN" --broker "$BROKER_URL" release "$R1" >/dev/null 2>&1
check "release ends the reservation" "phase $(jb .status.phase)" \
  wait_for 10 phase_is "$R1" Released
no_slice() { [[ -z $(slice_names rome) ]]; }
check "release deletes the slice" "slices: $(slice_names rome)" \
  wait_for 15 no_slice

# --- kill -9 between slice and activation -----------------------------
reserve --requester paris --cpu 1 --mem 1Gi
R2=$RES_ID
slice_there() {
  fake_api paris GET "$SLICES/namespaces/liqo-tenant-rome/resourceslices/$R2"
  [[ $STATUS == 200 ]]
}
check "paris's agent creates its slice" "HTTP $STATUS" wait_for 15 slice_there
UID1=$(jb .metadata.uid)
stop_agent paris KILL
phase_is "$R2" Reserved
expect_eq "the reservation waits in Reserved" Reserved "$(jb .status.phase)"
paris_agent
sleep 3
slice_there
expect_eq "the restarted agent does not create the slice again" "$UID1" \
  "$(jb .metadata.uid)"
expect_eq "the reservation still waits for the provider" Reserved \
  "$(phase_is "$R2" Reserved; jb .status.phase)"
fake_api paris POST "/fake/resourceslices/liqo-tenant-rome/$R2/status" \
  '{"conditions": [{"type": "Resources", "status": "Accepted",
    "reason": "ResourcesAccepted"}], "resources": {"cpu": "1",
    "memory": "1Gi"}}'
check "the provider's answer activates it" "phase $(jb .status.phase)" \
  wait_for 15 phase_is "$R2" Active
activations=$(cat "$PARIS_LOG1" "$PARIS_LOG" |
  grep -c "reservation activated.*reservation=$R2")
expect_eq "it was activated exactly once" 1 "$activations"
created=$(cat "$PARIS_LOG1" "$PARIS_LOG" |
  grep -c "slice created.*reservation=$R2")
expect_eq "its slice was created exactly once" 1 "$created"

# --- a denial releases with the provider's message --------------------
reserve --requester paris --cpu 1 --mem 1Gi
R3=$RES_ID
R2=$R3
check "the second slice is created" "HTTP $STATUS" wait_for 15 slice_there
fake_api paris POST "/fake/resourceslices/liqo-tenant-rome/$R3/status" \
  '{"conditions": [{"type": "Resources", "status": "Denied",
    "message": "quota exhausted"}]}'
check "a denied slice releases the reservation" "phase $(jb .status.phase)" \
  wait_for 15 phase_is "$R3" Released
expect_match "the release names the provider's message" "quota exhausted" \
  "$(jb '"\(.status.reason) \(.status.message)"')"
gone_r3() { ! slice_there; }
check "the denied slice is deleted" "still there" wait_for 15 gone_r3

# --- an orphan slice is swept ------------------------------------------
fake_api rome POST "$SLICES/namespaces/liqo-tenant-paris/resourceslices" \
  '{"metadata": {"name": "r-orphan",
    "labels": {"lrb.io/reservation-id": "r-orphan"}},
    "spec": {"class": "default", "providerClusterID": "paris"}}'
expect_eq "an orphan slice can be planted" 201 "$STATUS"
check "the agent deletes the orphan slice" "slices: $(slice_names rome)" \
  wait_for 20 no_slice

stop_agent rome
expect_eq "rome's agent stops on SIGTERM" 0 "$WAIT_STATUS"
stop_agent paris
finish
