#!/usr/bin/env bash
# End-to-end: the seven experiments in their short mode, so they cannot rot.
#
# `experiments/run-all.sh --short` runs every experiment into a temporary
# directory (data, plots and its own RESULTS.md there; the committed
# figures and report are left alone). Checked: it exits 0 within its time
# bound, each experiment wrote its CSV and its section; the functional
# experiment's broker agreed with the oracle on 100 % of the choices;
# the concurrency runs reserved exactly what capacity allows, double-
# booked nothing (recount and `lrb doctor`) and met no transport error;
# the failure runs lost nothing acknowledged and kept the invariant; the
# workload reached Active; `lrb sim` gave a cost for every policy. No
# timing is asserted: the machine running the suite is shared.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

e2e_init
out="$E2E_DIR/exp"
log="$E2E_DIR/run-all.log"
TMPDIR=$E2E_DIR timeout 300 bash "$LRB_SOURCE_DIR/experiments/run-all.sh" \
  --short --out "$out" --lrb "$LRB_BIN" >"$log" 2>&1 &
run=$!
track_pid "$run"
wait_pid "$run" 310 || true
if [[ $WAIT_STATUS == 0 ]]; then
  pass "run-all --short exits 0"
else
  fail "run-all --short exits 0" "status $WAIT_STATUS: $(tail -n 30 "$log")"
fi

for f in functional/choices.csv latency/raw.csv cost/runs.csv \
  cost/savings.csv scalability/scale.csv concurrency/runs.csv \
  failures/faults.csv workload/runs.csv RESULTS.md; do
  if [[ -s $out/$f ]]; then
    pass "wrote $f"
  else
    fail "wrote $f" "missing or empty"
  fi
done
for n in functional latency cost scalability concurrency failures workload; do
  check "section of $n" "no $n/section.md" test -s "$out/$n/section.md"
done

# 1. Every choice equals the oracle's.
csv="$out/functional/choices.csv"
read -r rows matched < <(awk -F, 'NR > 1 {n++; m += $13} END {print n, m}' \
  "$csv" 2>/dev/null || echo "0 -1")
expect_eq "functional: broker = oracle on all $rows choices" "$rows" "$matched"
expect_match "functional: rows played" '^[1-9][0-9]*$' "$rows"
expect_eq "functional: doctor" ok \
  "$(jq -r .doctor "$out/functional/summary.json" 2>/dev/null)"

# 2. Every hook ran.
expect_eq "latency: no hook missing" 0 \
  "$(jq -r .missing "$out/latency/notify.json" 2>/dev/null)"

# 3. A cost for each policy and price setting; random saves 0 against itself.
policies=$(awk -F, 'NR > 1 && $7 > 0 {print $1 "/" $3}' \
  "$out/cost/savings.csv" 2>/dev/null | sort -u | wc -l)
expect_eq "cost: 2 price settings x 5 policies" 10 "$policies"
expect_eq "cost: random against itself" "0" \
  "$(awk -F, '$3 == "random" {print $11 + 0}' "$out/cost/savings.csv" |
    sort -u | paste -sd,)"

# 4. Every size measured, with reservations made during its window.
expect_eq "scalability: sizes 1, 10, 100" "1 10 100" \
  "$(awk -F, 'NR > 1 {print $1}' "$out/scalability/scale.csv" |
    paste -sd' ')"
expect_eq "scalability: reservations at every size" "" \
  "$(awk -F, 'NR > 1 && $4 < 1' "$out/scalability/scale.csv")"

# 5. Held = what capacity allows; nothing double-booked or errored.
# Columns: n,rep,reserved,failed,errors,conflicts,expected,double_booked,
# mismatch,negative,doctor,wall_s,p50,p99,empty_201,holding.
bad=$(awk -F, 'NR > 1 && ($16 != $7 || $5 != 0 || $8 != 0 || $9 != 0 ||
  $10 != 0 || $11 != "ok")' "$out/concurrency/runs.csv")
expect_eq "concurrency: exact, no double-booking, doctor ok" "" "$bad"
# Every 201 must name its reservation (Reserved or Failed, with an id).
expect_eq "concurrency: every answer accounted for" "" \
  "$(awk -F, 'NR > 1 && ($15 != 0 || $3 + $4 != $1)' \
    "$out/concurrency/runs.csv")"
expect_eq "concurrency: two runs" 2 \
  "$(($(wc -l <"$out/concurrency/runs.csv") - 1))"
expect_match "concurrency: capacity was exhausted in the big run" \
  '^200,1,164,36,' "$(sed -n 3p "$out/concurrency/runs.csv")"

# 6. Nothing lost, invariant held, after each fault.
expect_eq "failures: three faults" "agent-kill broker-kill agent-stop" \
  "$(awk -F, 'NR > 1 {print $1}' "$out/failures/faults.csv" | paste -sd' ')"
expect_eq "failures: nothing lost, doctor ok" "" \
  "$(awk -F, 'NR > 1 && ($6 != 0 || $7 != "ok")' "$out/failures/faults.csv")"
expect_match "failures: the broker was killed in a burst and came back" \
  '^broker-kill,1,[0-9]+,[0-9]+,[0-9]+ of 200,' \
  "$(grep '^broker-kill' "$out/failures/faults.csv")"

# 7. The job became Active, on a cluster with GPUs.
expect_eq "workload: every run Active on paris or berlin" "" \
  "$(awk -F, 'NR > 1 && ($6 != "Active" || ($2 != "paris" &&
    $2 != "berlin"))' "$out/workload/runs.csv")"

left=$(pgrep -f "$E2E_DIR/lrb-exp" || true)
expect_eq "no experiment process left" "" "$left"

echo "$E2E_PASSED passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
