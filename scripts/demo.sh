#!/usr/bin/env bash
# The main job: installs what is needed, builds lrb, and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release
build/release/src/cli/lrb --help
