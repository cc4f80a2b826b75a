#!/usr/bin/env bash
# Installs what lrb needs to build, test and run its demo, from Debian's
# packages. Idempotent: when everything is present it changes nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git
  libcli11-dev libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev
  libfmt-dev doctest-dev libssl-dev libyaml-cpp-dev
  clang-format clang-14 libclang-rt-14-dev
  curl jq sqlite3 procps psmisc openssl python3
  prometheus gnuplot-nox mandoc shellcheck valgrind zsh fish yq systemd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
    grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "lrb: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
