#!/usr/bin/env bash
# shellcheck disable=SC2034 # BROKER_* are read by lib.sh's cleanup
# End-to-end: the broker over TLS with client certificates, with every
# certificate made by `lrb certs`.
#
# A good client (curl and the lrb CLI, by flags and by LRB_* variables)
# is served; a client certificate from another CA and an expired one are
# refused in the handshake; a client without a certificate gets 401
# unless it sends a token; a client dialling a name the server
# certificate does not carry refuses the server. Then two agents run
# with their clusters' certificates and a reservation goes through its
# hooks to Active, all over mTLS.
set -uo pipefail
# shellcheck source=tests/e2e/agent_lib.sh
source "$(dirname "$0")/agent_lib.sh"
e2e_init

PKI="$E2E_DIR/pki"
OTHER="$E2E_DIR/other-pki"
lrb_quiet() { "$LRB_BIN" "$@" >/dev/null 2>&1; }

# --- lrb certs -----------------------------------------------------------
check "certs init makes a CA" "failed" lrb_quiet certs init --dir "$PKI" \
  --days 30
check "certs issue makes the broker's server certificate" "failed" \
  lrb_quiet certs issue --dir "$PKI" --server --host localhost
for c in rome paris; do
  check "certs issue makes $c's client certificate" "failed" \
    lrb_quiet certs issue --dir "$PKI" --cluster "$c"
done
check "certs issue makes an operator's certificate" "failed" \
  lrb_quiet certs issue --dir "$PKI" --name alice --role operator
check "an expired certificate can be made for the test" "failed" \
  lrb_quiet certs issue --dir "$PKI" --cluster berlin --days 1 --backdate 2 \
  --out expired
lrb_quiet certs init --dir "$OTHER"
lrb_quiet certs issue --dir "$OTHER" --cluster rome
expect_eq "the CA key is 0600" 600 "$(stat -c %a "$PKI/ca.key")"
expect_eq "a client key is 0600" 600 "$(stat -c %a "$PKI/rome.key")"
subject=$(openssl x509 -in "$PKI/rome.crt" -noout -subject -ext \
  subjectAltName -nameopt sep_comma_plus 2>/dev/null | tr '\n' ' ')
expect_match "rome's certificate: CN=rome, DNS:rome" \
  "CN=rome.*DNS:rome" "$subject"
check "openssl verifies rome's certificate against the CA" "failed" \
  openssl verify -CAfile "$PKI/ca.crt" -purpose sslclient "$PKI/rome.crt"
rc=0
"$LRB_BIN" certs issue --dir "$PKI" --cluster rome >/dev/null 2>&1 || rc=$?
expect_eq "issuing over an existing pair needs --force (exit 4)" 4 "$rc"

# --- the broker ----------------------------------------------------------
TOKEN=tok-$(openssl rand -hex 16)
printf '%s ci viewer\n' "$TOKEN" >"$E2E_DIR/tokens"
chmod 644 "$E2E_DIR/tokens"
rc=0
out=$("$LRB_BIN" broker --listen 127.0.0.1:0 --db "$E2E_DIR/x.db" \
  --tokens-file "$E2E_DIR/tokens" 2>&1) || rc=$?
expect_eq "a world-readable tokens file stops the broker (exit 2)" 2 "$rc"
expect_match "and says how to fix it" "chmod 600" "$out"
chmod 600 "$E2E_DIR/tokens"

start_broker "$E2E_DIR/broker" --tls-cert "$PKI/server.crt" \
  --tls-key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
  --tokens-file "$E2E_DIR/tokens" --log-level debug || exit 1
BROKER_URL="https://localhost:$BROKER_PORT"
IP_URL="https://127.0.0.1:$BROKER_PORT"
check "the broker does not warn about plain HTTP" "it does" \
  bash -c "! grep -q 'plain HTTP' '$BROKER_LOG'"

# curl CLIENT PATH [ARGS...]: one GET as CLIENT (a certificate stem of
# PKI, "-" for none); sets STATUS and BODY, STATUS 000 when the
# handshake failed.
as() {
  local client=$1 path=$2
  shift 2
  local creds=(--cacert "$PKI/ca.crt")
  if [[ $client != - ]]; then
    creds+=(--cert "$client.crt" --key "$client.key")
  fi
  api_raw GET "$path" "${creds[@]}" "$@"
}

as "$PKI/alice" /api/v1/clusters
expect_status "curl with the operator's certificate is served" 200
as "$OTHER/rome" /api/v1/clusters
expect_eq "a certificate from another CA is refused in the handshake" \
  000 "$STATUS"
as "$PKI/expired" /api/v1/clusters
expect_eq "an expired certificate is refused in the handshake" 000 "$STATUS"
as - /api/v1/clusters
expect_error "no certificate and no token: 401" 401 "*"
hdr=$(curl -sS -o /dev/null -D - --cacert "$PKI/ca.crt" --max-time 10 \
  "$BROKER_URL/api/v1/clusters" 2>/dev/null | tr -d '\r')
expect_match "with a WWW-Authenticate challenge" \
  "[Ww][Ww][Ww]-[Aa]uthenticate: Bearer" "$hdr"
as - /api/v1/clusters -H "Authorization: Bearer $TOKEN"
expect_status "no certificate but a token: served" 200
as - /healthz
expect_status "the health endpoint needs no credentials" 200
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
  "http://127.0.0.1:$BROKER_PORT/healthz" 2>/dev/null) || true
