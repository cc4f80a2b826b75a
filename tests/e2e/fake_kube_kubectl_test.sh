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

# shellcheck source=tests/e2e/fake_kube_lib.sh
source "$(dirname "$0")/fake_kube_lib.sh"
e2e_init
DIR=$E2E_DIR

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
  fake_start fake "$DIR/snapshot.json" --client-ca "$DIR/ca.crt" \
    --token "s3cret=alice" --token "b0b=bob" --forbid bob || exit 1
  PORT=${FAKE_PORT[fake]}
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

fake_pki carol
make_snapshot
start_fake
write_kubeconfig

# Discovery and reads.
expect_eq "server version is served" "v1.30.0-lrb-fake" \
  "$(k version -o json | jq -r .serverVersion.gitVersion)"
nodes=$(k get nodes -o json)
expect_eq "get nodes -o json lists 3 nodes in name order" \
  "node-0 node-1 node-2" \
  "$(jq -r '[.items[].metadata.name] | join(" ")' <<<"$nodes")"
expect_eq "node items keep their status" "16Gi" \
  "$(jq -r '.items[0].status.allocatable.memory' <<<"$nodes")"
expect_eq "get pods -A -o json lists 12 pods" "12" \
  "$(k get pods -A -o json | jq '.items | length')"

# Paging: 12 pods by 5 are 3 requests, the last two with continue.
trace=$(k get pods -A -o json --chunk-size=5 -v=6 2>&1 >"$DIR/paged.json")
expect_eq "a chunked list has all 12 pods" "12" \
  "$(jq '.items | length' "$DIR/paged.json")"
expect_eq "a chunked list takes 3 requests" "3" \
  "$(grep -c 'GET https://127.0.0.1:[0-9]*/api/v1/pods?' <<<"$trace")"
expect_eq "pages 2 and 3 carry a continue token" "2" \
  "$(grep -c '/api/v1/pods?continue=' <<<"$trace")"
expect_eq "a namespaced list returns that namespace only" "ns-b ns-b ns-b ns-b" \
  "$(k get pods -n ns-b -o json |
    jq -r '[.items[].metadata.namespace] | join(" ")')"
expect_eq "get one pod by name" "node-1" \
  "$(k get pod pod-4 -n ns-b -o jsonpath='{.spec.nodeName}')"

# Status errors, as kubectl prints them.
out=$(k get node missing 2>&1 || true)
expect_contains "NotFound reaches kubectl" \
  'Error from server (NotFound): nodes "missing" not found' "$out"
out=$(k --context bob get nodes 2>&1 || true)
expect_contains "Forbidden reaches kubectl" \
  'Error from server (Forbidden): nodes is forbidden: User "bob" cannot list resource "nodes"' \
  "$out"
out=$(k --context stranger get nodes 2>&1 || true)
expect_contains "an unknown token is Unauthorized" "Unauthorized" "$out"

# Client certificates.
expect_eq "a client certificate authenticates" "3" \
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
expect_contains "kubectl creates a ResourceSlice" "created" "$out"
out=$(k create --validate=false -f "$DIR/slice.yaml" 2>&1 || true)
expect_contains "a duplicate create is AlreadyExists" "AlreadyExists" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca.crt" \
  -X POST -H 'Content-Type: application/json' \
  -d '{"conditions":[{"type":"Resources","status":"Accepted"}],
       "resources":{"cpu":"2","memory":"4Gi"}}' \
  "https://127.0.0.1:$PORT/fake/resourceslices/liqo-tenant/r-1/status")
expect_eq "the control endpoint sets a slice's status" "200" "$code"
expect_eq "kubectl sees the status" "Accepted" \
  "$(k get resourceslices -n liqo-tenant -o json |
    jq -r '.items[0].status.conditions[0].status')"
expect_eq "kubectl gets the slice with its uid" "true" \
  "$(k get resourceslice r-1 -n liqo-tenant -o json |
    jq '.metadata.uid | length > 0')"
out=$(k delete resourceslice r-1 -n liqo-tenant --wait=false 2>&1 || true)
expect_contains "kubectl deletes the slice" "deleted" "$out"
out=$(k get resourceslice r-1 -n liqo-tenant 2>&1 || true)
expect_contains "a deleted slice is NotFound" "NotFound" "$out"

summary
