#!/usr/bin/env bash
# Every client verb of the CLI against a real broker on 127.0.0.1, in
# every output format: tables are checked cell by cell, JSON is parsed
# with jq (and checked against the API's own answer or the scoring
# rules), YAML is read back with yq and must equal the JSON, and exit
# statuses 0, 3 and 4 come from real situations (a fit, nothing fits, a
# second release).
set -euo pipefail
source "$(dirname "$0")/cli_lib.sh"

cli_init
cli_start_broker --activation-timeout 60s --sweep-interval 200ms
export LRB_BROKER=$BROKER_URL

# yaml_equals_json WHAT ARGS...: the YAML of ARGS is the JSON of ARGS.
yaml_equals_json() {
  local what=$1 json yaml
  shift
  lrb_run "$@" -o json
  json=$(jq -S . <<<"$OUT" 2>/dev/null) || json="<bad json>"
  lrb_run "$@" -o yaml
  yaml=$(yq -S . <<<"$OUT" 2>/dev/null) || yaml="<bad yaml>"
  if [[ $json == "<bad json>" || $json != "$yaml" ]]; then
    fail "$what" "yaml and json differ: ${yaml:0:200} vs ${json:0:200}"
  else
    pass "$what"
  fi
}

# ----- get clusters ---------------------------------------------------

lrb_run get clusters
expect_rc "get clusters succeeds" 0
expect_eq "the table has a header and one row per cluster" 4 "$(out_lines)"
expect_match "the header names the columns" \
  "^NAME +STATE +REGION +CPU FREE/ALLOC +MEM FREE/ALLOC" "$OUT"
# paris: 24 of 32 cores and 96Gi of 128Gi free (the fixture's available
# and allocatable), no GPU; berlin has its 4 T4s free.
expect_eq "paris free/allocatable cpu" "24/32" "$(cell paris 4)"
expect_eq "paris free/allocatable memory" "96Gi/128Gi" "$(cell paris 5)"
expect_eq "berlin free/allocatable gpu" "4/4" "$(cell berlin 6)"
expect_eq "paris is Ready" "Ready" "$(cell paris 2)"
expect_eq "no colour when stdout is not a terminal" 0 \
  "$(grep -c $'\033' <<<"$OUT" || true)"

lrb_run get clusters -o json
expect_eq "-o json is the API's list" "berlin,paris,rome" \
  "$(oj '[.items[].clusterID] | sort | join(",")')"
expect_eq "-o json keeps exact quantities" 24000 \
  "$(oj '.items[] | select(.clusterID == "paris") | .resources.free
         | amount("cpu")')"
api GET /api/v1/clusters
expect_eq "-o json equals the broker's answer" "$(jq -S -c . <<<"$BODY")" \
  "$(jq -S -c . <<<"$OUT")"
yaml_equals_json "-o yaml is the same document" get clusters

lrb_run get clusters -o name
expect_eq "-o name prints one plain id per line" "berlin paris rome" \
  "$(sort <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
lrb_run get clusters -o wide
expect_match "-o wide adds the endpoint" \
  "paris .*https://paris\.example:6443" "$OUT"
for alias in cluster cl; do
  lrb_run get "$alias" paris -o json
  expect_eq "get $alias ID shows one cluster" paris "$(oj .clusterID)"
done

# ----- explain and reserve --------------------------------------------

request='{"requesterID": "rome",
          "requestedResources": {"cpu": "4", "memory": "8Gi"}}'
want=$(oracle "$request")
lrb_run explain --cpu 4 --mem 8Gi --requester rome
expect_rc "explain succeeds" 0
expect_eq "explain ranks the scoring rules' choice first" "$want" \
  "$(awk '$1 == "1" { print $2 }' <<<"$OUT")"
expect_match "explain says why the requester is left out" \
  "- +rome +- +- +- +- +is the requester" "$OUT"
lrb_run explain --cpu 4 --mem 8Gi --requester rome -o json
expect_eq "explain -o json: chosen" "$want" "$(oj .chosen)"
expect_eq "explain -o json: one row per cluster" 3 "$(oj '.rows | length')"
lrb_run explain --cpu 4 --mem 8Gi --requester rome -o name
expect_eq "explain -o name prints the chosen cluster" "$want" "$OUT"

free_before=$(cluster_amount "$want" free cpu)
lrb_run reserve --cpu 4 --mem 8Gi --requester rome --dry-run -o json
expect_eq "reserve --dry-run prints the decision" "$want" "$(oj .chosen)"
expect_eq "reserve --dry-run locks nothing" "$free_before" \
  "$(cluster_amount "$want" free cpu)"

lrb_run reserve --cpu 4 --mem 8Gi --requester rome -o json
expect_rc "reserve succeeds" 0
expect_eq "reserve -o json: Reserved" Reserved "$(oj .status.phase)"
expect_eq "reserve -o json: on the chosen cluster" "$want" \
  "$(oj .targetClusterID)"
r1=$(oj .id)
expect_eq "the lock is taken: 4 cores fewer free" \
  $((free_before - 4000)) "$(cluster_amount "$want" free cpu)"

