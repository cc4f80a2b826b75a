#!/usr/bin/env bash
# End-to-end: hostile and broken input is refused cleanly.
#
# Each case sends one bad request and expects the right 4xx with the
# contract's error body {"error": {"code", "message", "field"}}, where
# `field` is the JSON path at fault whenever one applies, so that a client
# can tell its user what to fix. The cases cover the decoder (malformed
# JSON, invalid UTF-8, wrong types, absurd nesting), the rules of DESIGN.md
# section 4 (DNS-label ids, positive cpu and memory, whole counts, Go
# durations within the maximum, known policies, no unknown request
# fields), the HTTP limits (body, URL, header) and the router (404, 405).
# Afterwards the broker must still be alive and serving, and nothing may
# have been half-written: no reservation row was created by a refused
# request, no cluster changed, and `lrb doctor` finds the database clean.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

BASE='{"requesterID": "rome",
       "requestedResources": {"cpu": "4", "memory": "8Gi"}}'

# req JQ_FILTER: prints the valid base request changed by JQ_FILTER.
req() {
  jq -c "$1" <<<"$BASE"
}

# ad JQ_FILTER: prints rome's advertisement changed by JQ_FILTER.
ad() {
  jq -c "$1" "$E2E_DATA/ads/rome.json"
}

# bad WHAT CODE FIELD METHOD PATH BODY: sends BODY (byte for byte) and
# expects CODE with error.field FIELD ("*": not checked).
bad() {
  local what=$1 code=$2 field=$3 method=$4 path=$5
  printf '%s' "$6" >"$E2E_DIR/body"
  api_file "$method" "$path" "$E2E_DIR/body"
  expect_error "$what" "$code" "$field"
}

# bad_create WHAT FIELD BODY: a create that must be refused with 400.
bad_create() {
  bad "$1" 400 "$2" POST /api/v1/reservations "$3"
}

# bad_ad WHAT FIELD BODY: an advertisement that must be refused with 400.
bad_ad() {
  bad "$1" 400 "$2" POST /api/v1/advertisements "$3"
}

# nested N: prints N opening brackets, then N closing ones.
nested() {
  local open close
  open=$(printf '%*s' "$1" '' | tr ' ' '[')
  close=$(printf '%*s' "$1" '' | tr ' ' ']')
  echo "$open$close"
}

e2e_init
start_broker "$E2E_DIR/broker" --max-body 1MiB --max-duration 24h \
  --stale-after 10m --log-level info
for name in rome paris berlin; do
  advertise "$name"
  expect_status "advertise $name" 200 201
done
api GET /api/v1/clusters
clusters_before=$(jb -c '[.items[] | {clusterID, generation, resources}]')

# --- the decoder ---------------------------------------------------------
bad_create "malformed JSON" "*" '{"requesterID": "rome",'
bad_create "empty body" "*" ''
bad_create "a JSON array, not an object" "*" '[]'
printf '%s\xff%s' '{"requesterID": "ro' \
  'me", "requestedResources": {"cpu": "4", "memory": "8Gi"}}' \
  >"$E2E_DIR/utf8"
api_file POST /api/v1/reservations "$E2E_DIR/utf8"
expect_error "invalid UTF-8" 400 "*"
bad_create "JSON nested 10,000 deep" "*" "$(nested 10000)"
bad_create "a field nested 10,000 deep" "*" \
  "{\"requesterID\": \"rome\", \"constraints\": $(nested 10000)}"

# --- wrong types ---------------------------------------------------------
bad_create "requesterID a number" requesterID "$(req '.requesterID = 42')"
bad_create "requestedResources a string" requestedResources \
  "$(req '.requestedResources = "lots"')"
bad_create "a quantity as a JSON boolean" requestedResources.cpu \
  "$(req '.requestedResources.cpu = true')"
bad_create "a quantity as a JSON object" requestedResources.memory \
  "$(req '.requestedResources.memory = {value: 8}')"
