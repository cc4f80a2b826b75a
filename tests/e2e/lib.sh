# shellcheck shell=bash disable=SC2034 # globals are read by the suites
# Shared helpers for lrb's end-to-end suites.
#
# Each suite is a standalone bash script that sources this file, starts its
# own broker on an ephemeral port of 127.0.0.1 with its own SQLite file in
# a fresh temporary directory, drives it with curl and jq, prints one line
# per check ("ok - what" or "not ok - what: details") and ends with
# "N passed, M failed". Suites talk to the broker only through its HTTP API
# and the `lrb doctor` verb, the way an agent or an operator would, so they
# test the contract of DESIGN.md rather than the broker's internals.
#
# Everything a suite starts is recorded here so that one EXIT trap can stop
# it, and every wait is bounded in time: a hung broker fails a suite, it
# never hangs CI. Quantities and timestamps are compared after parsing
# them in jq (qty, amount, epoch below), never as strings, so "2" and
# "2000m" are the same amount, as Kubernetes says they are.

: "${LRB_BIN:?set LRB_BIN to the lrb binary}"
LRB_SOURCE_DIR=${LRB_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." &&
  pwd)}
E2E_DATA="$LRB_SOURCE_DIR/tests/data"

E2E_PASSED=0
E2E_FAILED=0
E2E_DIR=""
E2E_PIDS=()
E2E_BROKER_RUNS=0
E2E_LAST_GENERATION=0
BROKER_PID=""
BROKER_PORT=""
BROKER_URL=""
BROKER_DB=""
BROKER_LOG=""
BROKER_EXIT=""
STATUS=""
BODY=""

# jq definitions every filter of the suites may use:
#   qty          a Kubernetes quantity string ("8Gi", "500m", "1e3") as a
#                number (cores for cpu, bytes for memory, counts)
#   canon        a resource name as the broker keys it ("nvidia.com/gpu"
#                -> "gpu", "ephemeral-storage" -> "storage")
#   amount($k)   the canonical integer of resource $k in a resource map
#                (millicores for cpu, bytes or counts otherwise; 0 if absent)
#   epoch        an RFC 3339 timestamp as seconds since 1970, with the
#                fraction kept
E2E_JQ_DEFS='
def qty:
  if type == "number" then .
  else capture("^(?<n>[+-]?[0-9.]+([eE][+-]?[0-9]+)?)(?<s>[a-zA-Z]*)$") as $m
    | ($m.n | tonumber) * ({"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3,
        "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
        "Ki": 1024, "Mi": 1048576, "Gi": 1073741824,
        "Ti": 1099511627776, "Pi": 1125899906842624,
        "Ei": 1152921504606846976}[$m.s])
  end;
def canon:
  if test("/gpu$") then "gpu"
  elif . == "ephemeral-storage" then "storage" else . end;
