#!/usr/bin/env bash
# End-to-end: `lrb bench --short`, the few-second run of the load
# generator. It spawns its own broker, so the suite checks behaviour
# only: the JSON carries every documented field, the run created and
# released reservations with no error and no double booking, the floors
# were measured, the spawned broker was restarted after SIGKILL and is
# gone afterwards. Timing figures are machine-dependent and never
# compared with a threshold here. A second run drives a broker the suite
# started itself (--broker) and checks its database (--db); a bad flag
# fails with exit 2.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

e2e_init
# The bench's scratch directories go under the suite's, which the
# cleanup trap removes.
export TMPDIR="$E2E_DIR"

# run_bench OUT ARGS...: runs `lrb bench` in the background for at most
# 180 s; sets WAIT_STATUS.
run_bench() {
  local out=$1
  shift
  "$LRB_BIN" bench "$@" >"$out" 2>"$out.err" &
  local pid=$!
  track_pid "$pid"
  wait_pid "$pid" 180 || true
}

# holds FILTER FILE: whether the jq FILTER is true of FILE.
holds() {
  jq -e "$1" "$2" >/dev/null
}

run_bench "$E2E_DIR/short.json" --short -o json
check "bench --short exits 0" "$WAIT_STATUS $(head -c 400 \
  "$E2E_DIR/short.json.err")" test "$WAIT_STATUS" = 0

R="$E2E_DIR/short.json"
if jq -e '
  (.creates | has("target_per_s") and has("achieved_per_s") and
    has("count") and (.latency_ms | has("p50") and has("p99") and
    has("p999"))) and
  (.ingest | has("per_s")) and (.notifications.latency_ms | has("p99")) and
  has("lock_conflicts") and has("errors") and has("errors_by_status") and
  (.broker | has("cpu_seconds") and has("rss_mib") and has("pinning")) and
  (.floors | has("sqlite_commits_per_s") and has("http_requests_per_s") and
    has("scan_us") and has("decide_us")) and
  (.ratios | has("creates_per_s_over_sqlite_commits_per_s"))' "$R" \
  >/dev/null; then
  pass "the JSON has every documented field"
else
  fail "the JSON has every documented field" "$(head -c 600 "$R")"
fi
expect_eq "double bookings" 0 "$(jq -r .double_bookings "$R")"
expect_eq "errors" 0 "$(jq -r .errors "$R")"
check "creates per second above zero" "$(jq -c .creates "$R")" \
  holds '.creates.achieved_per_s > 0 and .creates.reserved > 0' "$R"
check "each reserved reservation was released" "$(jq -c .creates "$R")" \
  holds '.creates.released == .creates.reserved' "$R"
check "advertisements were ingested" "$(jq -c .ingest "$R")" \
  holds '.ingest.count > 0 and .ingest.per_s > 0' "$R"
check "watchers received notifications" "$(jq -c .notifications "$R")" \
  holds '.notifications.latency_ms.count > 0' "$R"
check "floors were measured" "$(jq -c .floors "$R")" \
  holds '.floors.sqlite_commits_per_s > 0 and
         .floors.http_requests_per_s > 0 and .floors.scan_us > 0' "$R"
check "the broker was spawned and its CPU and RSS read" \
  "$(jq -c .broker "$R")" \
  holds '.broker.spawned and .broker.cpu_seconds >= 0 and
         .broker.rss_mib > 0 and .broker.restart_ready_ms > 0' "$R"
left=$(find "$E2E_DIR" -maxdepth 1 -name 'lrb-bench-*' | wc -l)
expect_eq "scratch directories removed" 0 "$left"
if pgrep -f "$E2E_DIR/lrb-bench-" >/dev/null; then
  fail "no spawned broker left running" "$(pgrep -af "$E2E_DIR/lrb-bench-")"
else
  pass "no spawned broker left running"
fi

# A broker started by the suite, checked through its database.
start_broker "$E2E_DIR/ext"
run_bench "$E2E_DIR/ext.json" --short --no-floors --broker "$BROKER_URL" \
  --db "$BROKER_DB" --clusters 20 -o json
check "bench --broker exits 0" "$(head -c 400 "$E2E_DIR/ext.json.err")" \
  test "$WAIT_STATUS" = 0
E="$E2E_DIR/ext.json"
expect_eq "external: not spawned" false "$(jq -r .broker.spawned "$E")"
expect_eq "external: double bookings" 0 "$(jq -r .double_bookings "$E")"
expect_eq "external: errors" 0 "$(jq -r .errors "$E")"
expect_eq "external: floors skipped" null "$(jq -r .floors "$E")"
check "external: the broker holds the 20 clusters" "$(jq -c .ingest "$E")" \
  test "$(curl -s "$BROKER_URL/api/v1/clusters" | jq '.items | length')" = 20
# One cluster: fewer clusters than advertiser threads once made the
# spare thread spin forever.
run_bench "$E2E_DIR/one.json" --short --no-floors --broker "$BROKER_URL" \
  --db "$BROKER_DB" --clusters 1 -o json
expect_eq "one cluster: bench ends and exits 0" 0 "$WAIT_STATUS"
expect_eq "one cluster: double bookings" 0 \
  "$(jq -r .double_bookings "$E2E_DIR/one.json")"
stop_broker >/dev/null

run_bench "$E2E_DIR/bad.json" --clusters 0 --no-floors
expect_eq "--clusters 0 exits 2" 2 "$WAIT_STATUS"
check "the error names --clusters" "$(cat "$E2E_DIR/bad.json.err")" \
  grep -q -- "--clusters" "$E2E_DIR/bad.json.err"

summary