# Accepted on purpose, as Kubernetes and the prototype agent do: a
# quantity written as a JSON number (explained, so no row is made).
api POST /api/v1/explain "$(req '.requestedResources.cpu = 4')"
expect_eq "a quantity as a JSON number is read as the string" \
  "200 paris" "$STATUS $(jb '.chosen')"
bad_create "priority a string" priority "$(req '.priority = "high"')"
bad_create "regions a string" constraints.regions \
  "$(req '.constraints.regions = "eu"')"
bad_create "duration a number" duration "$(req '.duration = 3600')"

# --- amounts -------------------------------------------------------------
bad_create "negative GPUs" requestedResources.gpu \
  "$(req '.requestedResources.gpu = "-1"')"
bad_create "negative cpu" requestedResources.cpu \
  "$(req '.requestedResources.cpu = "-2"')"
bad_create "half a GPU" requestedResources.gpu \
  "$(req '.requestedResources.gpu = "0.5"')"
bad_create "cpu 0" requestedResources.cpu \
  "$(req '.requestedResources.cpu = "0"')"
bad_create "memory 0" requestedResources.memory \
  "$(req '.requestedResources.memory = "0"')"
bad_create "memory missing" requestedResources.memory \
  "$(req 'del(.requestedResources.memory)')"
bad_create "quantity 4x" requestedResources.cpu \
  "$(req '.requestedResources.cpu = "4x"')"
# K is not a suffix (k is); Kubernetes refuses "1K" too.
bad_create "quantity 1K" requestedResources.memory \
  "$(req '.requestedResources.memory = "1K"')"
bad_create "a cpu amount past int64" requestedResources.cpu \
  "$(req '.requestedResources.cpu = "99999999999999999999999"')"

# --- ids, fields, durations, policies ------------------------------------
bad_create "an unknown field" colour "$(req '.colour = "red"')"
bad_create "an unknown constraint" constraints.colour \
  "$(req '.constraints.colour = "red"')"
bad_create "requesterID Rome_1" requesterID "$(req '.requesterID = "Rome_1"')"
bad_create "requesterID of 64 characters" requesterID \
  "$(req ".requesterID = \"$(printf 'a%.0s' {1..64})\"")"
bad_create "requesterID empty" requesterID "$(req '.requesterID = ""')"
bad_create "requesterID with a leading dash" requesterID \
  "$(req '.requesterID = "-rome"')"
bad_create "requesterID missing" requesterID "$(req 'del(.requesterID)')"
bad_create "targetClusterID Rome_1" targetClusterID \
  "$(req '.targetClusterID = "Rome_1"')"
bad_create "duration 1d" duration "$(req '.duration = "1d"')"
bad_create "duration without a unit" duration "$(req '.duration = "90"')"
bad_create "negative duration" duration "$(req '.duration = "-1h"')"
bad_create "duration above --max-duration" duration \
  "$(req '.duration = "48h"')"
bad_create "unknown policy" policy.name "$(req '.policy.name = "nope"')"
bad_create "weights not summing to 1" policy.resourceWeight \
  "$(req '.policy = {resourceWeight: 0.5, costWeight: 0.6}')"
bad_create "a negative weight" policy.resourceWeight \
  "$(req '.policy = {resourceWeight: -0.1, costWeight: 1.1}')"
bad "explain validates like create" 400 requestedResources.cpu \
  POST /api/v1/explain "$(req '.requestedResources.cpu = "4x"')"

# --- advertisements ------------------------------------------------------
bad_ad "clusterID Rome_1" clusterID "$(ad '.clusterID = "Rome_1"')"
bad_ad "clusterID missing" clusterID "$(ad 'del(.clusterID)')"
bad_ad "generation a string" generation "$(ad '.generation = "x"')"
bad_ad "available cpu 4x" resources.available.cpu \
  "$(ad '.resources.available.cpu = "4x"')"
bad_ad "negative allocatable memory" resources.allocatable.memory \
  "$(ad '.resources.allocatable.memory = "-1Gi"')"
bad_ad "price not a number" prices.cpuPerHour \
  "$(ad '.prices.cpuPerHour = "abc"')"
