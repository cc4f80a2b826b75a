#!/usr/bin/env bash
# The main job: installs what is needed, builds lrb in release mode, and
# runs the demo on the real trace (scripts/demo-run.sh: a broker, three
# agents, reservations from the Alibaba pods at GCP prices). Arguments go
# to the demo, so `scripts/demo.sh --short` runs its quick version.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release
exec scripts/demo-run.sh --lrb build/release/src/cli/lrb "$@"
