#!/usr/bin/env bash
# End-to-end: the demo (scripts/demo-run.sh) in its short mode.
#
# The demo must finish within two minutes, exit 0, show one decision
# line per request (requester, chosen cluster, score, price), serve
# rome's GPU requests from another cluster (rome has none), fail the
# deliberate 100000-GPU request, print the summary with a utilisation line
# per cluster, have `lrb doctor` find the database clean, and leave no
# process of its own behind.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

e2e_init
out="$E2E_DIR/demo.out"
start=$(now_ms)
TMPDIR=$E2E_DIR timeout 120 bash "$LRB_SOURCE_DIR/scripts/demo-run.sh" \
  --short --lrb "$LRB_BIN" >"$out" 2>&1 &
demo=$!
track_pid "$demo"
wait_pid "$demo" 130 || true
expect_eq "demo exits 0" 0 "$WAIT_STATUS"
if (($(now_ms) - start < 120000)); then
  pass "demo within two minutes"
else
  fail "demo within two minutes" "$(($(now_ms) - start)) ms"
fi

decisions=$(grep -cE '^  (rome|paris|berlin) +→ (paris|berlin|rome) +score' \
  "$out" || true)
if ((decisions >= 5)); then
  pass "$decisions decision lines"
else
  fail "decision lines" "$(head -c 2000 "$out")"
fi
if grep -qE '^  rome +→ (paris|berlin) +score .* gpu [1-9]' "$out"; then
  pass "rome's GPU request served elsewhere"
else
  fail "rome's GPU request served elsewhere" "none in the output"
fi
if grep -qE '^  rome +→ rome' "$out"; then
  fail "no cluster serves itself" "$(grep -E '→ rome' "$out" | head -3)"
else
  pass "no cluster serves itself"
fi
expect_match "the 100000-GPU request fails" 'rome +→ FAILED +cpu 8 .*gpu 100000' \
  "$(cat "$out")"
made=$(sed -nE 's/^  reservations made ([0-9]+), failed ([0-9]+)$/\1 \2/p' \
  "$out")
expect_match "summary counts" '^[0-9]+ [1-9][0-9]*$' "$made"
for c in rome paris berlin; do
  expect_match "utilisation of $c" "    $c +cpu [0-9.]+%  memory [0-9.]+%" \
    "$(cat "$out")"
done
expect_match "rome has no GPU" '    rome +cpu [0-9.]+%  memory [0-9.]+%  gpu -' \
  "$(cat "$out")"
if sed -n '/lrb doctor:/,$p' "$out" | grep -qE 'reservations .*: ok$'; then
  pass "doctor finds the database clean"
else
  fail "doctor finds the database clean" "$(sed -n '/lrb doctor:/,$p' "$out")"
fi
left=$(pgrep -f "$E2E_DIR/lrb-demo" || true)
expect_eq "no demo process left" "" "$left"

echo "$E2E_PASSED passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
