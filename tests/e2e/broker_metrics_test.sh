#!/usr/bin/env bash
# End-to-end: /metrics tells an operator what the broker did.
#
# After a known history (three reservations Reserved, one Failed, one of
# the three Released) the scrape must pass `promtool check metrics`
# (HELP and TYPE for every family, _total counters, base units) and every
# metric the broker promises must be there with the values that history
# implies: reservation counters per phase and target, the providers'
# allocatable, reserved and free amounts in base units (cores, bytes),
# staleness, latency histograms, HTTP counters, and the dollars per hour
# saved against the most expensive feasible cluster, which this suite
# computes itself from the advertised prices (lib.sh, oracle_rows).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

GIB=1073741824
SCRAPE=""

# scrape: fetches /metrics into SCRAPE (and the file $E2E_DIR/metrics).
scrape() {
  curl -sS --max-time 10 -D "$E2E_DIR/metrics.headers" \
    -o "$E2E_DIR/metrics" "$BROKER_URL/metrics" || true
  SCRAPE=$(cat "$E2E_DIR/metrics" 2>/dev/null || true)
}

# metric NAME [MATCHER...]: prints the sum of the samples of NAME whose
# labels contain every MATCHER (written as label="value"); prints
# "absent" when no sample matches.
metric() {
  local name=$1
  shift
  awk -v name="$name" -v matchers="$*" '
    /^#/ || NF < 2 { next }
    {
      series = $1; labels = ""
      i = index(series, "{")
      if (i > 0) {
        labels = substr(series, i)
        series = substr(series, 1, i - 1)
      }
      if (series != name) next
      n = split(matchers, m, " ")
      for (j = 1; j <= n; j++) if (index(labels, m[j]) == 0) next
      sum += $2; found = 1
    }
    END { if (found) printf "%.17g\n", sum; else print "absent" }
  ' <<<"$SCRAPE"
}

# expect_metric WHAT EXPECTED NAME [MATCHER...]: compares a metric's sum
# with EXPECTED (within 1e-6).
expect_metric() {
  local what=$1 want=$2 name=$3
  shift 3
  expect_near "$what" "$want" "$(metric "$name" "$@")" 1e-6
}

# at_least WHAT VALUE MIN: passes when VALUE >= MIN (numbers).
at_least() {
  check "$1" "'$2' < $3" awk -v v="$2" -v m="$3" \
    'BEGIN { exit !(v != "absent" && v >= m) }'
}

# What this suite has locked per provider (canonical units), for the
# oracle and the expected gauges.
LOCKED='{}'

# lock CLUSTER MILLICORES BYTES: adds to (or, negative, removes from) the
# suite's own account of what is locked on CLUSTER.
lock() {
  LOCKED=$(jq -c --arg c "$1" --argjson m "$2" --argjson b "$3" \
    '.[$c].cpu += $m | .[$c].memory += $b' <<<"$LOCKED")
}
# locked CLUSTER RESOURCE: prints what the suite has locked there.
locked() {
  jq -r --arg c "$1" --arg k "$2" '.[$c][$k] // 0' <<<"$LOCKED"
}

e2e_init
start_broker "$E2E_DIR/broker" --stale-after 10m --activation-timeout 10m \
  --log-level info
for name in rome paris berlin; do
  advertise "$name"
  expect_status "advertise $name" 200 201
done

# --- a known history -----------------------------------------------------
small=$(jq -nc '{requesterID: "rome",
                 requestedResources: {cpu: "4", memory: "8Gi"}}')
ids=()
declare -A targets=()
savings=0
for i in 1 2 3; do
  rows=$(oracle_rows "$small" "$LOCKED")
  api POST /api/v1/reservations "$small"
  expect_eq "create $i Reserved" "201 Reserved" \
    "$STATUS $(jb '.status.phase')"
  target=$(jb '.targetClusterID')
  ids+=("$(jb '.id')")
  targets[$target]=$((${targets[$target]:-0} + 1))
  # Saved per hour: the dearest candidate's price minus the chosen one's,
  # both from the advertised prices (paris 0.161816, berlin 0.179724).
  savings=$(jq -r --arg t "$target" --argjson s "$savings" \
    '$s + (map(.P) | max) - (.[] | select(.id == $t) | .P)' <<<"$rows")
  lock "$target" 4000 $((8 * GIB))
done
api POST /api/v1/reservations \
  "$(jq -c '.requestedResources.gpu = "10"' <<<"$small")"
expect_eq "a create that cannot fit: Failed" "201 Failed" \
  "$STATUS $(jb '.status.phase')"
