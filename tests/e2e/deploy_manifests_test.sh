#!/usr/bin/env bash
# The Kubernetes manifests of deploy/ are valid and as locked down as the
# deployment guide says.
#
# kubectl maps each manifest to its resource through the API server's
# discovery and reads the live object before applying, even with
# --dry-run=client, so it is pointed at the fake API server
# (tests/fake_kube), which knows these kinds and holds none of them, as
# a cluster before the first apply would. The fake serves no OpenAPI
# schema, so kubectl's schema validation is off (--validate=false); the
# fields that matter are checked here instead, on the objects kubectl
# would send: the pod runs as non-root uid 65532 on a read-only root
# filesystem, without privilege escalation or capabilities, under the
# RuntimeDefault seccomp profile, with requests and limits; the agent's
# ClusterRole is exactly the minimal one; the token reaches the pod as
# a file, never as an environment variable.
set -euo pipefail

LRB_SOURCE_DIR=${LRB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/e2e/fake_kube_lib.sh
source "$(dirname "$0")/fake_kube_lib.sh"
e2e_init
DIR=$E2E_DIR

# The smallest snapshot the fake serves: one node, no pods.
jq -n '{kind: "List", apiVersion: "v1", metadata: {resourceVersion: ""},
  items: [{kind: "Node", apiVersion: "v1",
    metadata: {name: "node-0", resourceVersion: "10"},
    status: {allocatable: {cpu: "4", memory: "16Gi"}}}]}' \
  >"$DIR/snapshot.json"
fake_pki
fake_start fake "$DIR/snapshot.json" --token "d3ploy=deployer" || exit 1
cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: deployer
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:${FAKE_PORT[fake]}
    certificate-authority: ca.crt
contexts:
- name: deployer
  context: {cluster: fake, user: deployer}
users:
- name: deployer
  user: {token: d3ploy}
EOF

# k ARGS...: kubectl on the suite's kubeconfig, with its own caches.
k() {
  HOME="$DIR" timeout 60 kubectl --kubeconfig "$DIR/kubeconfig" \
    --cache-dir "$DIR/cache" --request-timeout 10s "$@"
}

# q FILTER: runs a jq FILTER on what kubectl would apply.
q() {
  jq -c "$1" "$DIR/applied.json"
}

# --- kubectl accepts every manifest --------------------------------------
rc=0
k apply --dry-run=client --validate=false -f "$LRB_SOURCE_DIR/deploy/" \
  -o json >"$DIR/applied.json" 2>"$DIR/kubectl.err" || rc=$?
check "kubectl apply --dry-run=client -f deploy/ succeeds" \
  "exit $rc: $(head -c 300 "$DIR/kubectl.err")" test "$rc" -eq 0
expect_eq "it would create the seven objects" \
  '["ClusterRole","ClusterRoleBinding","ConfigMap","Deployment","Namespace","Secret","ServiceAccount"]
7' "$(q '[.items[].kind] | unique')
$(q '.items | length')"
expect_eq "every namespaced object is in lrb-system" '["lrb-system"]' \
  "$(q '[.items[] | select(.kind | test("^(Namespace|ClusterRole.*)$")
        | not) | .metadata.namespace] | unique')"

# The same files, parsed by yq rather than kubectl, agree.
expect_eq "yq reads the same objects" "$(q '[.items[].kind] | sort')" \
  "$(yq -c -s '[.[] | select(. != null) | .kind] | sort' \
    "$LRB_SOURCE_DIR"/deploy/*.yaml)"

# --- the pod -------------------------------------------------------------
pod='.items[] | select(.kind == "Deployment") | .spec.template.spec'
agent="$pod | .containers[] | select(.name == \"agent\")"
expect_eq "one replica, replaced rather than rolled" '[1,"Recreate"]' \
  "$(q "[.items[] | select(.kind == \"Deployment\")
        | .spec.replicas, .spec.strategy.type]")"
expect_eq "the pod runs as non-root uid 65532 under RuntimeDefault" \
  '[true,65532,"RuntimeDefault"]' \
  "$(q "[$pod | .securityContext | .runAsNonRoot, .runAsUser,
        .seccompProfile.type]")"
expect_eq "the container cannot escalate, write its root or keep a cap" \
  '[false,true,true,65532,["ALL"],null,"RuntimeDefault"]' \
  "$(q "[$agent | .securityContext | .allowPrivilegeEscalation,
        .readOnlyRootFilesystem, .runAsNonRoot, .runAsUser,
        .capabilities.drop, .capabilities.add, .seccompProfile.type]")"
expect_eq "it has cpu and memory requests and limits" 'true' \
  "$(q "$agent | .resources | [.requests, .limits]
        | all(has(\"cpu\") and has(\"memory\"))")"
expect_eq "no host namespace, port or path" '[null,null,null,[]]' \
  "$(q "[$pod | .hostNetwork, .hostPID, .hostIPC,
        [.volumes[] | select(.hostPath)]]")"
expect_eq "it runs as the lrb-agent ServiceAccount" '"lrb-agent"' \
  "$(q "$pod | .serviceAccountName")"
expect_eq "it writes only to emptyDir volumes" '[]' \
  "$(q "($pod | [.volumes[] | select(.emptyDir) | .name]) as \$scratch
        | [$agent | .volumeMounts[] | select(.readOnly != true)
           | select(.name as \$n | \$scratch | index(\$n) | not) | .name]")"
expect_eq "the token is a file, never an environment variable" \
  '["/etc/lrb/credentials/token",[]]' \
  "$(q "[($agent | .env[] | select(.name == \"LRB_TOKEN_FILE\") | .value),
        [$agent | .env[] | select(.name == \"LRB_TOKEN\")]]")"
expect_eq "both probes GET /healthz on the named port metrics" \
  '[["/healthz","metrics"],["/healthz","metrics"]]' \
  "$(q "[$agent | .livenessProbe, .readinessProbe
        | [.httpGet.path, .httpGet.port]]")"
expect_eq "port metrics is the one --metrics-listen binds (9090)" \
  '[9090,"9090"]' \
  "$(q "[($agent | .ports[] | select(.name == \"metrics\")
        | .containerPort),
        ($agent | .args[] | select(startswith(\"--metrics-listen=\"))
        | split(\":\") | last)]")"

# --- RBAC ----------------------------------------------------------------
expect_eq "the ClusterRole is the minimal one" \
  '[{"apiGroups":[""],"resources":["nodes","pods"],"verbs":["get","list","watch"]},{"apiGroups":["authentication.liqo.io"],"resources":["resourceslices"],"verbs":["create","delete","get","list","watch"]}]' \
  "$(q '[.items[] | select(.kind == "ClusterRole") | .rules[]
        | {apiGroups, resources: (.resources | sort),
           verbs: (.verbs | sort)}]')"
expect_eq "the binding grants it to the agent's ServiceAccount only" \
  '[{"kind":"ClusterRole","name":"lrb-agent"},[{"kind":"ServiceAccount","name":"lrb-agent","namespace":"lrb-system"}]]' \
  "$(q '.items[] | select(.kind == "ClusterRoleBinding")
        | [{kind: .roleRef.kind, name: .roleRef.name}, .subjects]')"
summary