lrb_run reserve --cpu 1 --mem 1Gi --requester paris
expect_rc "reserve (table) succeeds" 0
expect_match "the table names id, cluster, phase, score, price" \
  "^ID +CLUSTER +PHASE +SCORE +PRICE/H +EXPIRES" "$OUT"
r2=$(awk 'NR == 2 { print $1 }' <<<"$OUT")
expect_match "the row starts with the reservation id" '^r-[0-9a-f]{16}$' "$r2"
api GET "/api/v1/reservations/$r2"
expect_eq "the table's cluster is the reservation's target" \
  "$(jb .targetClusterID)" "$(awk 'NR == 2 { print $2 }' <<<"$OUT")"
price=$(jb '.targetClusterID as $t | .decision.rows[]
           | select(.clusterID == $t) | .pricePerHour')
expect_eq "the table's price is the chosen row's, 4 decimals" \
  "$(printf '%.4f' "$price")" "$(awk 'NR == 2 { print $5 }' <<<"$OUT")"

lrb_run reserve --cpu 1 --mem 1Gi --requester paris --idempotency-key k-1 \
  -o name
first=$OUT
lrb_run reserve --cpu 1 --mem 1Gi --requester paris --idempotency-key k-1 \
  -o name
expect_eq "the same idempotency key returns the same reservation" \
  "$first" "$OUT"

# ----- get reservations -----------------------------------------------

lrb_run get reservations -o name
expect_match "get reservations -o name lists the new one" "$r1" "$OUT"
lrb_run get res --requester paris -o json
expect_eq "--requester filters by requester" paris \
  "$(oj '[.items[].requesterID] | unique | join(",")')"
lrb_run get res --provider "$want" --phase Reserved -o json
expect_eq "--provider and --phase filter" "$want/Reserved" \
  "$(oj '[.items[] | "\(.targetClusterID)/\(.status.phase)"] | unique
         | join(",")')"
lrb_run get reservation "$r1" -o json
expect_eq "get reservation ID shows one" "$r1" "$(oj .id)"
yaml_equals_json "reservations as YAML equal their JSON" get res
lrb_run get res
expect_match "the reservation table shows requester, target and phase" \
  "$r1 +rome +$want +Reserved +4 +8Gi +0 +in " "$OUT"
lrb_run get res -o wide
expect_match "-o wide adds priority, score and price" \
  "PRIORITY +SCORE +PRICE/H +GRANTED +REASON" "$OUT"

# ----- describe -------------------------------------------------------

lrb_run describe reservation "$r1"
expect_rc "describe reservation succeeds" 0
expect_match "describe shows the id and phase" \
  "ID: +$r1.*Phase: +Reserved" "$(tr '\n' ' ' <<<"$OUT")"
expect_match "describe shows the history with ages" \
  "Reserved: +[0-9T:.-]+Z \([0-9]+s ago\)" "$OUT"
expect_match "describe shows the decision, chosen row marked" \
  "1 +$want .* chosen" "$OUT"
lrb_run describe res "$r1" -o json
expect_eq "describe -o json is the reservation" "$r1" "$(oj .id)"
lrb_run describe cluster "$want"
expect_match "describe cluster lists resources in human units" \
  "memory +[0-9.]+Gi +[0-9.]+Gi" "$OUT"
expect_match "describe cluster shows last seen with its age" \
  "Last seen: +[0-9T:.-]+Z \([0-9]+s ago\)" "$OUT"
expect_match "describe cluster lists the reservations it holds" \
  "$r1 +rome +Reserved" "$OUT"

# ----- capacity -------------------------------------------------------

lrb_run capacity
expect_rc "capacity succeeds" 0
expect_match "capacity has a totals row" "TOTAL +3 clusters +cpu +224" "$OUT"
lrb_run capacity -o json
# 128 + 32 + 64 allocatable cores (the fixtures).
expect_eq "capacity totals are exact sums" 224000 \
  "$(oj '.totals.allocatable | amount("cpu")')"
api GET /api/v1/clusters
expect_eq "capacity's free total is the clusters' free sum" \
  "$(jb '[.items[].resources.free | amount("memory")] | add')" \
  "$(oj '.totals.free | amount("memory")')"
expect_eq "capacity counts GPUs by model" 4 "$(oj '.totals.gpuModels.T4')"
yaml_equals_json "capacity as YAML equals its JSON" capacity

# ----- lifecycle ------------------------------------------------------

lrb_run activate "$r1" --granted cpu=2,memory=4Gi -o json
expect_rc "activate succeeds" 0
expect_eq "activate: Active" Active "$(oj .status.phase)"
expect_eq "activate: granted cpu" 2000 "$(oj '.grantedResources | amount("cpu")')"
lrb_run renew "$r1" --duration 2h -o json
expect_near "renew: the lease ends 2h from now" 7200 \
  "$(oj '(.status.expiresAt | epoch) - now | round')" 60
lrb_run release "$r1" --reason "job done"
expect_rc "release succeeds" 0
expect_eq "release says what it did" "reservation $r1 released" "$OUT"
lrb_run release "$r1"
expect_rc "releasing twice is a conflict: exit 4" 4
expect_error_line "the conflict is one error line" "^lrb: error: release $r1: "

# ----- nothing fits ---------------------------------------------------

lrb_run reserve --cpu 1000 --mem 1Gi --requester rome
expect_rc "a request nothing fits exits 3" 3
expect_error_line "the reasons are on one error line" \
  "no cluster fits the request \(r-[0-9a-f]+ is Failed\): .*berlin: "
expect_eq "stdout lists every cluster's reason" 4 "$(out_lines)"
lrb_run reserve --cpu 1000 --mem 1Gi --requester rome -o json
expect_rc "reserve -o json that fails exits 3" 3
expect_eq "and prints the Failed reservation" Failed "$(oj .status.phase)"
lrb_run explain --cpu 1000 --mem 1Gi --requester rome -o json
expect_rc "explain exits 3 when nothing fits" 3
expect_eq "explain -o json still prints the decision" "" "$(oj .chosen)"

# ----- cordon ---------------------------------------------------------

lrb_run cordon berlin
expect_eq "cordon says what it did" "cluster berlin cordoned" "$OUT"
lrb_run get cl berlin -o json
expect_eq "a cordoned cluster is Cordoned" Cordoned "$(oj .state)"
lrb_run explain --cpu 1 --mem 1Gi --gpu 1 --requester rome
expect_rc "only berlin has GPUs: cordoned, nothing fits" 3
lrb_run uncordon berlin -o name
expect_eq "uncordon -o name prints the cluster" berlin "$OUT"
lrb_run explain --cpu 1 --mem 1Gi --gpu 1 --requester rome -o name
expect_eq "uncordoned, berlin takes GPU requests again" berlin "$OUT"

# ----- events ---------------------------------------------------------

lrb_run events -o json
expect_rc "events succeeds" 0
last=$(oj .lastSeq)
expect_match "events -o json carries lastSeq" '^[0-9]+$' "$last"
expect_eq "the log holds the reservation's Reserved event" 1 \
  "$(oj --arg id "$r1" '[.events[] | select(.reservationID == $id
        and .type == "ReservationReserved")] | length')"
