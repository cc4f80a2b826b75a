#!/usr/bin/env bash
# Enforces DESIGN.md's dependency direction at the include level (CMake
# enforces it at link level): core includes nothing of ours but core,
# kube only core, daemon core and kube; and only one file of the daemon
# includes the HTTP server header.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
check() {
  local dir="$1" forbidden="$2"
  if grep -rnE "#include \"($forbidden)/" "src/$dir" 2>/dev/null; then
    echo "layering: src/$dir must not include $forbidden" >&2
    status=1
  fi
}
check core 'kube|daemon|cli'
check kube 'daemon|cli'
check daemon 'cli'
# The bench's floor (a bare server measured beside the broker's, bound to
# 127.0.0.1 for one timed loop) is the one exception: it must not go
# through the broker's transport, since that is what it is a floor for.
servers=$( (grep -rlE 'httplib::(SSL)?Server\b' src || true) |
  grep -cvx 'src/daemon/bench_floors.cpp' || true)
if [ "$servers" -gt 1 ]; then
  echo "layering: only one file may use the HTTP server:" >&2
  grep -rlE 'httplib::(SSL)?Server\b' src >&2
  status=1
fi
[ $status -eq 0 ] && echo "layering: ok"
exit $status