api GET "/api/v1/reservations/${ids[0]}"
released_from=$(jb '.targetClusterID')
api POST "/api/v1/reservations/${ids[0]}/release"
expect_status "release the first" 200
lock "$released_from" -4000 $((-8 * GIB))
api POST /api/v1/explain "$small"
expect_status "one explain" 200

# --- the scrape ----------------------------------------------------------
scrape
check "scrape answers" "empty" test -n "$SCRAPE"
expect_match "served as Prometheus text 0.0.4" 'text/plain; *version=0\.0\.4' \
  "$(grep -i '^content-type:' "$E2E_DIR/metrics.headers" | tr -d '\r')"
if out=$(promtool check metrics <"$E2E_DIR/metrics" 2>&1); then
  pass "promtool check metrics"
else
  fail "promtool check metrics" "$(head -c 600 <<<"$out" | tr '\n' ' ')"
fi

expect_metric "reservations Reserved: 3" 3 broker_reservations_total \
  'phase="Reserved"' 'requester="rome"'
expect_metric "reservations Failed: 1" 1 broker_reservations_total \
  'phase="Failed"'
expect_metric "reservations Released: 1" 1 broker_reservations_total \
  'phase="Released"'
for target in "${!targets[@]}"; do
  expect_metric "reservations Reserved on $target: ${targets[$target]}" \
    "${targets[$target]}" broker_reservations_total 'phase="Reserved"' \
    "target_cluster=\"$target\""
done
# Three creates reached Reserved; four creates were decided.
expect_metric "reservation duration histogram counts the 3 Reserved" 3 \
  broker_reservation_duration_seconds_count
at_least "decision latency histogram counts the 4 decisions" \
  "$(metric broker_decision_latency_seconds_count)" 4
expect_eq "decision latency +Inf bucket = count" \
  "$(metric broker_decision_latency_seconds_count)" \
  "$(metric broker_decision_latency_seconds_bucket 'le="+Inf"')"

# Base units: 32 cores, 128Gi = 137438953472 bytes, 4 GPUs.
expect_metric "paris allocatable cpu in cores" 32 \
  broker_cluster_allocatable 'cluster_id="paris"' 'resource="cpu"'
expect_metric "paris allocatable memory in bytes" $((128 * GIB)) \
  broker_cluster_allocatable 'cluster_id="paris"' 'resource="memory"'
expect_metric "berlin allocatable GPUs" 4 \
  broker_cluster_allocatable 'cluster_id="berlin"' 'resource="gpu"'
for c in paris berlin; do
  cores=$(($(locked "$c" cpu) / 1000))
  expect_metric "$c reserved cpu: $cores cores" "$cores" \
    broker_cluster_reserved "cluster_id=\"$c\"" 'resource="cpu"'
  expect_metric "$c reserved memory" "$(locked "$c" memory)" \
    broker_cluster_reserved "cluster_id=\"$c\"" 'resource="memory"'
done
# Free cpu = available - reserved: paris 24, berlin 40 cores.
expect_metric "paris free cpu" $((24 - $(locked paris cpu) / 1000)) \
  broker_cluster_free 'cluster_id="paris"' 'resource="cpu"'
expect_metric "berlin free cpu" $((40 - $(locked berlin cpu) / 1000)) \
  broker_cluster_free 'cluster_id="berlin"' 'resource="cpu"'
for c in rome paris berlin; do
  expect_metric "$c not stale" 0 broker_cluster_stale "cluster_id=\"$c\""
done
score=$(metric broker_cluster_score 'cluster_id="paris"')
check "paris has a last score in [0, 100]" "$score" \
  awk -v s="$score" 'BEGIN { exit !(s != "absent" && s >= 0 && s <= 100) }'
at_least "lock conflicts counted (none needed here)" \
  "$(metric broker_resource_lock_conflicts_total)" 0
expect_metric "cost savings for rome = $(printf '%.6f' "$savings") USD/h" \
  "$savings" broker_cost_savings_dollars 'requester="rome"'
at_least "HTTP 201s counted (4 creates)" \
  "$(metric broker_http_requests_total 'method="POST"' 'code="201"')" 4
at_least "HTTP request durations counted" \
  "$(metric broker_http_request_duration_seconds_count)" 9

# --- counters only go up -------------------------------------------------
before=$(metric broker_http_requests_total)
api GET /healthz
scrape
check "HTTP request counter went up" \
  "$before -> $(metric broker_http_requests_total)" \
  awk -v a="$before" -v b="$(metric broker_http_requests_total)" \
  'BEGIN { exit !(b > a) }'

doctor_check "doctor clean"
stop_broker
expect_eq "broker exits 0 on SIGTERM" 0 "$BROKER_EXIT"
summary
