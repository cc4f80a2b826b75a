#!/usr/bin/env bash
# End-to-end: the life of reservations on one broker with three clusters.
#
# Rome, Paris and Berlin advertise real GCP prices (tests/data/ads). Every
# placement the broker makes is checked against an oracle that applies the
# scoring rules of DESIGN.md section 6 to the advertised numbers (lib.sh,
# E2E_ORACLE_JQ) and to what this suite itself has locked, never to the
# broker's own scores. Then one reservation is walked through every phase
# (Reserved, Active with a partial grant, renewed, Released) while the
# providers' reserved and free amounts are checked after each step, and
# the contract's edges are probed: idempotency keys, a targeted request,
# cordon, stale generations, `consumed`, finished reservations and unknown
# ids. `lrb doctor` must find the database clean at the end.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

GIB=1073741824

# request REQUESTER CPU MEMORY [JQ_FILTER]: prints a reservation request.
request() {
  jq -nc --arg who "$1" --arg cpu "$2" --arg mem "$3" \
    "{requesterID: \$who, requestedResources: {cpu: \$cpu, memory: \$mem}}
     | ${4:-.}"
}

# What this suite has locked per provider, in canonical units, for the
# oracle: {"paris": {"cpu": millicores, "memory": bytes}}.
LOCKED='{}'

# lock CLUSTER MILLICORES BYTES: adds to (or, negative, removes from) the
# suite's own account of what is locked on CLUSTER.
lock() {
  LOCKED=$(jq -c --arg c "$1" --argjson m "$2" --argjson b "$3" \
    '.[$c].cpu += $m | .[$c].memory += $b' <<<"$LOCKED")
}

# explain_case WHAT REQUEST [SKIP]: asks the broker to explain REQUEST
# and checks its choice against the oracle.
explain_case() {
  local what=$1 req=$2 skip=${3:-'[]'}
  local want
  want=$(oracle "$req" "$LOCKED" "$skip")
  api POST /api/v1/explain "$req"
  expect_status "$what: explain answers 200" 200 || return 0
  expect_eq "$what: chooses the oracle's pick (${want:-none})" \
    "$want" "$(jb '.chosen // ""')"
}

