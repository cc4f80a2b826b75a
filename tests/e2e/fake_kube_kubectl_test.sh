#!/usr/bin/env bash
# End-to-end: kubectl itself against the fake API server (fake_kube).
#
# The unit tests of lrb's Kubernetes client run against fake_kube; this
# suite checks that fake_kube is faithful enough to trust, by pointing
# the real kubectl at it: discovery, `get nodes` and `get pods -A` as
# JSON, paging with --chunk-size, Status errors (NotFound, Forbidden,
# Unauthorized) as kubectl prints them, client certificates, and Liqo
# ResourceSlices created and deleted with kubectl. Certificates are made
# here with the openssl CLI; everything runs on 127.0.0.1 and is removed
# on exit.
set -euo pipefail

LRB_SOURCE_DIR=${LRB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ -z "${FAKE_KUBE_BIN:-}" ] && [ -n "${LRB_BIN:-}" ]; then
  FAKE_KUBE_BIN="$(dirname "$LRB_BIN")/../../tests/fake_kube"
fi
: "${FAKE_KUBE_BIN:?set FAKE_KUBE_BIN to the fake_kube program}"

PASSED=0
FAILED=0
FAKE_PID=""
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lrb-fake-kube.XXXXXX")

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

# A throw-away PKI: a CA, a server certificate for 127.0.0.1 and a
# client certificate for "carol".
make_pki() {
  local q=(-days 1 -nodes)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "${q[@]}" \
    -keyout "$DIR/ca.key" -out "$DIR/ca.crt" -subj "/CN=fake-kube-ca" \
    2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$DIR/server.key" -out "$DIR/server.csr" -subj "/CN=fake-kube" \
    2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$DIR/san.ext"
  openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" \
    -CAkey "$DIR/ca.key" -CAcreateserial -days 1 -extfile "$DIR/san.ext" \
    -out "$DIR/server.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$DIR/carol.key" -out "$DIR/carol.csr" \
    -subj "/O=lrb:agents/CN=carol" 2>/dev/null
  openssl x509 -req -in "$DIR/carol.csr" -CA "$DIR/ca.crt" \
    -CAkey "$DIR/ca.key" -CAcreateserial -days 1 -out "$DIR/carol.crt" \
    2>/dev/null
}

# A kubectl-shaped snapshot: 3 nodes and 12 pods, 4 in each of ns-a,
# ns-b and ns-c.
make_snapshot() {
  jq -n '{kind: "List", apiVersion: "v1", metadata: {resourceVersion: ""},
    items: (
      [range(3) | {kind: "Node", apiVersion: "v1",
        metadata: {name: "node-\(.)", resourceVersion: "10"},
        status: {allocatable: {cpu: "4", memory: "16Gi"}}}] +
      [range(12) | {kind: "Pod", apiVersion: "v1",
        metadata: {name: "pod-\(.)",
          namespace: "ns-\(["a", "b", "c"][. % 3])",
          resourceVersion: "20"},
        spec: {nodeName: "node-\(. % 3)",
          containers: [{name: "app", image: "app:1",
            resources: {requests: {cpu: "100m"}}}]},
        status: {phase: "Running"}}])}' >"$DIR/snapshot.json"
}

start_fake() {
  "$FAKE_KUBE_BIN" --tls-cert "$DIR/server.crt" --tls-key "$DIR/server.key" \
    --client-ca "$DIR/ca.crt" --token "s3cret=alice" --token "b0b=bob" \
    --forbid bob --snapshot "$DIR/snapshot.json" \
    --port-file "$DIR/port" 2>"$DIR/fake.log" &
  FAKE_PID=$!
  local deadline=$((SECONDS + 10))
  while [ ! -s "$DIR/port" ]; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$FAKE_PID" 2>/dev/null; then
      echo "fake_kube did not start:" >&2
      cat "$DIR/fake.log" >&2
      exit 1
    fi
    sleep 0.05
  done
  PORT=$(cat "$DIR/port")
}

write_kubeconfig() {
  cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: alice
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:$PORT
    certificate-authority: ca.crt
contexts:
- name: alice
  context: {cluster: fake, user: alice}
- name: carol
  context: {cluster: fake, user: carol}
- name: bob
  context: {cluster: fake, user: bob}
- name: stranger
  context: {cluster: fake, user: stranger}
users:
- name: alice
  user: {token: s3cret}
- name: carol
  user: {client-certificate: carol.crt, client-key: carol.key}
- name: bob
  user: {token: b0b}
- name: stranger
  user: {token: not-a-token}
EOF
}

