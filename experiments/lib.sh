# shellcheck shell=bash disable=SC2034 # globals are read by the experiments
# Shared helpers of the experiments (experiments/NN_*.sh).
#
# An experiment is a bash script that starts what it measures (a broker on
# an ephemeral port of 127.0.0.1 with a fresh SQLite file, agents, load
# drivers), writes its raw data as CSV into $OUT, its plots into $FIGURES
# and its section of RESULTS.md into $OUT/section.md. The heavy lifting
# that shell does badly (many concurrent HTTP requests, percentiles,
# confidence intervals, the scoring oracle) is in experiments/lrbexp.py,
# which uses only Python's standard library so that nothing beyond
# Debian's python3 is needed. Every process started here is recorded and
# stopped by one EXIT trap, and every wait is bounded in time.
#
#   NN_name.sh [--short] [--out DIR] [--figures DIR] [--lrb PATH]

EXP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXP_DIR="$EXP_ROOT/experiments"
PY="python3 $EXP_DIR/lrbexp.py"
SHORT=0
OUT_BASE="$EXP_DIR/out"
FIGURES="$EXP_DIR/figures"
LRB=${LRB_BIN:-$EXP_ROOT/build/release/src/cli/lrb}
EXP_PIDS=()
WORK=""

# exp_init NAME "$@": parses the common flags, makes $OUT (cleared) and
# $WORK (a temporary directory), and installs the cleanup trap.
exp_init() {
  EXP_NAME=$1
  shift
  while (($#)); do
    case $1 in
    --short) SHORT=1 ;;
    --out) OUT_BASE=$2 && shift ;;
    --figures) FIGURES=$2 && shift ;;
    --lrb) LRB=$2 && shift ;;
    *)
      echo "usage: $0 [--short] [--out DIR] [--figures DIR] [--lrb PATH]" >&2
      exit 2
      ;;
    esac
    shift
  done
  LRB=$(realpath "$LRB")
  [[ -x $LRB ]] || {
    echo "$EXP_NAME: no lrb binary at $LRB (build it or pass --lrb)" >&2
    exit 1
  }
  OUT="$OUT_BASE/$EXP_NAME"
  rm -rf "$OUT"
  mkdir -p "$OUT" "$FIGURES"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/lrb-exp.XXXXXX")
  trap exp_cleanup EXIT
  trap 'exit 130' INT TERM
  echo "== $EXP_NAME$( ((SHORT)) && echo ' (short)')"
}

# Stops every process started here (TERM, then KILL after 5 s; a
# stopped process is continued first so that it can die), removes $WORK.
exp_cleanup() {
  local pid
  for pid in "${EXP_PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${EXP_PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [[ -n $WORK ]] && rm -rf "$WORK"
}

# Records a background process for the cleanup.
track() {
  EXP_PIDS+=("$1")
}

# Prints the wall-clock time in milliseconds without forking.
now_ms() {
  local t=${EPOCHREALTIME//[.,]/}
  echo $((t / 1000))
}

# wait_file FILE SECONDS: waits for FILE to be non-empty.
wait_file() {
  local deadline=$(($(now_ms) + $2 * 1000))
  until [[ -s $1 ]]; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.05
  done
}

# start_broker DIR [FLAGS...]: starts a broker on DIR/lrb.db and an
# ephemeral port (or 127.0.0.1:$LISTEN_PORT when set, for a restart
# that agents must find again); sets BROKER_PID, BROKER_URL, BROKER_DB.
start_broker() {
  local dir=$1
  shift
  mkdir -p "$dir"
  rm -f "$dir/port"
  BROKER_DB="$dir/lrb.db"
  "$LRB" broker --listen "127.0.0.1:${LISTEN_PORT:-0}" \
    --port-file "$dir/port" \
    --db "$BROKER_DB" --log-level warn "$@" >>"$dir/broker.log" 2>&1 &
  BROKER_PID=$!
  track "$BROKER_PID"
  wait_file "$dir/port" 20 || {
    echo "$EXP_NAME: the broker did not start:" >&2
    tail -n 20 "$dir/broker.log" >&2
    exit 1
  }
  BROKER_URL="http://127.0.0.1:$(tr -d '[:space:]' <"$dir/port")"
  export LRB_BROKER=$BROKER_URL
}

# doctor_line: runs `lrb doctor` on the broker's database; prints "ok" or
# its complaint on one line.
doctor_line() {
  local out
  if out=$("$LRB" doctor --db "$BROKER_DB" 2>&1); then
    echo ok
  else
    tr '\n' ' ' <<<"$out"
  fi
}

# plot NAME GNUPLOT_BODY: draws the plot twice, into
# $FIGURES/NAME.svg and NAME.png, from the same gnuplot commands.
plot() {
  local name=$1 body=$2
  command -v gnuplot >/dev/null || {
    echo "  (gnuplot missing: no $name plot)" >&2
    return 0
  }
  gnuplot <<EOF
set terminal svg size 720,420 dynamic font "sans,12" background "white"
set output "$FIGURES/$name.svg"
set grid
set termoption noenhanced
set key top left
$body
EOF
  gnuplot <<EOF
set terminal pngcairo size 900,525 font "sans,11"
set output "$FIGURES/$name.png"
set grid
set termoption noenhanced
set key top left
$body
EOF
}

# section TEXT: appends markdown to this experiment's RESULTS.md section.
section() {
  printf '%s\n' "$@" >>"$OUT/section.md"
}

# figure NAME CAPTION: links a plot in the section, relative to the
# directory of the RESULTS.md being written ($EXP_RESULTS_DIR, default
# experiments/).
figure() {
  local rel
  rel=$(realpath -m --relative-to="${EXP_RESULTS_DIR:-$EXP_DIR}" \
    "$FIGURES/$1.svg")
  section "" "![$2]($rel)" ""
}

TRACE_NODES="$EXP_ROOT/data/alibaba-gpu-2023/openb_node_list_all_node.csv"
TRACE_PODS="$EXP_ROOT/data/alibaba-gpu-2023/openb_pod_list_default.csv"
PRICES="$EXP_ROOT/data/pricing/regions.csv"
