#!/usr/bin/env bash
# End-to-end: attacks on the HTTP framing itself are refused, and none of
# them stops the broker from serving everyone else.
#
# broker_hostile_test.sh sends well-framed requests with bad bodies
# through curl; curl cannot send a lying Content-Length or a broken
# chunk, so this suite writes raw bytes to a socket (bash's /dev/tcp).
# The cases: a Content-Length that is not a number, negative, past any
# integer or contradicted by a second one; chunk sizes that are negative,
# past any integer, not hex or longer than the data; chunk data not
# ended by CRLF; a chunked body over --max-body (httplib caps only a
# Content-Length body, the transport the chunked one); deep JSON sent
# chunked; an unknown Transfer-Encoding; headers that are each short but
# together over the limit; a header line without a colon; a malformed
# request line and an unknown HTTP version; a NUL in the target; and
# idle half-sent requests (slowloris), more than --workers of them.
#
# Each request's first status line is read with a deadline: the answer
# must be a 4xx or the connection closed without one. Requests that
# promise bytes they never send hold their connection until the broker's
# read timeout (10 s), so they all run at once in the background, and
# while they wait the broker must answer /healthz and a create from
# another client at once. At the end no refused request has left a row
# behind and `lrb doctor` finds the database clean.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

CREATE='{"requesterID": "rome",
         "requestedResources": {"cpu": "1", "memory": "1Gi"}}'
WORKERS=4
SLOWLORIS=12
# How long one raw request may wait for its answer: the broker's read
# timeout (10 s) plus a margin for a loaded machine.
ANSWER_SECONDS=25

# request_file NAME: prints the path of raw request NAME.
request_file() {
  echo "$E2E_DIR/raw/$1.http"
}

# head_of METHOD PATH [HEADER...]: prints a request line and headers
# (CRLF line ends) up to and including the blank line.
head_of() {
  local method=$1 path=$2 header
  shift 2
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$method" "$path"
  for header in "$@"; do
    printf '%s\r\n' "$header"
  done
  printf '\r\n'
}

# chunked BYTES...: prints each argument as one chunk (its true size),
# then the last chunk.
chunked() {
  local part
  for part in "$@"; do
    printf '%x\r\n%s\r\n' "${#part}" "$part"
  done
  printf '0\r\n\r\n'
}

# send_raw NAME: sends raw request NAME on a new connection and writes
# the status of the first answer to NAME.status ("closed" when the
# broker closed the connection without one, "timeout" when nothing came
# within ANSWER_SECONDS) and the seconds it took to NAME.seconds.
send_raw() {
  local name=$1 fd line status start
  start=$(now_ms)
  status=closed
  if exec {fd}<>"/dev/tcp/127.0.0.1/$BROKER_PORT"; then
    cat "$(request_file "$name")" 1>&"$fd" || true
    if read -r -t "$ANSWER_SECONDS" -u "$fd" line; then
      status=$(awk '{ print $2 }' <<<"$line")
    elif (($? > 128)); then
      status=timeout
    fi
    exec {fd}>&-
  fi
  echo "$status" >"$E2E_DIR/raw/$name.status"
  echo $((($(now_ms) - start) / 1000)) >"$E2E_DIR/raw/$name.seconds"
}

# expect_refused WHAT NAME: passes when request NAME was answered 4xx or
# its connection closed.
expect_refused() {
  local got
  got=$(cat "$E2E_DIR/raw/$2.status" 2>/dev/null || echo missing)
  if [[ $got =~ ^4[0-9][0-9]$ || $got == closed ]]; then
    pass "$1 ($got)"
  else
    fail "$1" "wanted a 4xx or a closed connection, got '$got'"
  fi
}

# expect_answer WHAT NAME CODE: passes when request NAME got CODE.
expect_answer() {
  expect_eq "$1" "$3" "$(cat "$E2E_DIR/raw/$2.status" 2>/dev/null)"
}

