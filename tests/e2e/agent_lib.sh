# shellcheck shell=bash disable=SC2034 # globals are read by the suites
# Helpers of the agent suites (agent_*_test.sh), on top of lib.sh: a
# throw-away PKI, one fake Kubernetes API server (fake_kube) per cluster
# with a kubectl-shaped snapshot, and `lrb agent` processes pointed at
# them and at the suite's broker. Everything listens on 127.0.0.1, is
# tracked for lib.sh's EXIT trap, and every wait is bounded.

# shellcheck source=tests/e2e/fake_kube_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fake_kube_lib.sh"

declare -A AGENT_PID=()
AGENT_RUNS=0

# Makes a CA and a server certificate for 127.0.0.1 in E2E_DIR.
make_pki() {
  fake_pki
}

# make_snapshot FILE CORES MEMORY REGION: one Ready node with CORES cpus
# and MEMORY allocatable, and one running pod asking for 1 core and 1Gi.
make_snapshot() {
  local file=$1 cores=$2 memory=$3 region=$4
  jq -n --arg c "$cores" --arg m "$memory" --arg r "$region" '
    {kind: "List", apiVersion: "v1", metadata: {resourceVersion: ""},
     items: [
      {kind: "Node", apiVersion: "v1",
       metadata: {name: "node-1", resourceVersion: "1",
         labels: {"topology.kubernetes.io/region": $r}},
       status: {capacity: {cpu: $c, memory: $m, pods: "110"},
         allocatable: {cpu: $c, memory: $m, pods: "110"},
         conditions: [{type: "Ready", status: "True"}]}},
      {kind: "Pod", apiVersion: "v1",
       metadata: {name: "web-1", namespace: "default", resourceVersion: "2"},
       spec: {nodeName: "node-1", containers: [{name: "app", image: "a:1",
         resources: {requests: {cpu: "1", memory: "1Gi"}}}]},
       status: {phase: "Running"}}]}' >"$file"
}

# start_fake NAME [FAKE_KUBE_FLAGS...]: serves E2E_DIR/NAME.json and writes
# E2E_DIR/NAME.kubeconfig (token auth); sets FAKE_PORT[NAME].
start_fake() {
  local name=$1
  shift
  fake_start "$name" "$E2E_DIR/$name.json" --token "tok-$name=agent" "$@" ||
    return 1
  cat >"$E2E_DIR/$name.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
current-context: $name
clusters:
- name: $name
  cluster:
    server: "https://127.0.0.1:${FAKE_PORT[$name]}"
    certificate-authority: ca.crt
contexts:
- name: $name
  context: {cluster: $name, user: agent}
users:
- name: agent
  user: {token: tok-$name}
KUBECONFIG
}

# fake_api NAME METHOD PATH [BODY]: one request to NAME's fake server;
# sets STATUS and BODY.
fake_api() {
  local name=$1 method=$2 path=$3 data=()
  [[ $# -lt 4 ]] || data=(-H 'Content-Type: application/json'
    --data-binary "$4")
  local out="$E2E_DIR/fake.$BASHPID.body"
  STATUS=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 \
    --cacert "$E2E_DIR/ca.crt" -H "Authorization: Bearer tok-$name" \
    -X "$method" "${data[@]}" "https://127.0.0.1:${FAKE_PORT[$name]}$path" \
    2>/dev/null) || true
  BODY=$(cat "$out" 2>/dev/null) || BODY=""
}

# Prints the names of the ResourceSlices on NAME's API server.
slice_names() {
  fake_api "$1" GET /apis/authentication.liqo.io/v1beta1/resourceslices
  jb '[.items[].metadata | "\(.namespace)/\(.name)"] | join(" ")'
}

# start_agent NAME [AGENT_FLAGS...]: runs `lrb agent --cluster NAME`
# against the broker, logging to E2E_DIR/agent-NAME.N.log; sets
# AGENT_PID[NAME] and AGENT_LOG.
start_agent() {
  local name=$1
  shift
  AGENT_RUNS=$((AGENT_RUNS + 1))
  AGENT_LOG="$E2E_DIR/agent-$name.$AGENT_RUNS.log"
  "$LRB_BIN" --broker "$BROKER_URL" --log-level debug agent \
    --cluster "$name" "$@" >"$AGENT_LOG" 2>&1 &
  AGENT_PID[$name]=$!
  track_pid "${AGENT_PID[$name]}"
}

# stop_agent NAME [SIGNAL]: stops NAME's agent (TERM by default) and waits
# at most 15 s for it.
stop_agent() {
  local name=$1 signal=${2:-TERM}
  kill "-$signal" "${AGENT_PID[$name]}" 2>/dev/null || true
  wait_pid "${AGENT_PID[$name]}" 15 || kill -9 "${AGENT_PID[$name]}" \
    2>/dev/null || true
}

# Succeeds when the broker knows cluster NAME.
cluster_known() {
  api GET "/api/v1/clusters/$1"
  [[ $STATUS == 200 ]]
}

# Succeeds when reservation ID is in PHASE.
phase_is() {
  api GET "/api/v1/reservations/$1"
  [[ $(jb .status.phase) == "$2" ]]
}

# reserve ARGS...: `lrb reserve -o json`; sets RES_ID (empty on failure).
reserve() {
  local out
  out=$("$LRB_BIN" --broker "$BROKER_URL" -o json reserve "$@" 2>&1) || true
  RES_ID=$(jq -r '.id // empty' <<<"$out" 2>/dev/null) || RES_ID=""
  [[ -n $RES_ID ]] || echo "reserve failed: $out" >&2
}

# Prints the suite's closing line and exits non-zero on a failure, after
# the end of every agent's log when something failed.
finish() {
  local log
  if ((E2E_FAILED > 0)); then
    for log in "$E2E_DIR"/agent-*.log; do
      echo "--- last lines of $log" >&2
      tail -n 15 "$log" >&2
    done
  fi
  echo "$E2E_PASSED passed, $E2E_FAILED failed"
  ((E2E_FAILED == 0))
}
