#!/usr/bin/env bash
# End-to-end: `lrb inventory` on a kubectl snapshot and on a live API.
#
# The unit tests check the arithmetic; this suite checks the verb as an
# operator runs it: the JSON and table outputs of the realistic snapshot
# in tests/data/snapshots/rome-gpu.json, stdin and split NodeList/PodList
# files, the filter flags, the errors and their exit codes, and — when
# the fake API server is available — that reading the same objects live
# through a kubeconfig, page by page, gives the same totals. Everything
# runs on 127.0.0.1 in a temporary directory removed on exit.
set -euo pipefail

: "${LRB_BIN:?set LRB_BIN to the lrb binary}"
LRB_SOURCE_DIR=${LRB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SNAPSHOT="$LRB_SOURCE_DIR/tests/data/snapshots/rome-gpu.json"

# shellcheck source=tests/e2e/fake_kube_lib.sh
source "$(dirname "$0")/fake_kube_lib.sh"
e2e_init
DIR=$E2E_DIR

# inv ARGS...: runs lrb inventory, bounded in time.
inv() {
  timeout 60 "$LRB_BIN" inventory "$@"
}

# --- the snapshot, as JSON -----------------------------------------------
out=$(inv --snapshot "$SNAPSHOT" -o json)
# cpu: (7910 - 1300) + (7910 - 1350) + (47810 - 8000) millicores on the
# three eligible nodes (the control plane is tainted).
expect_eq "available cpu sums the eligible nodes" "52980m" \
  "$(jq -r .resources.available.cpu <<<"$out")"
expect_eq "allocatable GPUs come from gpu-a" "4" \
  "$(jq -r .resources.allocatable.gpu <<<"$out")"
expect_eq "two GPUs are free" "2" "$(jq -r .resources.available.gpu <<<"$out")"
expect_eq "largest node is gpu-a" "39810m" \
  "$(jq -r .resources.largestNodeAvailable.cpu <<<"$out")"
expect_eq "GPU model from the node label" '{"NVIDIA-A100-SXM4-40GB":4}' \
  "$(jq -c .gpuModels <<<"$out")"
expect_eq "region from topology labels" "europe-west8" \
  "$(jq -r .region <<<"$out")"
expect_eq "counts: 16 pods, 14 counted, 1 finished, 1 unbound" "16 14 1 1" \
  "$(jq -r '.counted | "\(.pods) \(.countedPods) \(.terminalPods) \(.unboundPods)"' <<<"$out")"
expect_eq "the control plane is out, with its taint" \
  "cp-1 Tainted node-role.kubernetes.io/control-plane:NoSchedule" \
  "$(jq -r '.nodes[] | select(.eligible | not) | "\(.name) \(.reason)"' <<<"$out")"
expect_eq "per-node rows carry allocated pods" "4" \
  "$(jq -r '.nodes[] | select(.name == "worker-a") | .allocated.pods' <<<"$out")"

# --- the same objects by other routes -----------------------------------
expect_eq "stdin gives the same document" "$out" \
  "$(inv --snapshot - -o json <"$SNAPSHOT")"
jq '{apiVersion: "v1", kind: "NodeList",
     items: [.items[] | select(.kind == "Node") | del(.kind, .apiVersion)]}' \
  "$SNAPSHOT" >"$DIR/nodes.json"
jq '{apiVersion: "v1", kind: "PodList",
     items: [.items[] | select(.kind == "Pod") | del(.kind, .apiVersion)]}' \
  "$SNAPSHOT" >"$DIR/pods.json"
expect_eq "a NodeList and a PodList in two files add up the same" \
  "$(jq -c .resources <<<"$out")" \
  "$(inv --snapshot "$DIR/nodes.json" --snapshot "$DIR/pods.json" -o json |
    jq -c .resources)"

# --- filters ------------------------------------------------------------
tainted=$(inv --snapshot "$SNAPSHOT" --include-tainted -o json)
# cp-1 joins: 52980 + (3920 - 350) = 56550 millicores.
expect_eq "--include-tainted counts the control plane" "56550m" \
  "$(jq -r .resources.available.cpu <<<"$tainted")"
expect_eq "--tolerate with the taint's key does the same" "56550m" \
  "$(inv --snapshot "$SNAPSHOT" -o json \
    --tolerate node-role.kubernetes.io/control-plane |
    jq -r .resources.available.cpu)"
