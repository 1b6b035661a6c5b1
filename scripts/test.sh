#!/usr/bin/env bash
# README command 2: installs what is missing, builds everything (Release) and runs the whole test suite.
# Idempotent. Tests that need the reference data in ../shared fail (not skip) when CI=true and it is missing.
#   scripts/test.sh            Release build and tests
#   scripts/test.sh --asan     the same with AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
if [[ "${1:-}" == "--asan" ]]; then preset=asan; fi

scripts/install-deps.sh
start=$(date +%s)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
built=$(date +%s)
ctest --preset "$preset" -j "$(nproc)"
done_at=$(date +%s)
echo "build: $((built - start)) s, tests: $((done_at - built)) s"