bad_ad "a negative GPU count" gpuModels.T4 "$(ad '.gpuModels = {T4: -1}')"
bad_ad "advertisement nested 10,000 deep" "*" \
  "{\"clusterID\": \"rome\", \"labels\": $(nested 10000)}"

# --- lifecycle and query parameters --------------------------------------
api POST /api/v1/reservations "$BASE"
expect_eq "a valid create among the hostile ones" "201 Reserved" \
  "$STATUS $(jb '.status.phase')"
res=$(jb '.id')
bad "a grant of 4x" 400 grantedResources.cpu \
  POST "/api/v1/reservations/$res/activate" \
  '{"grantedResources": {"cpu": "4x"}}'
bad "renew for 1d" 400 duration POST "/api/v1/reservations/$res/renew" \
  '{"duration": "1d"}'
bad "renew with malformed JSON" 400 "*" \
  POST "/api/v1/reservations/$res/renew" '{"duration":'
expect_eq "refused lifecycle calls leave it Reserved" Reserved \
  "$(reservation_phase "$res")"
api GET "/api/v1/events?since=abc"
expect_error "events since=abc" 400 since
api GET "/api/v1/events?since=0&timeout=forever"
expect_error "events timeout=forever" 400 timeout
api GET "/api/v1/reservations?phase=Bogus"
expect_error "list phase=Bogus" 400 phase
api GET "/api/v1/reservations?role=boss"
expect_error "list role=boss" 400 role

# --- HTTP limits ---------------------------------------------------------
# 2 MiB of label against --max-body 1MiB.
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$E2E_DIR/label"
jq -c --rawfile v "$E2E_DIR/label" '.labels.big = $v' \
  "$E2E_DATA/ads/rome.json" >"$E2E_DIR/big.json"
api_file POST /api/v1/advertisements "$E2E_DIR/big.json"
expect_error "a body over --max-body" 413 "*"
api GET "/api/v1/reservations/r-$(printf 'a%.0s' {1..20000})"
expect_error "a 20,000-character URL" 414 "*"
api_raw GET /api/v1/clusters -H "X-Filler: $(printf 'h%.0s' {1..20000})"
expect_error "a 20,000-character header" 431 "*"

# --- the router ----------------------------------------------------------
api DELETE /api/v1/reservations
expect_error "DELETE on reservations" 405 "*"
api GET /api/v1/explain
expect_error "GET on explain" 405 "*"
api PUT /api/v1/advertisements "$(ad '.')"
expect_error "PUT on advertisements" 405 "*"
api GET "/api/v1/reservations/$res/release"
expect_error "GET on release" 405 "*"
api GET /api/v1/nothing
expect_error "an unknown route" 404 "*"
api POST /api/v2/reservations "$BASE"
expect_error "an unknown API version" 404 "*"
api POST "/api/v1/reservations/$res/explode"
expect_error "an unknown action" 404 "*"

# --- nothing broken, nothing half-written --------------------------------
check "broker still running" "pid $BROKER_PID gone" kill -0 "$BROKER_PID"
api GET /healthz
expect_status "healthz after all of it" 200
api POST /api/v1/reservations "$(req '.requestedResources.cpu = "2"')"
expect_eq "a valid create still works" "201 Reserved" \
  "$STATUS $(jb '.status.phase')"
api GET /api/v1/reservations
expect_eq "only the two valid creates made rows" "2 Reserved" \
  "$(jb '"\(.items | length) \([.items[].status.phase] | unique
          | join(","))"')"
api GET /api/v1/clusters
expect_eq "refused advertisements changed no cluster" \
  "$(jq -c '[.[] | del(.resources.reserved, .resources.free)]' \
    <<<"$clusters_before")" \
  "$(jb -c '[.items[] | {clusterID, generation, resources}
            | del(.resources.reserved, .resources.free)]')"
doctor_check "doctor clean"
stop_broker
expect_eq "broker exits 0 on SIGTERM" 0 "$BROKER_EXIT"
summary