# Prints the mismatches between BODY's decision rows and the oracle's
# candidates ROWS: prices, scores and ranks of candidates, and a reason
# for every excluded cluster.
row_mismatches() {
  jb --argjson want "$1" '
    def near($a; $b; $t): (($a | tonumber) - $b | fabs) <= $t;
    [ .rows[] as $row
      | ($want | map(.id) | index($row.clusterID)) as $i
      | if $i == null then
          if ($row.candidate | not) and (($row.reason // "") != "")
          then empty
          else "\($row.clusterID) should be excluded with a reason" end
        else $want[$i] as $o
          | if $row.candidate == true and $row.rank == $i + 1
               and near($row.pricePerHour; $o.P; 1e-6)
               and near($row.score; $o.S; 0.01)
               and near($row.resourceScore; $o.R; 1e-4)
               and near($row.costScore; $o.C; 1e-4)
            then empty
            else "\($row.clusterID): got P=\($row.pricePerHour) " +
                 "S=\($row.score) rank=\($row.rank), want P=\($o.P) " +
                 "S=\($o.S) rank=\($i + 1)" end
        end ] | join("; ")'
}

# expect_amount WHAT CLUSTER FIELD RESOURCE VALUE: checks one of the
# amounts the broker reports for a cluster (canonical units).
expect_amount() {
  expect_eq "$1" "$5" "$(cluster_amount "$2" "$3" "$4")"
}

e2e_init
start_broker "$E2E_DIR/broker" --default-duration 1h --max-duration 24h \
  --activation-timeout 10m --stale-after 10m --log-level debug

# --- advertisements ------------------------------------------------------
for name in rome paris berlin; do
  advertise "$name"
  expect_status "advertise $name" 200 201
done
api GET /api/v1/clusters
expect_status "list clusters" 200
expect_eq "clusters listed sorted by id" "berlin,paris,rome" \
  "$(jb '[.items[].clusterID] | join(",")')"
expect_eq "every cluster Ready" "Ready,Ready,Ready" \
  "$(jb '[.items[].state] | join(",")')"
# nvidia.com/gpu is kept under the canonical name gpu: 4 T4s.
expect_eq "berlin's GPUs under the canonical name" 4 \
  "$(jb '.items[] | select(.clusterID == "berlin")
        | .resources.allocatable | amount("gpu")')"
# Nothing reserved yet: free = available = 24 cores, 96Gi.
expect_amount "paris free cpu before any lock" paris free cpu 24000
expect_amount "paris free memory before any lock" paris free memory \
  $((96 * GIB))
expect_amount "paris reserved cpu before any lock" paris reserved cpu 0
api GET /api/v1/advertisements/paris
expect_status "get one advertisement" 200
expect_eq "advertisement is paris's" paris "$(jb '.clusterID')"

# --- placements against the oracle (nothing locked) ----------------------
# Prices: rome, paris 0.031902/core-h, 0.004276/GiB-h; berlin 0.035435,
# 0.004748, T4 0.41. Free = available: rome 120/480Gi, paris 24/96Gi,
# berlin 40/160Gi/4 GPUs; allocatable 128/512Gi, 32/128Gi, 64/256Gi/4.
#
# paris R = (20/32 + 88/128)/2 = 0.65625, P = 4*0.031902 + 8*0.004276 =
# 0.161816, S = 100*(0.7*0.65625 + 0.3*1) = 75.94; berlin R = (36/64 +
# 152/256)/2 = 0.578125, P = 0.179724, C = 0.90036, S = 67.48 -> paris.
small=$(request rome 4 8Gi)
explain_case "4 cores from rome" "$small"
expect_eq "explain has one row per cluster" "berlin,paris,rome" \
  "$(jb '[.rows[].clusterID] | sort | join(",")')"
expect_eq "the requester rome is excluded with a reason" "false:true" \
  "$(jb '.rows[] | select(.clusterID == "rome")
        | "\(.candidate):\((.reason // "") != "")"')"
expect_eq "rows agree with the oracle's prices, scores and ranks" "" \
  "$(row_mismatches "$(oracle_rows "$small")")"
# paris R = (8/32 + 32/128)/2 = 0.25, P = 0.784096, S = 47.5; berlin R =
# (24/64 + 96/256)/2 = 0.375, P = 0.870832, C = 0.90040, S = 53.26.
explain_case "16 cores from rome" "$(request rome 16 64Gi)"
# Only berlin has GPUs: R = (38/64 + 156/256 + 3/4)/3 = 0.651.
explain_case "a GPU from rome" \
  "$(request rome 2 4Gi '.requestedResources["nvidia.com/gpu"] = "1"')"
# rome R = (116/128 + 472/512)/2 = 0.914, S = 93.98 beats berlin 67.48.
explain_case "4 cores from paris (rome is a provider now)" \
  "$(request paris 4 8Gi)"
# Only berlin is in europe-west3 / carries the label.
explain_case "region constraint" \
  "$(request rome 4 8Gi '.constraints.regions = ["europe-west3"]')"
explain_case "label constraint" \
  "$(request rome 4 8Gi '.constraints.labels = {accelerator: "nvidia-t4"}')"
# cost: paris C = 1, S = 100; berlin 0.784096/0.870832 = 0.9004 -> paris.
explain_case "cost policy flips 16 cores to paris" \
  "$(request rome 16 64Gi '.policy = {name: "cost"}')"
# 0.2/0.8: paris 100*(0.2*0.25 + 0.8) = 85; berlin 100*(0.2*0.375 +
# 0.8*0.9004) = 79.53 -> paris.
explain_case "weights 0.2/0.8 flip 16 cores to paris" \
  "$(request rome 16 64Gi '.policy = {resourceWeight: 0.2, costWeight: 0.8}')"
# Only rome has 100 free cores, and rome is asking: nothing fits.
explain_case "the biggest cluster is the requester" \
  "$(request rome 100 400Gi)"
expect_eq "no candidate when only the requester fits" 0 \
  "$(jb '.candidates')"
# paris R = (16/32 + 64/128)/2 = 0.5, S = 65; berlin R = 0.5, C = 0.9004,
# S = 62.01 -> paris (before anything is locked on paris).
medium=$(request rome 8 32Gi)
explain_case "8 cores from rome before the first lock" "$medium"

# --- create, idempotency -------------------------------------------------
want=$(oracle "$small" "$LOCKED")
api POST /api/v1/explain "$small"
explained=$(jb '.chosen')
api POST /api/v1/reservations "$small" -H 'Idempotency-Key: life-a'
expect_status "create answers 201" 201
res_a=$(jb '.id')
expect_match "reservation id is a DNS label" \
  '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' "$res_a"
expect_eq "create is Reserved" Reserved "$(jb '.status.phase')"
expect_eq "create chooses the oracle's pick" "$want" \
  "$(jb '.targetClusterID')"
expect_eq "create agrees with explain" "$explained" "$(jb '.decision.chosen')"
expect_eq "target endpoint is the provider's" "https://paris.example:6443" \
  "$(jb '.targetClusterEndpoint')"
expect_eq "granted = requested (4 cores, 8Gi)" "4000 $((8 * GIB))" \
  "$(jb '.grantedResources | "\(amount("cpu")) \(amount("memory"))"')"
expect_eq "requester kept" rome "$(jb '.requesterID')"
# Leases: activation deadline = reservedAt + 10m, expiry = + 1h.
expect_near "activation deadline 600 s after reservedAt" 600 \
  "$(jb '(.status.activationDeadline | epoch)
         - (.status.reservedAt | epoch)')" 2
expect_near "lease ends 3600 s after reservedAt (default duration)" 3600 \
  "$(jb '(.status.expiresAt | epoch) - (.status.reservedAt | epoch)')" 2
lock paris 4000 $((8 * GIB))
expect_amount "paris reserved cpu = 4 cores" paris reserved cpu 4000
expect_amount "paris free memory = 96Gi - 8Gi" paris free memory \
  $((88 * GIB))

api POST /api/v1/reservations "$small" -H 'Idempotency-Key: life-a'
expect_status "repeated Idempotency-Key answers 200 or 201" 200 201
expect_eq "repeated Idempotency-Key returns the same id" "$res_a" \
  "$(jb '.id')"
expect_amount "repeated Idempotency-Key locks nothing more" paris \
  reserved cpu 4000
api GET "/api/v1/reservations/$res_a"
expect_status "get the reservation" 200
expect_eq "get shows it Reserved on paris" "Reserved paris" \
  "$(jb '"\(.status.phase) \(.targetClusterID)"')"

# paris now has 20/88Gi free: R = (12/32 + 56/128)/2 = 0.40625, S =
# 58.44 < berlin's 62.01 -> the lock moves the choice to berlin.
explain_case "8 cores from rome after the first lock" "$medium"

# --- nothing fits --------------------------------------------------------
rome_requests=1
api POST /api/v1/reservations \
  "$(request rome 1 1Gi '.requestedResources.gpu = "10"')"
rome_requests=$((rome_requests + 1))
expect_status "10 GPUs: create still answers 201" 201
res_failed=$(jb '.id')
expect_eq "10 GPUs: Failed" Failed "$(jb '.status.phase')"
expect_eq "10 GPUs: no target" "" "$(jb '.targetClusterID // ""')"
expect_ne "10 GPUs: a reason is given" "" "$(jb '.status.reason // ""')"
expect_eq "10 GPUs: every cluster excluded with a reason" \
  "berlin,paris,rome" \
  "$(jb '[.decision.rows[] | select((.candidate | not)
          and (.reason // "") != "") | .clusterID] | sort | join(",")')"
expect_amount "10 GPUs: berlin's GPUs stay unreserved" berlin reserved \
  gpu 0
api POST /api/v1/reservations "$(request rome 100 400Gi)"
rome_requests=$((rome_requests + 1))
expect_eq "only the requester fits: Failed" Failed "$(jb '.status.phase')"
expect_ne "only the requester fits: rome excluded with a reason" "" \
  "$(jb '.decision.rows[] | select(.clusterID == "rome") | .reason // ""')"
expect_amount "a Failed reservation holds nothing" paris reserved cpu 4000

# --- targetClusterID -----------------------------------------------------
# The oracle would take paris (20/88Gi free: S = 100*(0.7*0.5625 + 0.3) =
# 69.4 > berlin 67.48); a target overrides scoring.
api POST /api/v1/reservations \
  "$(request rome 4 8Gi '.targetClusterID = "berlin"')"
rome_requests=$((rome_requests + 1))
expect_status "targeted create answers 201" 201
res_b=$(jb '.id')
expect_eq "targeted create lands on berlin" "Reserved berlin" \
  "$(jb '"\(.status.phase) \(.targetClusterID)"')"
lock berlin 4000 $((8 * GIB))
expect_amount "berlin reserved cpu = 4 cores" berlin reserved cpu 4000
api POST /api/v1/reservations "$(request rome 1 1Gi \
  '.targetClusterID = "paris" | .requestedResources.gpu = "1"')"
rome_requests=$((rome_requests + 1))
expect_eq "a target that cannot fit: Failed" Failed "$(jb '.status.phase')"
expect_ne "a target that cannot fit: paris's reason is given" "" \
  "$(jb '.decision.rows[] | select(.clusterID == "paris") | .reason // ""')"

# --- activate ------------------------------------------------------------
api POST "/api/v1/reservations/$res_a/activate" \
  '{"grantedResources": {"cpu": "2", "memory": "8Gi"}}'
expect_status "activate with a partial grant" 200
expect_eq "activated: Active" Active "$(jb '.status.phase')"
expect_ne "activatedAt set" "" "$(jb '.status.activatedAt // ""')"
expect_eq "granted now 2 cores" 2000 "$(jb '.grantedResources | amount("cpu")')"
lock paris -2000 0
expect_amount "the ungranted 2 cores go back to paris" paris reserved cpu \
  2000
expect_amount "paris free cpu = 24 - 2" paris free cpu 22000
api POST "/api/v1/reservations/$res_a/activate"
expect_error "activating an Active reservation again" 409 "*"
api POST "/api/v1/reservations/$res_b/activate" \
  '{"grantedResources": {"cpu": "8", "memory": "8Gi"}}'
expect_error "a grant above the reservation" 400 grantedResources.cpu
expect_eq "a refused grant leaves it Reserved" Reserved \
  "$(reservation_phase "$res_b")"
api POST "/api/v1/reservations/$res_b/activate"
expect_eq "activate without a body grants everything" "Active 4000" \
  "$(jb '"\(.status.phase) \(.grantedResources | amount("cpu"))"')"

# --- renew ---------------------------------------------------------------
api GET "/api/v1/reservations/$res_a"
old_expiry=$(jb '.status.expiresAt | epoch')
sleep 1.1
api POST "/api/v1/reservations/$res_a/renew" '{"duration": "2h"}'
expect_status "renew" 200
new_expiry=$(jb '.status.expiresAt | epoch')
expect_near "renewed lease ends 2h from now" \
  "$(($(now_ms) / 1000 + 7200))" "$new_expiry" 10
check "renew moves expiresAt later" "$old_expiry -> $new_expiry" \
  awk -v o="$old_expiry" -v n="$new_expiry" 'BEGIN { exit !(n > o) }'

# --- consumed, generations -----------------------------------------------
# rome's reservation runs 1 core and 8Gi on paris: reserved = max(0, 2 -
# 1) cores and max(0, 8Gi - 8Gi) = 0.
advertise paris ".consumed = {\"$res_a\": {cpu: \"1\", memory: \"8Gi\"}}"
expect_status "advertise paris with consumed" 200 201
expect_amount "consumed reduces reserved cpu to 1" paris reserved cpu 1000
expect_amount "consumed reduces reserved memory to 0" paris reserved \
  memory 0
expect_amount "free = available - effective reserved" paris free cpu 23000
doctor_check "doctor clean with consumed amounts"
advertise paris
expect_amount "consumed gone: reserved back to 2 cores" paris reserved \
  cpu 2000
api GET /api/v1/clusters/paris
generation=$(jb '.generation')
advertise paris '.generation = 5 | .resources.available.cpu = "1"'
expect_status "an older generation is not an error" 200 201 202
api GET /api/v1/clusters/paris
expect_eq "an older generation is ignored" "$generation 24000" \
  "$(jb '"\(.generation) \(.resources.available | amount("cpu"))"')"

# --- cordon --------------------------------------------------------------
api POST /api/v1/clusters/paris/cordon
expect_status "cordon paris" 200
api GET /api/v1/clusters/paris
expect_eq "paris Cordoned" Cordoned "$(jb '.state')"
explain_case "cordoned paris is skipped" "$small" '["paris"]'
expect_ne "cordoned paris has a reason" "" \
  "$(jb '.rows[] | select(.clusterID == "paris") | .reason // ""')"
api POST /api/v1/reservations \
  "$(request rome 1 1Gi '.targetClusterID = "paris"')"
rome_requests=$((rome_requests + 1))
expect_eq "targeting a cordoned cluster: Failed" Failed \
  "$(jb '.status.phase')"
api POST /api/v1/clusters/paris/uncordon
expect_status "uncordon paris" 200
api GET /api/v1/clusters/paris
expect_eq "paris Ready again" Ready "$(jb '.state')"
explain_case "uncordoned paris is back" "$small"

# --- lists and events ----------------------------------------------------
api GET "/api/v1/reservations?clusterID=rome&role=requester"
expect_status "list by requester" 200
expect_eq "every reservation rome asked for, once" \
  "$rome_requests rome" \
  "$(jb '"\(.items | length) \([.items[].requesterID] | unique | join(","))"')"
api GET "/api/v1/reservations?clusterID=paris&role=provider"
expect_eq "provider paris: only its reservations" "paris" \
  "$(jb '[.items[].targetClusterID] | unique | join(",")')"
api GET "/api/v1/reservations?phase=Failed"
expect_eq "phase=Failed: the four Failed ones" "4 Failed" \
  "$(jb '"\(.items | length) \([.items[].status.phase] | unique | join(","))"')"
api GET "/api/v1/events?since=0&timeout=1s"
expect_status "events since 0" 200
expect_eq "events mention the first reservation" true \
  "$(jb --arg id "$res_a" 'any(.events[]; .reservationID == $id)')"
expect_eq "event seqs increase up to lastSeq" true \
  "$(jb '[.events[].seq] as $s | $s == ($s | sort | unique)
         and .lastSeq >= ($s | max)')"
api GET "/api/v1/events?since=0&clusterID=berlin&timeout=1s"
expect_eq "events for berlin: some, each about berlin" "true true" \
  "$(jb '"\(.events | length > 0) \(all(.events[]; .clusterID == "berlin"
          or .reservation.requesterID == "berlin"
          or .reservation.targetClusterID == "berlin"))"')"

# --- watch ---------------------------------------------------------------
# A parked watcher must wake as soon as an event comes, not at its
# timeout; one with nothing to see must wait its timeout out.
api GET "/api/v1/events?since=0&timeout=1s"
last_seq=$(jb '.lastSeq')
watch_out="$E2E_DIR/watch.json"
t0=$(now_ms)
curl -sS --max-time 20 -o "$watch_out" \
  "$BROKER_URL/api/v1/events?since=$last_seq&timeout=10s" &
watch_pid=$!
track_pid "$watch_pid"
sleep 0.5
api POST /api/v1/reservations \
  "$(request rome 1 1Gi '.targetClusterID = "berlin"')"
res_w=$(jb '.id')
wait_pid "$watch_pid" 15 || true
watch_ms=$(($(now_ms) - t0))
check "a parked watcher wakes on the event (not after 10 s)" \
  "answered after $watch_ms ms" test "$watch_ms" -lt 5000
expect_eq "the watcher sees the new reservation, after since" "true true" \
  "$(jq -r --arg id "$res_w" --argjson since "$last_seq" \
    '[any(.events[]; .reservationID == $id), all(.events[]; .seq > $since)]
     | map(tostring) | join(" ")' "$watch_out" 2>/dev/null)"
api POST "/api/v1/reservations/$res_w/release"
api GET "/api/v1/events?since=0&timeout=1s"
last_seq=$(jb '.lastSeq')
t0=$(now_ms)
api GET "/api/v1/events?since=$last_seq&timeout=1s"
watch_ms=$(($(now_ms) - t0))
expect_eq "nothing new: an empty page" "200 0 $last_seq" \
  "$STATUS $(jb '"\(.events | length) \(.lastSeq)"')"
check "nothing new: held until the 1 s timeout" "answered after $watch_ms ms" \
  test "$watch_ms" -ge 900

# --- release -------------------------------------------------------------
api POST "/api/v1/reservations/$res_a/release"
expect_status "release" 200
expect_eq "released: Released" Released "$(jb '.status.phase')"
expect_ne "endedAt set" "" "$(jb '.status.endedAt // ""')"
expect_amount "release gives paris its cpu back" paris reserved cpu 0
expect_amount "release gives paris its memory back" paris reserved memory 0
api POST "/api/v1/reservations/$res_a/release"
expect_error "a second release" 409 "*"
api POST "/api/v1/reservations/$res_a/activate"
expect_error "activating a Released reservation" 409 "*"
api POST "/api/v1/reservations/$res_a/renew" '{"duration": "1h"}'
expect_error "renewing a Released reservation" 409 "*"
api POST "/api/v1/reservations/$res_failed/release"
expect_error "releasing a Failed reservation" 409 "*"
api POST "/api/v1/reservations/$res_b/release"
expect_amount "berlin's reservation released" berlin reserved cpu 0

# --- unknown ids ---------------------------------------------------------
api GET /api/v1/reservations/r-0123456789abcdef
expect_error "unknown reservation" 404 "*"
api POST /api/v1/reservations/r-0123456789abcdef/release
expect_error "releasing an unknown reservation" 404 "*"
api GET /api/v1/clusters/nowhere
expect_error "unknown cluster" 404 "*"

doctor_check "doctor clean on the live database"
stop_broker
expect_eq "broker exits 0 on SIGTERM" 0 "$BROKER_EXIT"
doctor_check "doctor clean after shutdown"
summary
