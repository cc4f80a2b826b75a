# shellcheck shell=bash
# Helpers of the CLI's end-to-end suites, on top of lib.sh.
#
# The suites drive the real `lrb` binary as an operator or a script would
# and judge it by what a script sees: the exit status, stdout (parsed with
# jq and yq where it is a document) and the one diagnostic line on
# stderr. Every run is bounded in time, and the suite's environment is
# cleaned of LRB_* settings and pointed at its own config folder, so that
# a developer's own config file or broker can never leak into a result.

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=""
ERR=""
RC=0

# Creates the suite's directory, isolates the environment, and starts a
# broker with rome, paris and berlin advertised. Extra arguments go to
# the broker.
cli_init() {
  e2e_init
  unset LRB_BROKER LRB_CLUSTER LRB_CA LRB_CERT LRB_KEY LRB_TOKEN \
    LRB_TOKEN_FILE NO_COLOR
  export XDG_CONFIG_HOME="$E2E_DIR/config" HOME="$E2E_DIR/home"
  mkdir -p "$XDG_CONFIG_HOME" "$HOME"
}

# Starts the suite's broker and advertises the three fixtures.
cli_start_broker() {
  start_broker "$E2E_DIR/broker" "$@" || exit 1
  local name
  for name in rome paris berlin; do
    advertise "$name"
    if [[ $STATUS != 200 ]]; then
      echo "advertising $name failed: HTTP $STATUS $(short_body)" >&2
      exit 1
    fi
  done
}

# lrb_run ARGS...: runs the binary (at most 30 s); sets OUT, ERR and RC.
lrb_run() {
  RC=0
  timeout 30 "$LRB_BIN" "$@" >"$E2E_DIR/cli.out" 2>"$E2E_DIR/cli.err" ||
    RC=$?
  OUT=$(cat "$E2E_DIR/cli.out")
  ERR=$(cat "$E2E_DIR/cli.err")
}

# expect_rc WHAT CODE: passes when the last run exited with CODE.
expect_rc() {
  if [[ $RC == "$2" ]]; then
    pass "$1"
  else
    fail "$1" "exit $RC (wanted $2); stderr: ${ERR:0:300}; stdout: ${OUT:0:200}"
  fi
}

# expect_error_line WHAT REGEX: passes when stderr is exactly one line,
# "lrb: error: ..." matching REGEX.
expect_error_line() {
  local lines
  lines=$(printf '%s\n' "$ERR" | wc -l)
  if [[ $lines != 1 || $ERR != "lrb: error: "* ]]; then
    fail "$1" "stderr is not one 'lrb: error:' line: $ERR"
  elif [[ ! $ERR =~ $2 ]]; then
    fail "$1" "'$ERR' does not match /$2/"
  else
    pass "$1"
  fi
}

# expect_usage WHAT FLAG ARGS...: runs ARGS, expecting exit 2 and one
# error line that names FLAG.
expect_usage() {
  local what=$1 flag=$2
  shift 2
  lrb_run "$@"
  if [[ $RC != 2 ]]; then
    fail "$what" "exit $RC (wanted 2); stderr: $ERR"
    return
  fi
  expect_error_line "$what" "$flag"
}

# oj [JQ_ARGS...] FILTER: runs jq (with lib.sh's definitions) on OUT, as
# jb does on BODY; prints "<not json>" when OUT is not JSON.
oj() {
  local filter=${*: -1}
  jq -r "${@:1:$#-1}" "$E2E_JQ_DEFS $filter" <<<"$OUT" 2>/dev/null ||
    echo "<not json>"
}

# Prints the number of lines of OUT.
out_lines() {
  if [[ -z $OUT ]]; then
    echo 0
  else
    printf '%s\n' "$OUT" | wc -l
  fi
}

# Prints the column COLUMN (1-based, blank-separated) of the OUT line
# whose first column is KEY.
cell() {
  awk -v k="$1" -v c="$2" '$1 == k { print $c; exit }' <<<"$OUT"
}

# Prints a port of 127.0.0.1 on which nothing listens: the broker's port
# after the broker is gone would race with other suites, so ask the
# kernel for a free one and leave it closed.
closed_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}
