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

PASSED=0
FAILED=0
FAKE_PID=""
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lrb-inventory.XXXXXX")

cleanup() {
  if [ -n "$FAKE_PID" ]; then
    kill "$FAKE_PID" 2>/dev/null || true
    wait "$FAKE_PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

pass() {
  PASSED=$((PASSED + 1))
  echo "ok - $1"
}

fail() {
  FAILED=$((FAILED + 1))
  echo "not ok - $1: $2"
}

# check WHAT EXPECTED ACTUAL
check() {
  if [ "$2" == "$3" ]; then
    pass "$1"
  else
    fail "$1" "expected '$2', got '$3'"
  fi
}

# check_contains WHAT NEEDLE HAYSTACK
check_contains() {
  if [[ "$3" == *"$2"* ]]; then
    pass "$1"
  else
    fail "$1" "'$2' not in '$3'"
  fi
}

# inv ARGS...: runs lrb inventory, bounded in time.
inv() {
  timeout 60 "$LRB_BIN" inventory "$@"
}

# --- the snapshot, as JSON -----------------------------------------------
out=$(inv --snapshot "$SNAPSHOT" -o json)
# cpu: (7910 - 1300) + (7910 - 1350) + (47810 - 8000) millicores on the
# three eligible nodes (the control plane is tainted).
check "available cpu sums the eligible nodes" "52980m" \
  "$(jq -r .resources.available.cpu <<<"$out")"
check "allocatable GPUs come from gpu-a" "4" \
  "$(jq -r .resources.allocatable.gpu <<<"$out")"
check "two GPUs are free" "2" "$(jq -r .resources.available.gpu <<<"$out")"
check "largest node is gpu-a" "39810m" \
  "$(jq -r .resources.largestNodeAvailable.cpu <<<"$out")"
check "GPU model from the node label" '{"NVIDIA-A100-SXM4-40GB":4}' \
  "$(jq -c .gpuModels <<<"$out")"
check "region from topology labels" "europe-west8" \
  "$(jq -r .region <<<"$out")"
check "counts: 16 pods, 14 counted, 1 finished, 1 unbound" "16 14 1 1" \
  "$(jq -r '.counted | "\(.pods) \(.countedPods) \(.terminalPods) \(.unboundPods)"' <<<"$out")"
check "the control plane is out, with its taint" \
  "cp-1 Tainted node-role.kubernetes.io/control-plane:NoSchedule" \
  "$(jq -r '.nodes[] | select(.eligible | not) | "\(.name) \(.reason)"' <<<"$out")"
check "per-node rows carry allocated pods" "4" \
  "$(jq -r '.nodes[] | select(.name == "worker-a") | .allocated.pods' <<<"$out")"

# --- the same objects by other routes -----------------------------------
check "stdin gives the same document" "$out" \
  "$(inv --snapshot - -o json <"$SNAPSHOT")"
jq '{apiVersion: "v1", kind: "NodeList",
     items: [.items[] | select(.kind == "Node") | del(.kind, .apiVersion)]}' \
  "$SNAPSHOT" >"$DIR/nodes.json"
jq '{apiVersion: "v1", kind: "PodList",
     items: [.items[] | select(.kind == "Pod") | del(.kind, .apiVersion)]}' \
  "$SNAPSHOT" >"$DIR/pods.json"
check "a NodeList and a PodList in two files add up the same" \
  "$(jq -c .resources <<<"$out")" \
  "$(inv --snapshot "$DIR/nodes.json" --snapshot "$DIR/pods.json" -o json |
    jq -c .resources)"

# --- filters ------------------------------------------------------------
tainted=$(inv --snapshot "$SNAPSHOT" --include-tainted -o json)
# cp-1 joins: 52980 + (3920 - 350) = 56550 millicores.
check "--include-tainted counts the control plane" "56550m" \
  "$(jq -r .resources.available.cpu <<<"$tainted")"
check "--tolerate with the taint's key does the same" "56550m" \
  "$(inv --snapshot "$SNAPSHOT" -o json \
    --tolerate node-role.kubernetes.io/control-plane |
    jq -r .resources.available.cpu)"
jq '(.items[] | select(.metadata.name == "worker-b") | .spec.unschedulable)
    |= true' "$SNAPSHOT" >"$DIR/cordoned.json"
# worker-b out: 52980 - 6560 = 46420 millicores.
check "a cordoned node is left out" "46420m" \
  "$(inv --snapshot "$DIR/cordoned.json" -o json |
    jq -r .resources.available.cpu)"
check "--include-cordoned brings it back" "52980m" \
  "$(inv --snapshot "$DIR/cordoned.json" --include-cordoned -o json |
    jq -r .resources.available.cpu)"

# --- the table ----------------------------------------------------------
table=$(inv --snapshot "$SNAPSHOT")
check_contains "the table has the totals header" \
  "CLUSTER        CPU     MEMORY" "$table"
check_contains "available cores in human units" "available      52.98" \
  "$table"
check_contains "each node shows allocatable/allocated/available" \
  "47.81/8/39.81" "$table"
check "-o name lists the nodes" "node/cp-1 node/worker-a node/worker-b node/gpu-a" \
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
if [ -z "${FAKE_KUBE_BIN:-}" ]; then
  FAKE_KUBE_BIN="$(dirname "$LRB_BIN")/../../tests/fake_kube"
fi
if [ ! -x "$FAKE_KUBE_BIN" ]; then
  echo "# skipping the live checks: no fake_kube at $FAKE_KUBE_BIN"
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 1 \
    -nodes -keyout "$DIR/ca.key" -out "$DIR/ca.crt" -subj "/CN=inv-ca" \
    2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$DIR/server.key" -out "$DIR/server.csr" -subj "/CN=fake" \
    2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$DIR/san.ext"
  openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" \
    -CAkey "$DIR/ca.key" -CAcreateserial -days 1 -extfile "$DIR/san.ext" \
    -out "$DIR/server.crt" 2>/dev/null
  "$FAKE_KUBE_BIN" --tls-cert "$DIR/server.crt" --tls-key "$DIR/server.key" \
    --token "inv-token=inventory" --snapshot "$SNAPSHOT" \
    --port-file "$DIR/port" 2>"$DIR/fake.log" &
  FAKE_PID=$!
  deadline=$((SECONDS + 10))
  while [ ! -s "$DIR/port" ]; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$FAKE_PID" 2>/dev/null; then
      echo "fake_kube did not start:" >&2
      cat "$DIR/fake.log" >&2
      exit 1
    fi
    sleep 0.05
  done
  cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: rome
clusters:
- name: rome
  cluster:
    server: https://127.0.0.1:$(cat "$DIR/port")
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
  check "the live API gives the snapshot's totals" \
    "$(jq -c '{resources, gpuModels, region}' <<<"$out")" \
    "$(jq -c '{resources, gpuModels, region}' <<<"$live")"
  check "the live API gives the snapshot's counts" \
    "$(jq -c .counted <<<"$out")" "$(jq -c .counted <<<"$live")"
  expect_fail "a rejected token is reported with the API's reason" 1 \
    "Unauthorized" --kubeconfig "$DIR/kubeconfig" --context stranger
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