def canon_list: with_entries(.key |= canon);
def amount($k):
  ((. // {}) | canon_list | .[$k] // "0" | qty) as $v
  | if $k == "cpu" then ($v * 1000 | round) else ($v | round) end;
def epoch:
  sub("\\+00:00$"; "Z") as $t
  | ($t | sub("\\.[0-9]+"; "") | fromdateiso8601)
    + (($t | capture("\\.(?<f>[0-9]+)") | ("0." + .f | tonumber)) // 0);
'

# Prints the wall-clock time in milliseconds without forking.
now_ms() {
  local t=${EPOCHREALTIME//[.,]/}
  echo $((t / 1000))
}

# Records a passed check.
pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  echo "ok - $1"
}

# Records a failed check with what was seen instead.
fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  echo "not ok - $1: $2"
}

# Creates the suite's temporary directory and arms the cleanup trap.
e2e_init() {
  command -v jq >/dev/null || {
    echo "jq is required" >&2
    exit 1
  }
  E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lrb-e2e.XXXXXX")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
}

# Kills `pid` and the processes it started (a background subshell's curl).
kill_tree() {
  local pid=$1 child
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    kill -9 "$child" 2>/dev/null || true
  done
  kill -9 "$pid" 2>/dev/null || true
}

# Stops everything the suite started, shows the broker's log when the
# suite failed, and removes the temporary directory.
e2e_cleanup() {
  local rc=$? pid
  for pid in "${E2E_PIDS[@]}"; do
    kill_tree "$pid"
  done
  if [[ -n $BROKER_PID ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
    stop_broker >/dev/null 2>&1 || true
  fi
  if ((rc != 0 || E2E_FAILED > 0)) && [[ -n $BROKER_LOG && -f $BROKER_LOG ]]
  then
    echo "--- last lines of $BROKER_LOG" >&2
    tail -n 40 "$BROKER_LOG" >&2 || true
  fi
  if [[ -n $E2E_DIR ]]; then
    rm -rf "$E2E_DIR"
  fi
  exit "$rc"
}

# Remembers a background process for the cleanup trap.
track_pid() {
  E2E_PIDS+=("$1")
}

# Waits (at most `seconds`) for a child process to end; sets WAIT_STATUS
# to its exit status, or to "timeout".
wait_pid() {
  local pid=$1 seconds=$2
  local deadline=$(($(now_ms) + seconds * 1000))
  while kill -0 "$pid" 2>/dev/null; do
    if (($(now_ms) > deadline)); then
      WAIT_STATUS=timeout
      return 1
    fi
    sleep 0.05
  done
  WAIT_STATUS=0
  wait "$pid" 2>/dev/null || WAIT_STATUS=$?
  # Reaped: its pid may be reused, so the cleanup must not kill it.
  local i
  for i in "${!E2E_PIDS[@]}"; do
    [[ ${E2E_PIDS[$i]} != "$pid" ]] || unset 'E2E_PIDS[i]'
  done
}

# start_broker DIR [FLAGS...]: starts `lrb broker` on an ephemeral port of
# 127.0.0.1 with its database DIR/lrb.db (kept across restarts), waits at
# most 10 s for the port file, and sets BROKER_PID, BROKER_PORT,
# BROKER_URL, BROKER_DB and BROKER_LOG. Returns 1 if it does not come up.
start_broker() {
  local dir=$1
  shift
  mkdir -p "$dir"
  local port_file="$dir/port"
  rm -f "$port_file"
  E2E_BROKER_RUNS=$((E2E_BROKER_RUNS + 1))
  BROKER_DB="$dir/lrb.db"
  BROKER_LOG="$dir/broker.$E2E_BROKER_RUNS.log"
  "$LRB_BIN" broker --listen 127.0.0.1:0 --port-file "$port_file" \
    --db "$BROKER_DB" "$@" >"$BROKER_LOG" 2>&1 &
  BROKER_PID=$!
  if ! wait_port_file "$port_file" 10; then
    echo "broker did not come up; its log:" >&2
    tail -n 40 "$BROKER_LOG" >&2
    return 1
  fi
  BROKER_URL="http://127.0.0.1:$BROKER_PORT"
}

# Waits for the broker to write its port; sets BROKER_PORT.
wait_port_file() {
  local file=$1 seconds=$2
  local deadline=$(($(now_ms) + seconds * 1000))
  until [[ -s $file ]]; do
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      return 1
    fi
    if (($(now_ms) > deadline)); then
      return 1
    fi
    sleep 0.05
  done
  BROKER_PORT=$(tr -d '[:space:]' <"$file")
  [[ $BROKER_PORT =~ ^[0-9]+$ ]] && ((BROKER_PORT > 0 && BROKER_PORT < 65536))
}

# Sends SIGTERM and waits at most 10 s; sets BROKER_EXIT to the exit
# status (or "timeout", after which the broker is killed).
stop_broker() {
  [[ -n $BROKER_PID ]] || return 0
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  if wait_pid "$BROKER_PID" 10; then
    BROKER_EXIT=$WAIT_STATUS
  else
    BROKER_EXIT=timeout
    kill -9 "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  BROKER_PID=""
}

# Kills the broker with SIGKILL, as a power cut would.
crash_broker() {
  [[ -n $BROKER_PID ]] || return 0
  kill -9 "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

# api METHOD PATH [BODY [CURL_ARGS...]]: sends one request to the broker
# and sets STATUS (the HTTP code, 000 when nothing answered) and BODY. A
# POST without a body sends an empty one.
api() {
  local method=$1 path=$2
  shift 2
  local data=()
  if (($# > 0)); then
    data=(-H 'Content-Type: application/json' --data-binary "$1")
    shift
  elif [[ $method == POST ]]; then
    data=(--data-binary '')
  fi
  api_raw "$method" "$path" "${data[@]}" "$@"
}

# api_file METHOD PATH FILE [CURL_ARGS...]: as api, with the body read
# from FILE byte for byte (large or binary bodies).
api_file() {
  local method=$1 path=$2 file=$3
  shift 3
  api_raw "$method" "$path" -H 'Content-Type: application/json' \
    --data-binary "@$file" "$@"
}

# Sends a request with raw curl arguments; sets STATUS and BODY.
api_raw() {
  local method=$1 path=$2
  shift 2
  # Per shell, so that a background loop does not overwrite the reply.
  local out="$E2E_DIR/api.$BASHPID.body"
  rm -f "$out"
  STATUS=$(curl -sS -o "$out" -w '%{http_code}' --max-time 30 \
    -X "$method" "$@" "$BROKER_URL$path" 2>/dev/null) || true
  [[ -n $STATUS ]] || STATUS=000
  BODY=$(cat "$out" 2>/dev/null) || BODY=""
}

# jb [JQ_ARGS...] FILTER: runs a jq filter (with the definitions above)
# on BODY; prints "<not json>" when BODY is not JSON.
jb() {
  local filter=${*: -1}
  jq -r "${@:1:$#-1}" "$E2E_JQ_DEFS $filter" <<<"$BODY" 2>/dev/null ||
    echo "<not json>"
}

# Prints BODY cut to 300 characters, for failure details.
short_body() {
  local flat=${BODY//$'\n'/ }
  echo "${flat:0:300}"
}

# expect_eq WHAT EXPECTED ACTUAL: passes when the two strings are equal.
expect_eq() {
  if [[ $2 == "$3" ]]; then
    pass "$1"
  else
    fail "$1" "expected '$2', got '$3'"
  fi
}

# expect_ne WHAT UNEXPECTED ACTUAL: passes when the two strings differ.
expect_ne() {
  if [[ $2 != "$3" ]]; then
    pass "$1"
  else
    fail "$1" "got '$3', which it must not be"
  fi
}

# expect_contains WHAT NEEDLE ACTUAL: passes when ACTUAL contains NEEDLE.
expect_contains() {
  if [[ $3 == *"$2"* ]]; then
    pass "$1"
  else
    fail "$1" "'$2' not in '$3'"
  fi
}

# expect_match WHAT REGEX ACTUAL: passes when ACTUAL matches REGEX.
expect_match() {
  if [[ $3 =~ $2 ]]; then
    pass "$1"
  else
    fail "$1" "'$3' does not match /$2/"
  fi
}

# expect_near WHAT EXPECTED ACTUAL TOLERANCE: numeric comparison.
expect_near() {
  if awk -v e="$2" -v a="$3" -v t="$4" 'BEGIN {
      num = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
      d = e - a; if (d < 0) d = -d
      exit !(e ~ num && a ~ num && d <= t) }'
  then
    pass "$1"
  else
    fail "$1" "expected $2 (within $4), got '$3'"
  fi
}

# expect_status WHAT CODE...: passes when STATUS is one of the codes.
expect_status() {
  local what=$1 code
  shift
  for code in "$@"; do
    if [[ $STATUS == "$code" ]]; then
      pass "$what"
      return 0
    fi
  done
  fail "$what" "HTTP $STATUS (wanted $*): $(short_body)"
  return 1
}

# expect_error WHAT CODE FIELD: passes when the broker answered HTTP CODE
# with an error body {"error": {"code", "message", "field"}} whose field
# is FIELD ("" when no field applies; "*" to not check it).
expect_error() {
  local what=$1 code=$2 field=$3
  local shape got
  # One jq run: whether code and message are there, '|', the field.
  shape=$(jb '"\((.error.code | type == "string" and length > 0) and
              (.error.message | type == "string" and length > 0))|\(
              .error.field // "")"')
  got=${shape#*|}
  if [[ $STATUS != "$code" ]]; then
    fail "$what" "HTTP $STATUS (wanted $code): $(short_body)"
  elif [[ ${shape%%|*} != true ]]; then
    fail "$what" "error body lacks code or message: $(short_body)"
  elif [[ $field != "*" && $got != "$field" ]]; then
    fail "$what" "error.field '$got' (wanted '$field')"
  else
    pass "$what"
  fi
}

# check WHAT DETAILS COMMAND...: passes when COMMAND succeeds.
check() {
  local what=$1 details=$2
  shift 2
  if "$@"; then
    pass "$what"
  else
    fail "$what" "$details"
  fi
}

# wait_for SECONDS COMMAND...: polls COMMAND every 100 ms until it
# succeeds (returns 0) or SECONDS pass (returns 1).
wait_for() {
  local seconds=$1
  shift
  local deadline=$(($(now_ms) + seconds * 1000))
  until "$@"; do
    if (($(now_ms) > deadline)); then
      return 1
    fi
    sleep 0.1
  done
}

# Prints a generation above every one this shell sent before: the
# wall-clock milliseconds, as an agent would use.
next_generation() {
  local gen
  gen=$(now_ms)
  if ((gen <= E2E_LAST_GENERATION)); then
    gen=$((E2E_LAST_GENERATION + 1))
  fi
  E2E_LAST_GENERATION=$gen
  echo "$gen"
}

# ad_json NAME [JQ_FILTER]: prints the fixture tests/data/ads/NAME.json
# with a fresh generation, then JQ_FILTER applied (default: unchanged).
ad_json() {
  local name=$1 filter=${2:-.}
  local gen
  gen=$(next_generation)
  jq -c --argjson gen "$gen" "$E2E_JQ_DEFS .generation = \$gen | $filter" \
    "$E2E_DATA/ads/$name.json"
}

# advertise NAME [JQ_FILTER]: posts the fixture NAME (see ad_json); sets
# STATUS and BODY.
advertise() {
  local body
  body=$(ad_json "$@")
  api POST /api/v1/advertisements "$body"
}

# cluster_amount ID FIELD RESOURCE: prints resources.FIELD.RESOURCE of a
# cluster as the broker reports it, in canonical units (see amount).
cluster_amount() {
  api GET "/api/v1/clusters/$1"
  jb --arg f "$2" --arg k "$3" '.resources[$f] | amount($k)'
}

# reservation_phase ID: prints the phase of a reservation.
reservation_phase() {
  api GET "/api/v1/reservations/$1"
  jb '.status.phase'
}

# The scoring rules of DESIGN.md section 6, computed independently of the
# broker from the advertised numbers (the fixtures), for the suites to
# check its choices against. Input: the fixtures' advertisements; $req the
# request, $reserved what the suite itself has locked per cluster (in
# canonical units: {"paris": {"cpu": 4000, "memory": 8589934592}}), $skip
# the ids of clusters that are not Ready. Output: the candidates as
# [{id, R, P, C, S}], best first.
E2E_ORACLE_JQ='
def weights($p):
  if ($p.name // "") == "resource" then [1, 0]
  elif ($p.name // "") == "cost" then [0, 1]
  else [($p.resourceWeight // 0.7), ($p.costWeight // 0.3)] end;
def gpu_price($ad; $model):
  ($ad.prices.gpuPerHour // {}) as $g
  | ($g[if $model == "" then "default" else $model end] // $g.default)
  | tonumber;
def price($ad; $rr; $model):
  ($rr | amount("cpu")) / 1000 * ($ad.prices.cpuPerHour | tonumber)
  + ($rr | amount("memory")) / 1073741824
    * ($ad.prices.memoryGiBPerHour | tonumber)
  + (($rr | amount("gpu")) as $n
     | if $n == 0 then 0 else $n * gpu_price($ad; $model) end);
($req.requestedResources | canon_list) as $rr
| ($rr | keys) as $ks
| ($req.constraints // {}) as $con
| weights($req.policy // {}) as $w
| [ .[] as $ad
    | select($ad.clusterID != $req.requesterID)
    | select(($skip | index($ad.clusterID)) == null)
    | select(($con.regions // []) as $r
             | ($r | length) == 0 or ($r | index($ad.region)) != null)
    | select(all(($con.labels // {}) | to_entries[];
                 $ad.labels[.key] == .value))
    | select(($con.gpuModel // "") as $m
             | $m == "" or (($ad.gpuModels[$m] // 0) > 0))
    | [ $ks[] as $k
        | { r: ($rr | amount($k)),
            free: (($ad.resources.available | amount($k))
                   - ($reserved[$ad.clusterID][$k] // 0)),
            alloc: ($ad.resources.allocatable | amount($k)) } ] as $terms
    | select(all($terms[]; .free >= .r))
    | { id: $ad.clusterID,
        R: ([$terms[] | (.free - .r) / .alloc] | add / length),
        P: price($ad; $rr; $con.gpuModel // "") } ]
| (map(.P) | min) as $pmin
| map(.C = (if .P == 0 then 1 else $pmin / .P end)
      | .S = 100 * ($w[0] * .R + $w[1] * .C))
| sort_by(-.S, .P, .id)
'

# oracle_rows REQUEST [RESERVED] [SKIP] [FIXTURE...]: prints the ranked
# candidates (see E2E_ORACLE_JQ) as JSON; fixtures default to rome, paris
# and berlin.
oracle_rows() {
  local req=$1 reserved=${2:-'{}'} skip=${3:-'[]'}
  shift $(($# < 3 ? $# : 3))
  local names=("$@") files=() name
  ((${#names[@]} > 0)) || names=(rome paris berlin)
  for name in "${names[@]}"; do
    files+=("$E2E_DATA/ads/$name.json")
  done
  jq -c -s --argjson req "$req" --argjson reserved "$reserved" \
    --argjson skip "$skip" "$E2E_JQ_DEFS $E2E_ORACLE_JQ" "${files[@]}"
}

# oracle REQUEST [RESERVED] [SKIP]: prints the cluster the scoring rules
# choose, or nothing when no cluster fits.
oracle() {
  oracle_rows "$@" | jq -r '.[0].id // ""'
}

# doctor_check WHAT: runs `lrb doctor` on the suite's database; passes on
# exit 0, fails with its output otherwise.
doctor_check() {
  local out="$E2E_DIR/doctor.out" rc=0
  "$LRB_BIN" doctor --db "$BROKER_DB" >"$out" 2>&1 || rc=$?
  if ((rc == 0)); then
    pass "$1"
  else
    fail "$1" "doctor exit $rc: $(head -c 400 "$out" | tr '\n' ' ')"
  fi
}

# burst N DIR BODY_FILE [CURL_ARGS...]: starts N background creates of the
# reservation in BODY_FILE, released together through a FIFO gate, and
# waits (at most 120 s) for all of them. Reply i lands in DIR/i.code and
# DIR/i.json.
burst() {
  local n=$1 dir=$2 body=$3
  shift 3
  mkdir -p "$dir"
  mkfifo "$dir/gate"
  # Holding the FIFO open read-write keeps it from blocking the openers
  # and keeps the newlines buffered until every reader has taken one.
  local gate_fd i pids=()
  exec {gate_fd}<>"$dir/gate"
  for ((i = 0; i < n; i++)); do
    burst_one "$dir" "$i" "$body" "$@" &
    pids+=("$!")
    track_pid "$!"
  done
  for ((i = 0; i < n; i++)); do
    printf '\n' >&"$gate_fd"
  done
  for i in "${pids[@]}"; do
    wait_pid "$i" 120 || kill_tree "$i"
  done
  exec {gate_fd}>&-
}

# Waits at the gate, then sends one create (run in the background).
burst_one() {
  local dir=$1 i=$2 body=$3
  shift 3
  read -r _ <"$dir/gate"
  curl -sS -o "$dir/$i.json" -w '%{http_code}\n' --max-time 60 -X POST \
    -H 'Content-Type: application/json' --data-binary "@$body" "$@" \
    "$BROKER_URL/api/v1/reservations" >"$dir/$i.code" 2>"$dir/$i.err" ||
    true
}

# recount_mismatches REQUESTER PROVIDER...: prints, per provider, where
# the sum of the granted amounts of REQUESTER's Reserved and Active
# reservations there differs from the reserved amount the broker reports
# for it (nothing when all agree).
recount_mismatches() {
  local requester=$1 items p want got
  shift
  api GET "/api/v1/reservations?clusterID=$requester&role=requester"
  items=$(jb '[.items[] | select(.status.phase == "Reserved"
                                 or .status.phase == "Active")]')
  for p in "$@"; do
    want=$(jq -r --arg p "$p" "$E2E_JQ_DEFS
      [.[] | select(.targetClusterID == \$p) | .grantedResources]
      | \"\(map(amount(\"cpu\")) | add // 0) \(map(amount(\"memory\"))
            | add // 0)\"" <<<"$items")
    got="$(cluster_amount "$p" reserved cpu) $(cluster_amount "$p" \
      reserved memory)"
    [[ $want == "$got" ]] || echo "$p: recount $want, broker $got"
  done
}

# Prints "passed, failed" and exits non-zero when any check failed.
summary() {
  echo "$E2E_PASSED passed, $E2E_FAILED failed"
  if ((E2E_FAILED > 0)); then
    exit 1
  fi
  exit 0
}
