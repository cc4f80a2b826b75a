#!/usr/bin/env bash
# shellcheck disable=SC2034 # BROKER_* are read by lib.sh's cleanup
# End-to-end: the agent's --metrics-listen endpoint.
#
# An agent started with --metrics-listen 127.0.0.1:0 writes the port it
# bound to --metrics-port-file; /healthz answers 200 "ok" while its loops
# run, /metrics is valid Prometheus text (promtool) labelled with the
# cluster and counts the advertisements the broker accepted, anything
# else is a 404 JSON error, and SIGTERM stops the agent and the server.
set -uo pipefail
# shellcheck source=tests/e2e/agent_lib.sh
source "$(dirname "$0")/agent_lib.sh"
e2e_init

make_snapshot "$E2E_DIR/rome.json" 8 32Gi europe-west8
start_broker "$E2E_DIR/broker" || exit 1
PORT_FILE="$E2E_DIR/rome.metrics-port"
start_agent rome --snapshot "$E2E_DIR/rome.json" --interval 1s \
  --metrics-listen 127.0.0.1:0 --metrics-port-file "$PORT_FILE"
check "the agent writes its metrics port" "no port in $PORT_FILE" \
  wait_for 10 test -s "$PORT_FILE"
MPORT=$(tr -d '[:space:]' <"$PORT_FILE" 2>/dev/null)
MURL="http://127.0.0.1:$MPORT"

# get PATH: sets STATUS, BODY and CTYPE from the metrics server.
get() {
  local out="$E2E_DIR/metrics.body"
  local meta
  meta=$(curl -sS -o "$out" -w '%{http_code} %{content_type}' \
    --max-time 5 "$MURL$1" 2>/dev/null) || meta="000 "
  STATUS=${meta%% *}
  CTYPE=${meta#* }
  BODY=$(cat "$out" 2>/dev/null) || BODY=""
}

get /healthz
expect_eq "/healthz answers 200 while the loops run" 200 "$STATUS"
expect_eq "/healthz says ok" ok "$BODY"

# Succeeds once /metrics counts at least one accepted advertisement.
advertised() {
  get /metrics
  local n
  n=$(sed -n 's/^lrb_agent_advertisements_total{cluster="rome"} //p' \
    <<<"$BODY")
  [[ $n =~ ^[0-9]+$ ]] && ((n > 0))
}
check "advertisements_total{cluster=\"rome\"} > 0 after it advertised" \
  "$(grep advertisements_total <<<"$BODY")" wait_for 10 advertised
expect_contains "/metrics is the Prometheus text format" "text/plain" \
  "$CTYPE"
check "/metrics passes promtool check metrics" \
  "$(promtool check metrics <<<"$BODY" 2>&1)" \
  eval 'promtool check metrics <<<"$BODY" >/dev/null 2>&1'
for name in advertise_errors_total slices_created_total \
  slices_deleted_total activations_total releases_total hooks_run_total \
  reservations_provided_total; do
  expect_match "lrb_agent_$name is exported with its TYPE and a value" \
    "# TYPE lrb_agent_$name counter"$'\n'"lrb_agent_${name}[{]cluster=\"rome\"[}] [0-9]+" \
    "$(grep -A1 "^# TYPE lrb_agent_$name " <<<"$BODY")"
done
# The gauge is the wall clock of the last advertisement, in seconds.
stamp=$(sed -n \
  's/^lrb_agent_last_advertisement_timestamp_seconds{cluster="rome"} //p' \
  <<<"$BODY")
now=$(date +%s)
check "last_advertisement_timestamp_seconds is within 60 s of now" \
  "stamp=$stamp now=$now" \
  eval '[[ $stamp =~ ^[0-9]+\.[0-9]{3}$ ]] && ((now - ${stamp%.*} < 60))'

get /nope
expect_eq "an unknown path is a 404" 404 "$STATUS"
expect_eq "with the JSON error shape" NotFound "$(jb .error.code)"
get_post() {
  STATUS=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
    --data-binary x "$MURL/metrics" 2>/dev/null) || STATUS=000
}
get_post
expect_eq "POST /metrics is a 404 too (the agent takes no writes)" 404 \
  "$STATUS"
get /metrics?x=1
expect_eq "a query string does not change the path" 200 "$STATUS"

stop_agent rome
expect_eq "the agent stops on SIGTERM with status 0" 0 "$WAIT_STATUS"
check "and its metrics server with it" "port $MPORT still answers" \
  eval '! curl -s --max-time 2 "$MURL/healthz" >/dev/null'

# An address that is not local stops the start, naming the flag. (A
# port already taken would not do: the server sets SO_REUSEPORT.) The
# documentation range 192.0.2.0/24 is only bound, never reached.
out=$(timeout 20 "$LRB_BIN" --broker "$BROKER_URL" agent --cluster rome \
  --snapshot "$E2E_DIR/rome.json" --metrics-listen 192.0.2.1:0 2>&1)
status=$?
expect_eq "a metrics address that cannot be bound fails the start (exit 5)" \
  5 "$status"
expect_contains "the error names --metrics-listen" "--metrics-listen" "$out"
out=$("$LRB_BIN" agent --cluster rome --snapshot "$E2E_DIR/rome.json" \
  --metrics-listen nonsense 2>&1)
expect_eq "a --metrics-listen without a port is a usage error (exit 2)" 2 "$?"
expect_contains "it says what to write" "HOST:PORT" "$out"
finish
