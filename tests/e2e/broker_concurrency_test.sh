#!/usr/bin/env bash
# End-to-end: nothing is ever booked twice, however many requests race.
#
# Two providers have room for exactly N = 10 requests of 4 cores and 8Gi
# (each has 20 cores and 40Gi available: 5 requests apiece). 64 creates
# are released at once through a FIFO gate (lib.sh, burst), so they reach
# the broker together and contend for the same cluster rows. Exactly N
# must be Reserved and the rest Failed (201) or refused with 409; nothing
# may answer 5xx; `lrb doctor` must find the invariant intact; and a
# recount of the Reserved reservations must equal what the clusters say
# they have reserved. The burst is run three times: on quiet providers,
# while both providers re-advertise new generations as fast as they can
# (cluster rows change under the lock), and with one Idempotency-Key
# shared by all 64 requests, which must make exactly one reservation.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

GIB=1073741824
N=10
REQUESTS=64
PROVIDERS=(prov-a prov-b)

# provider_filter ID: turns the paris fixture into a provider with room
# for exactly 5 requests of 4 cores / 8Gi.
provider_filter() {
  echo ".clusterID = \"$1\" | .endpoint = \"https://$1.example:6443\"
        | .resources.available = {cpu: \"20\", memory: \"40Gi\"}"
}

# Advertises both providers and the requester (which has room for nothing
# it asks for, and is never a candidate for itself anyway).
advertise_all() {
  local p
  for p in "${PROVIDERS[@]}"; do
    advertise paris "$(provider_filter "$p")"
    expect_status "advertise $p" 200 201
  done
  advertise rome '.clusterID = "edge" | .endpoint = "https://edge.example:6443"
                  | .resources.available = {cpu: "2", memory: "4Gi"}'
  expect_status "advertise the requester edge" 200 201
}

# tally DIR: reads the replies of a burst; sets T_RESERVED, T_FAILED,
# T_CONFLICT (counts), T_OTHER (unexpected codes or phases) and T_IDS
# (the Reserved ids, sorted, one per line).
tally() {
  local dir=$1 i code phase
  T_RESERVED=0 T_FAILED=0 T_CONFLICT=0 T_OTHER="" T_IDS=""
  for ((i = 0; i < REQUESTS; i++)); do
    code=$(cat "$dir/$i.code" 2>/dev/null || echo 000)
    phase=$(jq -r '.status.phase // ""' "$dir/$i.json" 2>/dev/null || true)
    case "$code:$phase" in
    201:Reserved)
      T_RESERVED=$((T_RESERVED + 1))
      T_IDS+="$(jq -r .id "$dir/$i.json")"$'\n'
      ;;
    201:Failed) T_FAILED=$((T_FAILED + 1)) ;;
    409:*) T_CONFLICT=$((T_CONFLICT + 1)) ;;
    *) T_OTHER+="$code:$phase " ;;
    esac
  done
  T_IDS=$(sort <<<"$T_IDS" | sed '/^$/d')
}

# Prints the ids of the requester's reservations in `phase`, sorted.
ids_in_phase() {
  api GET "/api/v1/reservations?clusterID=edge&role=requester&phase=$1"
  jb '.items[].id' | sort
}

# check_round NAME DIR: the checks every plain burst must pass.
check_round() {
  local name=$1 dir=$2 p
  tally "$dir"
  expect_eq "$name: exactly $N Reserved" "$N" "$T_RESERVED"
  expect_eq "$name: the other $((REQUESTS - N)) Failed or 409" \
    "$((REQUESTS - N))" "$((T_FAILED + T_CONFLICT))"
  expect_eq "$name: no 5xx, no other answer" "" "$T_OTHER"
  doctor_check "$name: doctor clean"
  expect_eq "$name: recount matches the clusters' reserved" "" \
    "$(recount_mismatches edge "${PROVIDERS[@]}")"
  expect_eq "$name: the broker lists exactly the acknowledged ids" \
    "$T_IDS" "$(ids_in_phase Reserved)"
  # 5 requests of 4 cores / 8Gi fill 20 cores / 40Gi exactly.
  for p in "${PROVIDERS[@]}"; do
    expect_eq "$name: $p is full (free 0 cores, 0 bytes)" "0 0" \
      "$(cluster_amount "$p" free cpu) $(cluster_amount "$p" free memory)"
  done
}

