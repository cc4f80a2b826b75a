# shellcheck shell=bash disable=SC2034 # globals are read by the suites
# Helpers of the suites that talk to the fake Kubernetes API server
# (tests/fake_kube), on top of lib.sh: a throw-away PKI and a started,
# tracked fake_kube process. The fake serves a kubectl-shaped snapshot
# over TLS on 127.0.0.1 and is stopped by lib.sh's EXIT trap.

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -z ${FAKE_KUBE_BIN:-} ]]; then
  FAKE_KUBE_BIN="$(dirname "$LRB_BIN")/../../tests/fake_kube"
fi
declare -A FAKE_PORT=()

# fake_pki [CLIENT...]: makes in E2E_DIR a CA (ca.crt), a server
# certificate for 127.0.0.1 and localhost (server.crt), and a client
# certificate CLIENT.crt for each CLIENT, with CN=CLIENT.
fake_pki() {
  local d=$E2E_DIR ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  local sign=(-CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 1)
  openssl req -x509 "${ec[@]}" -days 1 -keyout "$d/ca.key" \
    -out "$d/ca.crt" -subj "/CN=fake-kube-ca" 2>/dev/null
  openssl req "${ec[@]}" -keyout "$d/server.key" -out "$d/server.csr" \
    -subj "/CN=fake-kube" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext"
  openssl x509 -req -in "$d/server.csr" "${sign[@]}" -extfile "$d/san.ext" \
    -out "$d/server.crt" 2>/dev/null
  local client
  for client in "$@"; do
    openssl req "${ec[@]}" -keyout "$d/$client.key" -out "$d/$client.csr" \
      -subj "/O=lrb:agents/CN=$client" 2>/dev/null
    openssl x509 -req -in "$d/$client.csr" "${sign[@]}" \
      -out "$d/$client.crt" 2>/dev/null
  done
}

# fake_start NAME SNAPSHOT [FAKE_KUBE_FLAGS...]: serves SNAPSHOT with the
# server certificate of fake_pki, waits at most 10 s for its port and
# sets FAKE_PORT[NAME]. Returns 1, with the fake's log, if it does not
# come up.
fake_start() {
  local name=$1 snapshot=$2
  shift 2
  local port_file="$E2E_DIR/$name.port" log="$E2E_DIR/fake-$name.log"
  "$FAKE_KUBE_BIN" --tls-cert "$E2E_DIR/server.crt" \
    --tls-key "$E2E_DIR/server.key" --snapshot "$snapshot" \
    --port-file "$port_file" "$@" 2>"$log" &
  local pid=$!
  track_pid "$pid"
  local deadline=$(($(now_ms) + 10000))
  until [[ -s $port_file ]]; do
    if (($(now_ms) > deadline)) || ! kill -0 "$pid" 2>/dev/null; then
      echo "fake_kube $name did not start:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  FAKE_PORT[$name]=$(tr -d '[:space:]' <"$port_file")
}