# k ARGS...: kubectl on the suite's kubeconfig, with its own caches.
k() {
  HOME="$DIR" timeout 30 kubectl --kubeconfig "$DIR/kubeconfig" \
    --cache-dir "$DIR/cache" --request-timeout 10s "$@"
}

make_pki
make_snapshot
start_fake
write_kubeconfig

# Discovery and reads.
check "server version is served" "v1.30.0-lrb-fake" \
  "$(k version -o json | jq -r .serverVersion.gitVersion)"
nodes=$(k get nodes -o json)
check "get nodes -o json lists 3 nodes in name order" \
  "node-0 node-1 node-2" \
  "$(jq -r '[.items[].metadata.name] | join(" ")' <<<"$nodes")"
check "node items keep their status" "16Gi" \
  "$(jq -r '.items[0].status.allocatable.memory' <<<"$nodes")"
check "get pods -A -o json lists 12 pods" "12" \
  "$(k get pods -A -o json | jq '.items | length')"

# Paging: 12 pods by 5 are 3 requests, the last two with continue.
trace=$(k get pods -A -o json --chunk-size=5 -v=6 2>&1 >"$DIR/paged.json")
check "a chunked list has all 12 pods" "12" \
  "$(jq '.items | length' "$DIR/paged.json")"
check "a chunked list takes 3 requests" "3" \
  "$(grep -c 'GET https://127.0.0.1:[0-9]*/api/v1/pods?' <<<"$trace")"
check "pages 2 and 3 carry a continue token" "2" \
  "$(grep -c '/api/v1/pods?continue=' <<<"$trace")"
check "a namespaced list returns that namespace only" "ns-b ns-b ns-b ns-b" \
  "$(k get pods -n ns-b -o json |
    jq -r '[.items[].metadata.namespace] | join(" ")')"
check "get one pod by name" "node-1" \
  "$(k get pod pod-4 -n ns-b -o jsonpath='{.spec.nodeName}')"

# Status errors, as kubectl prints them.
out=$(k get node missing 2>&1 || true)
check_contains "NotFound reaches kubectl" \
  'Error from server (NotFound): nodes "missing" not found' "$out"
out=$(k --context bob get nodes 2>&1 || true)
check_contains "Forbidden reaches kubectl" \
  'Error from server (Forbidden): nodes is forbidden: User "bob" cannot list resource "nodes"' \
  "$out"
out=$(k --context stranger get nodes 2>&1 || true)
check_contains "an unknown token is Unauthorized" "Unauthorized" "$out"

# Client certificates.
check "a client certificate authenticates" "3" \
  "$(k --context carol get nodes -o json | jq '.items | length')"

# Liqo ResourceSlices through kubectl.
cat >"$DIR/slice.yaml" <<'EOF'
apiVersion: authentication.liqo.io/v1beta1
kind: ResourceSlice
metadata:
  name: r-1
  namespace: liqo-tenant
spec:
  class: default
  providerClusterID: milan
  resources:
    cpu: "2"
    memory: 4Gi
EOF
out=$(k create --validate=false -f "$DIR/slice.yaml" 2>&1 || true)
check_contains "kubectl creates a ResourceSlice" "created" "$out"
out=$(k create --validate=false -f "$DIR/slice.yaml" 2>&1 || true)
check_contains "a duplicate create is AlreadyExists" "AlreadyExists" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca.crt" \
  -X POST -H 'Content-Type: application/json' \
  -d '{"conditions":[{"type":"Resources","status":"Accepted"}],
       "resources":{"cpu":"2","memory":"4Gi"}}' \
  "https://127.0.0.1:$PORT/fake/resourceslices/liqo-tenant/r-1/status")
check "the control endpoint sets a slice's status" "200" "$code"
check "kubectl sees the status" "Accepted" \
  "$(k get resourceslices -n liqo-tenant -o json |
    jq -r '.items[0].status.conditions[0].status')"
check "kubectl gets the slice with its uid" "true" \
  "$(k get resourceslice r-1 -n liqo-tenant -o json |
    jq '.metadata.uid | length > 0')"
out=$(k delete resourceslice r-1 -n liqo-tenant --wait=false 2>&1 || true)
check_contains "kubectl deletes the slice" "deleted" "$out"
out=$(k get resourceslice r-1 -n liqo-tenant 2>&1 || true)
check_contains "a deleted slice is NotFound" "NotFound" "$out"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
