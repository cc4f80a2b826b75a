#!/usr/bin/env bash
# The CLI's failures as scripts see them: every exit status of DESIGN.md
# section 9 (2 usage, 3 the reservation failed, 5 broker unreachable,
# 124 timed out, 1 not found) from a real situation, always with one
# "lrb: error:" line on stderr that names what to fix; where settings
# come from (flag over environment over config file); the bearer token
# reaching the wire; colour only on a terminal.
set -euo pipefail
source "$(dirname "$0")/cli_lib.sh"

cli_init
# Short timers: an unactivated reservation expires after 2 s.
cli_start_broker --activation-timeout 2s --sweep-interval 200ms
CLOSED="http://127.0.0.1:$(closed_port)"
CONFIG="$XDG_CONFIG_HOME/lrb/config"
mkdir -p "$(dirname "$CONFIG")"

# ----- usage errors: exit 2, naming the flag --------------------------

export LRB_BROKER=$BROKER_URL
expect_usage "an unknown flag" "--bogus" reserve --bogus
expect_usage "a bad quantity names its flag and value" \
  '--cpu: invalid quantity "4x"' reserve --cpu 4x --mem 1Gi --requester rome
expect_usage "a missing value" "--cpu" \
  reserve --requester rome --mem 1Gi --cpu
expect_usage "an unknown output format" "--output: xml" get clusters -o xml
expect_usage "weights that do not sum to 1" "--weights" \
  explain --cpu 1 --mem 1Gi --requester rome --weights 0.5,0.6
expect_usage "a duration in days" "--duration" \
  reserve --cpu 1 --mem 1Gi --requester rome --duration 1d
expect_usage "an unknown phase" "--phase" get res --phase Bogus
expect_usage "renew without --duration" "--duration is required" renew r-1
expect_usage "a bad grant" "--granted" activate r-1 --granted cpu
expect_usage "no requester anywhere" \
  "--requester: no requester cluster given.*LRB_CLUSTER" \
  reserve --cpu 1 --mem 1Gi
expect_usage "a format a verb does not print" "-o name: .lrb events." \
  events -o name
expect_usage "a missing id" "ID is required" describe cluster
expect_usage "no kind after get" "subcommand is required" get
expect_usage "a broker URL without scheme" "--broker: broker URL" \
  --broker 127.0.0.1:7070 get clusters
expect_usage "a --config file that does not exist" "--config: cannot read" \
  --config "$E2E_DIR/none" get clusters
lrb_run
expect_rc "no verb at all is a usage error" 2

# ----- not found, failed, timed out -----------------------------------

lrb_run describe reservation r-0000000000000000
expect_rc "an unknown reservation exits 1" 1
expect_error_line "and says which" "^lrb: error: get reservation r-0{16}: "

lrb_run reserve --cpu 1 --mem 1Gi --requester rome --wait --timeout 1s
expect_rc "--wait past --timeout exits 124" 124
expect_error_line "the timeout says what is still pending" \
  "r-[0-9a-f]{16} is still Reserved after 1s"
expect_match "the reservation is printed before giving up" \
  "^ID .*"$'\n'"r-[0-9a-f]{16} +[a-z]+ +Reserved" "$OUT"

lrb_run reserve --cpu 1 --mem 1Gi --requester rome --wait --timeout 20s
expect_rc "a reservation that expires while waited for exits 3" 3
expect_error_line "and says it ended Expired" "ended Expired before becoming"

# ----- broker unreachable: exit 5 -------------------------------------

lrb_run --broker "$CLOSED" get clusters
expect_rc "an unreachable broker exits 5" 5
expect_error_line "the error names the URL, its source and the fix" \
  "cannot reach $CLOSED.*came from --broker.*--broker or LRB_BROKER"
LRB_BROKER=$CLOSED lrb_run version
expect_rc "version never fails because the broker is down" 0
expect_match "version says the broker is unknown" \
  "^Client Version: .*"$'\n'"Broker Version: unknown \(" "$OUT"
lrb_run --broker "https://127.0.0.1:${CLOSED##*:}" \
  --insecure-skip-tls-verify get clusters
expect_rc "https to a closed port exits 5" 5
expect_match "--insecure-skip-tls-verify warns on stderr" \
  "^lrb: warning: --insecure-skip-tls-verify: " "$ERR"

# ----- precedence: flag over environment over config file ---------------

