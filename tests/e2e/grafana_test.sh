#!/usr/bin/env bash
# End-to-end: the Grafana dashboard deploy/grafana/lrb-broker.json.
#
# A dashboard rots silently: a renamed metric or a typo in PromQL only
# shows as an empty panel on the day it is needed. So every `expr` is
# pulled out with jq, Grafana's own variables are replaced by values
# Prometheus understands ($__rate_interval by 5m, $resource by a regular
# expression), and the lot is written as recording rules that
# `promtool check rules` must accept. Then a real broker, fed the
# rome/paris/berlin fixtures and one reservation, must export every
# metric family the expressions name, and its /metrics must pass
# `promtool check metrics`' parser. Each panel the operator was promised
# must be there.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

e2e_init
DASH="$LRB_SOURCE_DIR/deploy/grafana/lrb-broker.json"
command -v promtool >/dev/null || {
  echo "promtool is required (Debian package prometheus)" >&2
  exit 1
}

if jq -e '.panels | length > 0' "$DASH" >/dev/null; then
  pass "dashboard is JSON with panels"
else
  fail "dashboard is JSON with panels" "$(head -c 200 "$DASH")"
fi

# The panels an operator was promised, by a word of their titles.
titles=$(jq -r '.panels[].title' "$DASH")
for want in "Cluster availability" "success rate" "per reservation" \
  "Decision latency histogram" "per cluster"; do
  expect_contains "panel: $want" "$want" "$titles"
done
expect_eq "availability is a heatmap" heatmap \
  "$(jq -r '.panels[] | select(.title | test("availability")) | .type' \
    "$DASH")"

# Every expression as a recording rule, with Grafana's variables resolved.
rules="$E2E_DIR/rules.yml"
jq -r '"groups:\n- name: lrb_dashboard\n  rules:",
  (.panels[].targets[] | .expr
   | gsub("\\$__rate_interval"; "5m") | gsub("\\$resource"; ".+")
   | "  - record: lrb_dashboard:expr\n    expr: \(tojson)")' "$DASH" >"$rules"
exprs=$(grep -c '^  - record:' "$rules")
if ((exprs >= 10)); then
  pass "$exprs expressions extracted"
else
  fail "expressions extracted" "$exprs"
fi
if out=$(promtool check rules "$rules" 2>&1); then
  pass "promtool check rules accepts every expression"
else
  fail "promtool check rules" "$out"
fi
left=$(grep -oE '\$[A-Za-z_]+' "$rules" | sort -u | paste -sd' ' || true)
expect_eq "no unresolved variable" "" "$left"

# A broker with three clusters and one reservation exports every family.
start_broker "$E2E_DIR/b"
for c in rome paris berlin; do
  advertise "$c"
done
api POST /api/v1/reservations \
  '{"requesterID": "rome", "requestedResources": {"cpu": "2", "memory": "4Gi"}}'
expect_status "a reservation is created" 201
api GET /metrics
metrics="$E2E_DIR/metrics.txt"
printf '%s\n' "$BODY" >"$metrics"
if out=$(promtool check metrics <"$metrics" 2>&1) ||
  ! grep -qiE 'error|parse' <<<"$out"; then
  pass "promtool parses the broker's /metrics"
else
  fail "promtool parses the broker's /metrics" "$out"
fi
families=$(jq -r '.panels[].targets[].expr' "$DASH" |
  grep -oE 'broker_[a-z_]+' | sed -E 's/_(bucket|sum|count)$//' | sort -u)
for f in $families; do
  if grep -qE "^# TYPE $f " "$metrics"; then
    pass "broker exports $f"
  else
    fail "broker exports $f" "no '# TYPE $f' in /metrics"
  fi
done
stop_broker

echo "$E2E_PASSED passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
