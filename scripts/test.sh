#!/usr/bin/env bash
# Every test: installs what is needed, checks formatting, builds with
# warnings as errors, runs the unit and end-to-end tests, then runs the
# unit tests again under AddressSanitizer + UBSan, and each fuzzer briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== format check (clang-format $(clang-format --version | grep -o '[0-9.]*' | head -1))"
scripts/check-format.sh

echo "== layering check"
scripts/check-layering.sh

echo "== shellcheck"
mapfile -t shell_files < <(find scripts tests/e2e experiments -name "*.sh" 2>/dev/null)
shellcheck -x .ci/run "${shell_files[@]}"
echo "shellcheck: $((${#shell_files[@]} + 1)) files clean"

echo "== release build (-Werror)"
scripts/build.sh release
echo "== tests (release)"
(cd build/release && ctest --output-on-failure -j 2)

echo "== asan+ubsan build"
scripts/build.sh asan
echo "== unit tests (asan+ubsan)"
(cd build/asan && ctest --output-on-failure -R '^unit$')

echo "== fuzzing (libFuzzer, asan+ubsan, 5 s a harness)"
scripts/fuzz.sh --seconds 5