unset LRB_BROKER
printf 'broker = %s\n' "$CLOSED" >"$CONFIG"
lrb_run get clusters -o name
expect_rc "the config file's broker is used" 5
expect_error_line "and named as the source" "came from broker \($CONFIG\)"
LRB_BROKER=$BROKER_URL lrb_run get clusters -o name
expect_rc "LRB_BROKER wins over the config file" 0
LRB_BROKER=$BROKER_URL lrb_run --broker "$CLOSED" get clusters -o name
expect_rc "--broker wins over LRB_BROKER" 5
printf 'broker = %s\noutput = json\nrequester = rome\n' "$BROKER_URL" \
  >"$E2E_DIR/other.conf"
lrb_run --config "$E2E_DIR/other.conf" get clusters
expect_rc "--config replaces the default file" 0
expect_eq "the file's output format applies" 3 "$(oj '.items | length')"
lrb_run --config "$E2E_DIR/other.conf" get clusters -o name
expect_eq "-o wins over the file's output" 3 "$(out_lines)"

# excluded [EXPLAIN_ARGS...]: the clusters a small request leaves out,
# which is the requester alone (the other two fit), with other.conf.
excluded() {
  lrb_run --config "$E2E_DIR/other.conf" explain --cpu 1 --mem 1Gi -o json \
    "$@"
  oj '[.rows[] | select(.candidate | not) | .clusterID] | join(",")'
}
expect_eq "the requester comes from the config file" rome "$(excluded)"
expect_eq "LRB_CLUSTER wins over the config file" paris \
  "$(LRB_CLUSTER=paris excluded)"
expect_eq "--requester wins over LRB_CLUSTER" berlin \
  "$(LRB_CLUSTER=paris excluded --requester berlin)"
printf 'brokr = x\n' >"$CONFIG"
lrb_run get clusters
expect_rc "a config file with an unknown key is a usage error" 2
expect_error_line "naming the file and line" \
  "config file $CONFIG line 1: unknown key \"brokr\""
rm -f "$CONFIG"

# ----- the bearer token reaches the wire ------------------------------

# A one-file HTTP server on 127.0.0.1 that records Authorization headers
# and answers an empty list; it stops by itself after 60 s.
python3 - "$E2E_DIR/capture" <<'PY' &
import http.server, os, sys, time
out = sys.argv[1]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(out + ".auth", "a") as f:
            f.write(self.headers.get("Authorization", "-") + "\n")
        body = b'{"items": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.timeout = 0.5
with open(out + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(out + ".tmp", out + ".port")
end = time.time() + 60
while time.time() < end:
    server.handle_request()
PY
track_pid $!
check "the capture server starts" "no port in 10 s" \
  wait_for 10 test -s "$E2E_DIR/capture.port"
CAPTURE="http://127.0.0.1:$(cat "$E2E_DIR/capture.port")"
printf 's3cret-file\n' >"$E2E_DIR/token"
lrb_run --broker "$CAPTURE" --token-file "$E2E_DIR/token" get clusters
LRB_TOKEN=s3cret-env lrb_run --broker "$CAPTURE" get clusters
printf 'token-file = token\n' >"$XDG_CONFIG_HOME/lrb/config"
cp "$E2E_DIR/token" "$XDG_CONFIG_HOME/lrb/token"
lrb_run --broker "$CAPTURE" get clusters
expect_eq "tokens from --token-file, LRB_TOKEN and the config's file" \
  "Bearer s3cret-file,Bearer s3cret-env,Bearer s3cret-file" \
  "$(paste -sd, "$E2E_DIR/capture.auth")"
rm -f "$XDG_CONFIG_HOME/lrb/config"
LRB_TOKEN_FILE="$E2E_DIR/none" lrb_run --broker "$CAPTURE" get clusters
expect_rc "an unreadable token file is a usage error" 2
expect_error_line "naming LRB_TOKEN_FILE" "^lrb: error: LRB_TOKEN_FILE: "

# ----- colour only on a terminal ---------------------------------------

# script(1) gives the CLI a terminal; Ready is painted green there only.
on_tty() {
  script -qec "$(printf '%q ' "$@")" /dev/null 2>/dev/null | tr -d '\r'
}
export LRB_BROKER=$BROKER_URL
expect_eq "on a terminal, states are coloured" 1 \
  "$(on_tty "$LRB_BIN" get cl paris | grep -c $'\033\\[32mReady' || true)"
expect_eq "NO_COLOR turns colour off" 0 \
  "$(NO_COLOR=1 on_tty "$LRB_BIN" get cl paris | grep -c $'\033' || true)"
expect_eq "--no-color turns colour off" 0 \
  "$(on_tty "$LRB_BIN" --no-color get cl paris | grep -c $'\033' || true)"

summary