# release_all NAME: releases every Reserved reservation of the requester
# and checks the providers are empty again.
release_all() {
  local id p
  for id in $(ids_in_phase Reserved); do
    api POST "/api/v1/reservations/$id/release"
    [[ $STATUS == 200 ]] || fail "$1: release $id" "HTTP $STATUS"
  done
  for p in "${PROVIDERS[@]}"; do
    expect_eq "$1: released, $p reserves nothing" "0 0" \
      "$(cluster_amount "$p" reserved cpu) $(cluster_amount "$p" \
        reserved memory)"
  done
}

# Prints the sum over both providers of their reserved RESOURCE.
total_reserved() {
  local p
  for p in "${PROVIDERS[@]}"; do
    cluster_amount "$p" reserved "$1"
  done | awk '{ s += $1 } END { printf "%.0f", s }'
}

# Re-advertises both providers with new generations until $1 exists (at
# most 60 s); appends each reply's HTTP code to $2.
readvertise_loop() {
  local stop=$1 codes=$2 p
  local deadline=$(($(now_ms) + 60000))
  while [[ ! -e $stop ]] && (($(now_ms) < deadline)); do
    for p in "${PROVIDERS[@]}"; do
      advertise paris "$(provider_filter "$p")"
      echo "$STATUS" >>"$codes"
    done
  done
}

e2e_init
start_broker "$E2E_DIR/broker" --stale-after 10m --activation-timeout 10m \
  --log-level info
advertise_all
body="$E2E_DIR/request.json"
jq -nc '{requesterID: "edge", requestedResources: {cpu: "4", memory: "8Gi"},
         duration: "1h"}' >"$body"

# --- 1: quiet providers --------------------------------------------------
burst "$REQUESTS" "$E2E_DIR/round1" "$body"
check_round "quiet burst" "$E2E_DIR/round1"
release_all "quiet burst"

# --- 2: providers re-advertising during the burst -------------------------
stop="$E2E_DIR/stop-ads"
codes="$E2E_DIR/ad-codes"
: >"$codes"
api GET /api/v1/clusters/prov-a
generation_before=$(jb '.generation')
readvertise_loop "$stop" "$codes" &
loop_pid=$!
track_pid "$loop_pid"
# Let the loop get going so that the burst overlaps new generations.
wait_for 10 test -s "$codes" || true
burst "$REQUESTS" "$E2E_DIR/round2" "$body"
touch "$stop"
wait_pid "$loop_pid" 30 || kill_tree "$loop_pid"
ads=$(wc -l <"$codes")
check "re-advertised during the burst" "$ads advertisements" \
  test "$ads" -ge 2
expect_eq "every re-advertisement accepted" "" \
  "$(grep -v -x -E '200|201' "$codes" | sort -u | tr '\n' ' ')"
check_round "burst under re-advertisement" "$E2E_DIR/round2"
api GET /api/v1/clusters/prov-a
check "prov-a took the loop's newer generations" \
  "$generation_before -> $(jb '.generation')" \
  test "$(jb '.generation')" -gt "$generation_before"
release_all "burst under re-advertisement"

# --- 3: one Idempotency-Key for all 64 -----------------------------------
burst "$REQUESTS" "$E2E_DIR/round3" "$body" -H 'Idempotency-Key: burst-key-1'
expect_eq "shared key: every reply 200 or 201" "" \
  "$(cat "$E2E_DIR"/round3/*.code | grep -v -x -E '200|201' | sort -u |
    tr '\n' ' ')"
ids=$(jq -r '.id // empty' "$E2E_DIR"/round3/*.json 2>/dev/null | sort -u)
expect_eq "shared key: every reply carries the same one id" 1 \
  "$(grep -c . <<<"$ids" || true)"
expect_eq "shared key: exactly one reservation listed" "$ids" \
  "$(ids_in_phase Reserved)"
# One request of 4 cores / 8Gi is locked on one of the two providers.
expect_eq "shared key: one lock of 4 cores / 8Gi in all" \
  "4000 $((8 * GIB))" "$(total_reserved cpu) $(total_reserved memory)"
doctor_check "shared key: doctor clean"

stop_broker
expect_eq "broker exits 0 on SIGTERM" 0 "$BROKER_EXIT"
doctor_check "doctor clean after shutdown"
summary
