#!/usr/bin/env bash
# End-to-end: an acknowledged reservation survives a crash.
#
# Eight clients create reservations back to back while the broker is
# killed with SIGKILL in the middle of the burst, as a power cut would.
# Every create the broker answered 201 for must still be there, Reserved,
# once it restarts on the same database: DESIGN.md section 7 makes the
# commit that acknowledges a reservation durable (synchronous=FULL). A
# create that was in flight at the kill may or may not have landed, but
# never half: `lrb doctor` must find the invariant intact both on the
# crashed database and after the restart, and the clusters' reserved
# amounts must equal a recount of the reservations that hold capacity.
# The providers have room for every request, so any missing or Failed
# acknowledged id is the broker's fault, not a race for capacity.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

WORKERS=8
MIN_ACKED=40
PROVIDERS=(prov-a prov-b)
BROKER_FLAGS=(--stale-after 1h --activation-timeout 1h
  --default-duration 1h --log-level info)

# Turns the paris fixture into a provider with room for 1000 requests.
provider_filter() {
  echo ".clusterID = \"$1\" | .endpoint = \"https://$1.example:6443\"
        | .resources.allocatable = {cpu: \"1000\", memory: \"4000Gi\"}
        | .resources.available = {cpu: \"1000\", memory: \"4000Gi\"}"
}

# worker FILE: creates reservations one after the other until the broker
# stops answering (at most 60 s, 300 creates); appends "code id phase"
# per reply to FILE.
worker() {
  local file=$1 i
  local deadline=$(($(now_ms) + 60000))
  for ((i = 0; i < 300; i++)); do
    (($(now_ms) < deadline)) || break
    api POST /api/v1/reservations "$REQUEST"
    [[ $STATUS != 000 ]] || break
    echo "$STATUS $(jb '.id // "-"') $(jb '.status.phase // "-"')" >>"$file"
  done
}

# Prints how many creates have been acknowledged so far.
acked_count() {
  cat "$E2E_DIR"/worker.*.log 2>/dev/null | awk '$1 == 201' | wc -l
}

# Succeeds once at least MIN_ACKED creates are acknowledged.
enough_acked() {
  (($(acked_count) >= MIN_ACKED))
}

e2e_init
start_broker "$E2E_DIR/broker" "${BROKER_FLAGS[@]}"
for p in "${PROVIDERS[@]}"; do
  advertise paris "$(provider_filter "$p")"
  expect_status "advertise $p" 200 201
done
advertise rome '.clusterID = "edge" | .endpoint = "https://edge.example:6443"'
expect_status "advertise the requester edge" 200 201
REQUEST=$(jq -nc '{requesterID: "edge",
                   requestedResources: {cpu: "1", memory: "1Gi"}}')

# --- the burst and the kill ----------------------------------------------
pids=()
for ((w = 0; w < WORKERS; w++)); do
  worker "$E2E_DIR/worker.$w.log" &
  pids+=("$!")
  track_pid "$!"
done
if wait_for 30 enough_acked; then
  pass "burst under way ($(acked_count) acknowledged)"
else
  fail "burst under way" "only $(acked_count) acknowledged in 30 s"
fi
crash_broker
for pid in "${pids[@]}"; do
  wait_pid "$pid" 60 || kill_tree "$pid"
done
acked=$(cat "$E2E_DIR"/worker.*.log | awk '$1 == 201 { print $2 }' | sort)
n_acked=$(grep -c . <<<"$acked" || true)
expect_eq "every reply before the kill was 201 Reserved" "" \
  "$(cat "$E2E_DIR"/worker.*.log | awk '$1 != 201 || $3 != "Reserved"' |
    sort | uniq -c | head -5)"
doctor_check "doctor clean on the crashed database"

# --- restart -------------------------------------------------------------
start_broker "$E2E_DIR/broker" "${BROKER_FLAGS[@]}"
pass "broker restarts on the crashed database"
missing=""
for id in $acked; do
  api GET "/api/v1/reservations/$id"
  if [[ $STATUS != 200 || $(jb '.status.phase') != Reserved ]]; then
    missing+="$id:$STATUS:$(jb '.status.phase') "
  fi
done
expect_eq "all $n_acked acknowledged ids are there, Reserved" "" "$missing"
api GET "/api/v1/reservations?clusterID=edge&role=requester"
landed=$(jb '[.items[] | select(.status.phase == "Reserved")] | length')
check "at least the acknowledged ones are Reserved ($landed >= $n_acked)" \
  "$landed Reserved < $n_acked acknowledged" test "$landed" -ge "$n_acked"
expect_eq "no Failed or half-made reservation" "" \
  "$(jb '[.items[].status.phase] | map(select(. != "Reserved"))
         | unique | join(",")')"
expect_eq "recount matches the clusters' reserved" "" \
  "$(recount_mismatches edge "${PROVIDERS[@]}")"
doctor_check "doctor clean after the restart"
api POST /api/v1/reservations "$REQUEST"
expect_eq "the restarted broker takes new reservations" "201 Reserved" \
  "$STATUS $(jb '.status.phase')"

stop_broker
expect_eq "broker exits 0 on SIGTERM" 0 "$BROKER_EXIT"
doctor_check "doctor clean after shutdown"
summary
