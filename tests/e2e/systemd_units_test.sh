#!/usr/bin/env bash
# Offline checks of the systemd units of packaging/systemd: systemd's
# own verifier accepts them (with ExecStart pointed at the binary under
# test, since /usr/bin/lrb is not installed here), its offline security
# analysis rates them at most 2.0 ("OK"), each carries the hardening the
# deployment guide promises, and the sysusers.d file creates the `lrb`
# user without a login shell in a scratch root. Nothing is started:
# systemd is not running in CI and need not be.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

UNITS="$LRB_SOURCE_DIR/packaging/systemd"
# The highest exposure accepted, in tenths (systemd prints 1.2 for 12).
MAX_EXPOSURE_TENTHS=20
HARDENING=(
  'User=lrb' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes'
  'PrivateTmp=yes' 'PrivateDevices=yes' 'ProtectKernelTunables=yes'
  'ProtectKernelModules=yes' 'ProtectKernelLogs=yes'
  'ProtectControlGroups=yes'
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'
  'SystemCallFilter=@system-service' 'CapabilityBoundingSet='
  'MemoryDenyWriteExecute=yes' 'LockPersonality=yes' 'RestrictNamespaces=yes'
  'Restart=on-failure'
)

# has_line FILE LINE: whether FILE has LINE exactly.
has_line() {
  grep -qxF -- "$2" "$1"
}

# exposure UNIT: prints the overall exposure of UNIT (in E2E_DIR/units)
# in tenths, or nothing when the analysis failed.
exposure() {
  (cd "$E2E_DIR/units" &&
    systemd-analyze security --offline=yes --no-pager "$1" 2>&1) |
    sed -n 's/.*Overall exposure level for .*: \([0-9]*\)\.\([0-9]\).*/\1\2/p'
}

e2e_init
if ! command -v systemd-analyze >/dev/null; then
  fail "systemd-analyze is installed" "install the systemd package"
  summary
fi
mkdir -p "$E2E_DIR/units"
for unit in lrb-broker.service lrb-agent@.service; do
  sed "s|/usr/bin/lrb |$LRB_BIN |" "$UNITS/$unit" >"$E2E_DIR/units/$unit"
done

# --- systemd accepts them ------------------------------------------------
for unit in lrb-broker.service lrb-agent@rome.service; do
  out=$( (cd "$E2E_DIR/units" &&
    systemd-analyze verify --man=no "$unit" 2>&1) || echo "exit $?")
  expect_eq "systemd-analyze verify $unit" "" "$out"
done
check "the agent runs as the instance's cluster" "ExecStart lacks %i" \
  grep -q -- '--cluster %i ' "$UNITS/lrb-agent@.service"
check "per-cluster settings come from /etc/lrb/agent-%i.env" \
  "no optional EnvironmentFile" has_line "$UNITS/lrb-agent@.service" \
  'EnvironmentFile=-/etc/lrb/agent-%i.env'

# --- hardened as promised ------------------------------------------------
for unit in lrb-broker.service lrb-agent@.service; do
  missing=()
  for line in "${HARDENING[@]}"; do
    has_line "$UNITS/$unit" "$line" || missing+=("$line")
  done
  expect_eq "$unit has every hardening directive" "" "${missing[*]}"
  check "$unit keeps its state in StateDirectory=lrb" "no StateDirectory" \
    grep -qE '^StateDirectory=lrb(/|$)' "$UNITS/$unit"
done
for unit in lrb-broker.service lrb-agent@rome.service; do
  tenths=$(exposure "$unit")
  check "systemd-analyze security rates $unit at most 2.0" \
    "exposure '${tenths:-none}' tenths" \
    test -n "$tenths" -a "${tenths:-99}" -le "$MAX_EXPOSURE_TENTHS"
done

# --- the user ------------------------------------------------------------
mkdir -p "$E2E_DIR/root/etc"
systemd-sysusers --root="$E2E_DIR/root" "$UNITS/lrb.conf" >/dev/null 2>&1 ||
  true
expect_match "sysusers makes lrb a system user without a login shell" \
  '^lrb:x:[0-9]+:[0-9]+:[^:]*:/var/lib/lrb:/usr/sbin/nologin$' \
  "$(grep '^lrb:' "$E2E_DIR/root/etc/passwd" 2>/dev/null || echo none)"
uid=$(awk -F: '$1 == "lrb" { print $3 }' "$E2E_DIR/root/etc/passwd" \
  2>/dev/null || true)
check "its uid is a system uid (below 1000)" "uid '${uid:-none}'" \
  test -n "$uid" -a "${uid:-1000}" -lt 1000
summary