jq '(.items[] | select(.metadata.name == "worker-b") | .spec.unschedulable)
    |= true' "$SNAPSHOT" >"$DIR/cordoned.json"
# worker-b out: 52980 - 6560 = 46420 millicores.
expect_eq "a cordoned node is left out" "46420m" \
  "$(inv --snapshot "$DIR/cordoned.json" -o json |
    jq -r .resources.available.cpu)"
expect_eq "--include-cordoned brings it back" "52980m" \
  "$(inv --snapshot "$DIR/cordoned.json" --include-cordoned -o json |
    jq -r .resources.available.cpu)"

# --- the table ----------------------------------------------------------
table=$(inv --snapshot "$SNAPSHOT")
expect_contains "the table has the totals header" \
  "CLUSTER        CPU     MEMORY" "$table"
expect_contains "available cores in human units" "available      52.98" \
  "$table"
expect_contains "each node shows allocatable/allocated/available" \
  "47.81/8/39.81" "$table"
expect_eq "-o name lists the nodes" "node/cp-1 node/worker-a node/worker-b node/gpu-a" \
  "$(inv --snapshot "$SNAPSHOT" -o name | tr '\n' ' ' | sed 's/ $//')"

# --- errors -------------------------------------------------------------
# expect_fail WHAT RC NEEDLE ARGS...: lrb must fail with RC and a message.
expect_fail() {
  local what=$1 want_rc=$2 needle=$3
  shift 3
  local err rc=0
  err=$(inv "$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne "$want_rc" ]; then
    fail "$what" "exit $rc, wanted $want_rc ($err)"
  elif [[ "$err" != "lrb: error: "*"$needle"* ]]; then
    fail "$what" "'$needle' not in '$err'"
  else
    pass "$what"
  fi
}
jq '(.items[] | select(.metadata.name == "gpu-a") |
     .status.allocatable["nvidia.com/gpu"]) |= "0.5"' "$SNAPSHOT" \
  >"$DIR/half-gpu.json"
expect_fail "a fractional GPU names the node and the item" 2 \
  'node gpu-a: allocatable nvidia.com/gpu "0.5" is not a whole number (at items[3].status.allocatable.nvidia.com/gpu)' \
  --snapshot "$DIR/half-gpu.json"
expect_fail "a missing file" 2 'cannot read' --snapshot "$DIR/none.json"
printf '{"kind": "List", "items": [' >"$DIR/cut.json"
expect_fail "truncated JSON names the file" 2 "snapshot $DIR/cut.json: " \
  --snapshot "$DIR/cut.json"
expect_fail "the same file twice" 2 "node cp-1 is listed twice" \
  --snapshot "$SNAPSHOT" --snapshot "$SNAPSHOT"
expect_fail "no source" 2 "inventory needs --snapshot" -o json
expect_fail "--snapshot and --kubeconfig exclude each other" 2 "excludes" \
  --snapshot "$SNAPSHOT" --kubeconfig "$DIR/kubeconfig"

# --- live, through the fake API server ----------------------------------
if [ ! -x "$FAKE_KUBE_BIN" ]; then
  echo "# skipping the live checks: no fake_kube at $FAKE_KUBE_BIN"
else
  fake_pki
  fake_start rome "$SNAPSHOT" --token "inv-token=inventory" || exit 1
  cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: rome
clusters:
- name: rome
  cluster:
    server: https://127.0.0.1:${FAKE_PORT[rome]}
    certificate-authority: ca.crt
contexts:
- name: rome
  context: {cluster: rome, user: agent}
- name: stranger
  context: {cluster: rome, user: stranger}
users:
- name: agent
  user: {token: inv-token}
- name: stranger
  user: {token: wrong}
EOF
  live=$(inv --kubeconfig "$DIR/kubeconfig" -o json)
  expect_eq "the live API gives the snapshot's totals" \
    "$(jq -c '{resources, gpuModels, region}' <<<"$out")" \
    "$(jq -c '{resources, gpuModels, region}' <<<"$live")"
  expect_eq "the live API gives the snapshot's counts" \
    "$(jq -c .counted <<<"$out")" "$(jq -c .counted <<<"$live")"
  expect_fail "a rejected token is reported with the API's reason" 1 \
    "Unauthorized" --kubeconfig "$DIR/kubeconfig" --context stranger
fi

summary