lrb_run events --since "$last" -o json
expect_eq "--since the last seq: nothing new" 0 "$(oj '.events | length')"
lrb_run events --cluster berlin -o json
expect_eq "--cluster keeps the events concerning that cluster" 0 \
  "$(oj '[.events[] | select(.clusterID != "berlin"
        and .requesterID != "berlin")] | length')"
lrb_run events
expect_match "the events table" "^SEQ +AGE +TYPE +CLUSTER +RESERVATION" "$OUT"
yaml_equals_json "events as YAML equal their JSON" events --since 1

# ----- watch, follow and wait -------------------------------------------

# A --watch and a --follow run in the background while a reservation is
# made and activated; each must print it within 10 s.
timeout 20 "$LRB_BIN" get res --requester berlin --watch -o json \
  >"$E2E_DIR/watch.out" 2>&1 &
track_pid $!
timeout 20 "$LRB_BIN" events --follow --since "$last" -o json \
  >"$E2E_DIR/follow.out" 2>&1 &
track_pid $!
sleep 0.5
timeout 30 "$LRB_BIN" reserve --cpu 1 --mem 1Gi --requester berlin --wait \
  --timeout 20s -o name >"$E2E_DIR/wait.out" 2>&1 &
wait_job=$!
track_pid "$wait_job"
r3=""
find_r3() {
  r3=$("$LRB_BIN" get res --requester berlin --phase Reserved -o name)
  [[ -n $r3 ]]
}
check "the waited-for reservation appears" "none in 10 s" wait_for 10 find_r3
lrb_run activate "$r3" -o name
wait_pid "$wait_job" 20 || true
expect_eq "reserve --wait ends 0 once activated" 0 "$WAIT_STATUS"
expect_eq "reserve --wait prints the id" "$r3" "$(cat "$E2E_DIR/wait.out")"
seen_active() {
  jq -e --arg id "$r3" 'select(.id == $id and .status.phase == "Active")' \
    "$E2E_DIR/watch.out" >/dev/null 2>&1
}
check "get --watch prints the change to Active" \
  "$(head -c 300 "$E2E_DIR/watch.out")" wait_for 10 seen_active
seen_event() {
  jq -e --arg id "$r3" 'select(.reservationID == $id
      and .type == "ReservationActivated")' "$E2E_DIR/follow.out" \
    >/dev/null 2>&1
}
check "events --follow prints the activation" \
  "$(head -c 300 "$E2E_DIR/follow.out")" wait_for 10 seen_event

# ----- version --------------------------------------------------------

lrb_run version
api GET /version
expect_eq "version names the client and the broker" \
  "Client Version: $(jb .version) Broker Version: $(jb .version) ($BROKER_URL)" \
  "$(tr '\n' ' ' <<<"$OUT" | sed 's/ $//')"
lrb_run version -o json
expect_eq "version -o json carries the broker's version" "$(jb .version)" \
  "$(oj .broker.version)"

doctor_check "the database is consistent after the CLI's work"
summary
