#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the server need (and the tests, with --tests), when any
# is missing.
# Idempotent: when everything is present it changes nothing and needs no network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 libssl-dev libfmt-dev libre2-dev zlib1g-dev libcurl4-openssl-dev catch2
)
# With --tests: also what only the tests need (Debian's chromium, headless, for the dashboard's browser test).
if [[ "${1:-}" == "--tests" ]]; then packages+=(chromium); fi
# The definitions are fetched with `npm pack`; a machine with its own Node.js (for example from
# NodeSource) already has npm, so only install Debian's when there is none.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
  echo "install-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
