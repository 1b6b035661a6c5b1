#!/usr/bin/env bash
# README command 2: installs what is missing, builds everything and runs the whole test suite twice:
# a Release build, then an AddressSanitizer + UndefinedBehaviorSanitizer build (any report fails a test).
# Idempotent. Tests that need the reference data in ../shared fail (not skip) when CI=true and it is missing.
#   scripts/test.sh            Release, then ASan+UBSan
#   scripts/test.sh --quick    Release only (for quick local runs)
set -euo pipefail
cd "$(dirname "$0")/.."

presets=(release asan)
if [[ "${1:-}" == "--quick" ]]; then presets=(release); fi

scripts/install-deps.sh --tests
# In CI (CI=true) the benchmark programs are not built: no test runs them (they are run by hand, see
# bench/README.md) and they cost about a minute of the run's 30-minute budget.
configure=()
if [[ "${CI:-}" == "true" ]]; then configure=(-DFHIR_BUILD_BENCH=OFF); fi
for preset in "${presets[@]}"; do
  start=$(date +%s)
  cmake --preset "$preset" "${configure[@]}" >/dev/null
  cmake --build --preset "$preset"
  built=$(date +%s)
  ctest --preset "$preset" -j "$(nproc)"
  finished=$(date +%s)
  echo "[$preset] build: $((built - start)) s, tests: $((finished - built)) s"
done