expect_ne "plain HTTP to the TLS port gets no HTTP answer" 200 "$STATUS"
rc=0
curl -sS -o /dev/null --max-time 10 --cacert "$PKI/ca.crt" \
  --cert "$PKI/alice.crt" --key "$PKI/alice.key" "$IP_URL/healthz" \
  2>/dev/null || rc=$?
expect_eq "curl refuses a server name not in the certificate (exit 60)" \
  60 "$rc"

# --- the lrb CLI -----------------------------------------------------------
cli() {
  CLI_RC=0
  CLI_OUT=$("$LRB_BIN" "$@" 2>"$E2E_DIR/cli.err") || CLI_RC=$?
  CLI_ERR=$(tr '\n' ' ' <"$E2E_DIR/cli.err")
}
cli --broker "$BROKER_URL" --ca "$PKI/ca.crt" --cert "$PKI/alice.crt" \
  --key "$PKI/alice.key" -o name get clusters
expect_eq "lrb with --ca, --cert and --key is served" "0" "$CLI_RC"
cli --broker "$BROKER_URL" --token "$TOKEN" --ca "$PKI/ca.crt" -o json \
  get clusters
expect_eq "lrb with --token is served" "0 object" \
  "$CLI_RC $(jq -r type <<<"$CLI_OUT" 2>/dev/null)"
CLI_RC=0
CLI_OUT=$(LRB_BROKER=$BROKER_URL LRB_CA=$PKI/ca.crt LRB_CERT=$PKI/alice.crt \
  LRB_KEY=$PKI/alice.key "$LRB_BIN" -o name get reservations 2>&1) ||
  CLI_RC=$?
expect_eq "lrb with LRB_CA, LRB_CERT and LRB_KEY is served" "0" "$CLI_RC"
cli --broker "$BROKER_URL" get clusters --ca "$PKI/ca.crt"
expect_eq "lrb without credentials: exit 1 (401)" 1 "$CLI_RC"
expect_match "and the broker's reason" "needs credentials" "$CLI_ERR"
cli --broker "$IP_URL" --ca "$PKI/ca.crt" --cert "$PKI/alice.crt" \
  --key "$PKI/alice.key" get clusters
expect_eq "lrb refuses a server name not in the certificate (exit 5)" 5 \
  "$CLI_RC"
expect_match "with a clear error" \
  "certificate verify failed: IP address mismatch: check --ca" "$CLI_ERR"
cli --broker "$BROKER_URL" --ca "$OTHER/ca.crt" --cert "$PKI/alice.crt" \
  --key "$PKI/alice.key" get clusters
expect_eq "lrb refuses a server its CA did not sign (exit 5)" 5 "$CLI_RC"
expect_match "saying why" "certificate verify failed" "$CLI_ERR"
cli --broker "$IP_URL" --insecure-skip-tls-verify --cert "$PKI/alice.crt" \
  --key "$PKI/alice.key" -o name get clusters
expect_eq "--insecure-skip-tls-verify connects anyway" 0 "$CLI_RC"
expect_match "with a warning on stderr" "warning: --insecure-skip-tls" \
  "$CLI_ERR"
check "the token never reaches the broker's log" "it does" \
  bash -c "! grep -qF '$TOKEN' '$BROKER_LOG'"
check "the request log names the caller" "no identity=" \
  grep -q 'identity="alice (operator)"\|identity=alice' "$BROKER_LOG"

# --- agents over mTLS ------------------------------------------------------
# lib.sh's helpers (phase_is, cluster_known) use curl: a curlrc gives
# them the operator's certificate.
mkdir -p "$E2E_DIR/curlhome"
printf 'cacert = "%s"\ncert = "%s"\nkey = "%s"\n' "$PKI/ca.crt" \
  "$PKI/alice.crt" "$PKI/alice.key" >"$E2E_DIR/curlhome/.curlrc"
export CURL_HOME="$E2E_DIR/curlhome"
make_snapshot "$E2E_DIR/rome.json" 8 32Gi europe-west8
make_snapshot "$E2E_DIR/paris.json" 16 64Gi europe-west9
start_agent rome --snapshot "$E2E_DIR/rome.json" --interval 1s \
  --ca "$PKI/ca.crt" --cert "$PKI/rome.crt" --key "$PKI/rome.key" \
  --on-reserved "echo \$LRB_RESERVATION_ID >>$E2E_DIR/reserved.log"
LRB_CA=$PKI/ca.crt LRB_CERT=$PKI/paris.crt LRB_KEY=$PKI/paris.key \
  start_agent paris --snapshot "$E2E_DIR/paris.json" --interval 1s \
  --on-provide "echo \$LRB_RESERVATION_ID >>$E2E_DIR/provided.log"
check "both agents advertise over mTLS" "not both known" \
  wait_for 20 eval 'cluster_known rome && cluster_known paris'
export LRB_CA=$PKI/ca.crt LRB_CERT=$PKI/alice.crt LRB_KEY=$PKI/alice.key
reserve --requester rome --cpu 2 --mem 4Gi
R1=$RES_ID
check "rome's hook activates the reservation" "phase $(jb .status.phase)" \
  wait_for 15 phase_is "$R1" Active
check "rome's on-reserved hook ran" "no line" \
  wait_for 5 grep -qx "$R1" "$E2E_DIR/reserved.log"
check "paris's on-provide hook ran" "no line" \
  wait_for 10 grep -qx "$R1" "$E2E_DIR/provided.log"
check "the broker logged the agents by their certificates" "no agent:rome" \
  grep -q 'agent:rome' "$BROKER_LOG"
for name in rome paris; do
  stop_agent "$name"
done
doctor_check "the invariant holds"
finish