# serving WHAT: checks that the broker answers /healthz and makes a
# reservation for another client within 3 s each.
serving() {
  local start
  start=$(now_ms)
  api_raw GET /healthz --max-time 3
  expect_status "healthz $1" 200
  api_raw POST /api/v1/reservations --max-time 3 \
    -H 'Content-Type: application/json' --data-binary "$CREATE"
  expect_status "a create from another client $1" 201 &&
    VALID_CREATES=$((VALID_CREATES + 1))
  check "both answered within 6 s $1" "took $(($(now_ms) - start)) ms" \
    test $(($(now_ms) - start)) -lt 6000
}

# write_requests: writes every raw request under $E2E_DIR/raw.
write_requests() {
  local r=/api/v1/reservations body big deep filler i
  body=$(jq -c . <<<"$CREATE")
  mkdir -p "$E2E_DIR/raw"

  # Requests the broker must refuse as soon as it has read them.
  head_of POST "$r" 'Content-Length: abc' >"$(request_file cl_text)"
  printf '%s' "$body" >>"$(request_file cl_text)"
  head_of POST "$r" 'Content-Length: 2' "Content-Length: ${#body}" \
    >"$(request_file cl_twice)"
  printf '%s' "$body" >>"$(request_file cl_twice)"
  { head_of POST "$r" 'Transfer-Encoding: chunked'
    printf 'fffffffffffffffffffff\r\n%s\r\n0\r\n\r\n' "$body"
  } >"$(request_file chunk_past_int)"
  { head_of POST "$r" 'Transfer-Encoding: chunked'
    printf 'zz\r\n%s\r\n0\r\n\r\n' "$body"
  } >"$(request_file chunk_not_hex)"
  { head_of POST "$r" 'Transfer-Encoding: chunked'
    printf '5\r\n%s\r\n0\r\n\r\n' "$body"
  } >"$(request_file chunk_no_crlf)"
  # 2 MiB in 64 KiB chunks against --max-body 1MiB: valid JSON (the
  # create padded with spaces), so only the limit can refuse it.
  printf -v filler '%65536s' ''
  { head_of POST "$r" 'Transfer-Encoding: chunked'
    printf '%x\r\n%s\r\n' "${#body}" "$body"
    for ((i = 0; i < 32; i++)); do
      printf '%x\r\n%s\r\n' ${#filler} "$filler"
    done
    printf '0\r\n\r\n'
  } >"$(request_file chunked_over_max_body)"
  printf -v deep '%10000s' ''
  deep=${deep// /[}${deep// /]}
  { head_of POST "$r" 'Transfer-Encoding: chunked'
    chunked "{\"requesterID\": \"rome\", \"constraints\": $deep}"
  } >"$(request_file chunked_deep_json)"
  # 100 headers of 1,000 bytes: each well under httplib's 8 KiB a line,
  # together over the broker's 64 KiB.
  printf -v filler '%1000s' ''
  big=()
  for ((i = 0; i < 100; i++)); do
    big+=("X-Filler-$i: ${filler// /h}")
  done
  head_of GET /healthz "${big[@]}" >"$(request_file many_headers)"
  head_of GET /healthz 'NoColonHere' >"$(request_file header_no_colon)"
  printf 'GARBAGE\r\n\r\n' >"$(request_file request_line)"
  printf 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n' \
    >"$(request_file http_version)"
  printf 'GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n' \
    >"$(request_file nul_in_target)"

  # Requests that promise more than they send: refused at the latest
  # when the broker's read timeout runs out.
  head_of POST "$r" 'Content-Length: -5' >"$(request_file cl_negative)"
  printf '%s' "$body" >>"$(request_file cl_negative)"
  head_of POST "$r" 'Content-Length: 99999999999999999999999' \
    >"$(request_file cl_past_int)"
  printf '%s' "$body" >>"$(request_file cl_past_int)"
  { head_of POST "$r" 'Transfer-Encoding: chunked'
    printf -- '-5\r\n%s\r\n0\r\n\r\n' "$body"
  } >"$(request_file chunk_negative)"
  { head_of POST "$r" 'Transfer-Encoding: chunked'
    printf '7fffffff\r\n%s\r\n0\r\n\r\n' "$body"
  } >"$(request_file chunk_longer_than_data)"
  head_of POST "$r" 'Transfer-Encoding: gzip' >"$(request_file te_gzip)"
  printf '%s' "$body" >>"$(request_file te_gzip)"
  # A slowloris client: the request line and one header, then nothing.
  printf 'POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$r" \
    >"$(request_file slowloris)"
}

e2e_init
VALID_CREATES=0
start_broker "$E2E_DIR/broker" --max-body 1MiB --workers "$WORKERS" \
  --stale-after 10m --log-level info
advertise paris
expect_status "advertise paris" 200 201
write_requests

# --- slow attacks first, all at once, in the background -----------------
slow=(cl_negative cl_past_int chunk_negative chunk_longer_than_data te_gzip)
pids=()
for name in "${slow[@]}"; do
  send_raw "$name" &
  pids+=("$!")
  track_pid "$!"
done
for ((i = 0; i < SLOWLORIS; i++)); do
  cp "$(request_file slowloris)" "$(request_file "slowloris_$i")"
  send_raw "slowloris_$i" &
  pids+=("$!")
  track_pid "$!"
done
sleep 1
serving "while $((${#slow[@]} + SLOWLORIS)) connections hold half-sent requests"

# --- attacks refused as soon as they are read ----------------------------
for name in cl_text cl_twice chunk_past_int chunk_not_hex chunk_no_crlf \
  chunked_over_max_body chunked_deep_json many_headers header_no_colon \
  request_line http_version nul_in_target; do
  send_raw "$name"
done
expect_refused "a Content-Length that is not a number" cl_text
expect_refused "two Content-Lengths that disagree" cl_twice
expect_refused "a chunk size past any integer" chunk_past_int
expect_refused "a chunk size that is not hex" chunk_not_hex
expect_refused "chunk data not ended by CRLF" chunk_no_crlf
expect_answer "a chunked body over --max-body is 413" \
  chunked_over_max_body 413
expect_answer "JSON nested 10,000 deep, sent chunked, is 400" \
  chunked_deep_json 400
expect_answer "100 headers of 1,000 bytes are 431" many_headers 431
# httplib skips a header line without a colon; what must hold is that it
# is not read as a header, nor breaks the request around it.
expect_answer "a header line without a colon is skipped" header_no_colon 200
expect_answer "a malformed request line is 400" request_line 400
expect_answer "an unknown HTTP version is 400" http_version 400
expect_refused "a NUL in the request target" nul_in_target
serving "after the malformed requests"

# --- the slow attacks end, refused or closed -----------------------------
for pid in "${pids[@]}"; do
  wait_pid "$pid" $((ANSWER_SECONDS + 10)) || kill_tree "$pid"
done
expect_refused "a negative Content-Length" cl_negative
expect_refused "a Content-Length past any integer" cl_past_int
expect_refused "a negative chunk size" chunk_negative
expect_refused "a chunk size longer than its data" chunk_longer_than_data
expect_refused "an unknown Transfer-Encoding" te_gzip
closed=0
slowest=0
for ((i = 0; i < SLOWLORIS; i++)); do
  status=$(cat "$E2E_DIR/raw/slowloris_$i.status" 2>/dev/null || echo none)
  seconds=$(cat "$E2E_DIR/raw/slowloris_$i.seconds" 2>/dev/null || echo 0)
  if [[ $status =~ ^4[0-9][0-9]$ || $status == closed ]]; then
    closed=$((closed + 1))
  fi
  ((seconds <= slowest)) || slowest=$seconds
done
expect_eq "the broker drops all $SLOWLORIS idle half-sent requests" \
  "$SLOWLORIS" "$closed"
check "it drops them within its read timeout" "slowest took ${slowest}s" \
  test "$slowest" -lt 20

# --- nothing broken, nothing half-written --------------------------------
check "broker still running" "pid $BROKER_PID gone" kill -0 "$BROKER_PID"
serving "after every attack"
api GET /api/v1/reservations
expect_eq "only the valid creates made rows" "$VALID_CREATES" \
  "$(jb '.items | length')"
doctor_check "doctor clean"
stop_broker
expect_eq "broker exits 0 on SIGTERM" 0 "$BROKER_EXIT"
summary
