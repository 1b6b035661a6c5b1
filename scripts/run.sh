#!/usr/bin/env bash
# README command 1: installs what is missing, builds the server (Release), and starts it on
# http://localhost:8080/fhir with an embedded SQLite database (data/shcr.db) and the example data loaded.
# Idempotent: run it again and it rebuilds only what changed and reloads nothing that is unchanged.
# Extra arguments are passed to `fhir-server serve` (for example --port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target fhir-server
mkdir -p data
echo "Starting the server in development mode (loopback only; requests without a token act as a development"
echo "user holding every role; see README 'Development mode'). Stop it with Ctrl-C."
exec build/release/server/fhir-server serve --auth dev --db data/shcr.db --host 127.0.0.1 --port 8080 \
  --base-url http://localhost:8080/fhir --load examples/data "$@"
