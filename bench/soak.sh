#!/usr/bin/env bash
# Load, soak and overload (issue 9). Starts fhir-server (Release build, development authentication, audit
# and consent on: the server as deployed) on a fresh database, seeds PATIENTS patients with one
# observation each, then drives bench/wrk/soak-mix.lua (70% reads and searches, 25% creates and updates,
# 5% transactions) with wrk:
#   soak:      CONNECTIONS connections for DURATION seconds; server RSS and open files sampled every
#              30 s; requests/s, p50/p99/p99.9 latency and every status counted;
#   overload:  (with --overload) 1,000 connections for OVERLOAD_SECONDS, then 16 connections for 20 s:
#              the server must shed load (503 with Retry-After, or queueing), stay up, and serve the
#              light load that follows without errors.
#
#   bench/soak.sh [DURATION=600] [CONNECTIONS=64] [PATIENTS=1000]
#   bench/soak.sh --overload [OVERLOAD_SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/.."
overload=false
if [[ "${1:-}" == "--overload" ]]; then overload=true; shift; fi
duration="${1:-600}"
connections="${2:-64}"
patients="${3:-1000}"
server=build/release/server/fhir-server
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
[[ -x "$server" ]] || { echo "build first: cmake --build --preset release" >&2; exit 1; }

work="$(mktemp -d)"
cleanup() { kill "${server_pid:-}" "${sampler_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=18191
url="http://127.0.0.1:$port"
"$server" serve --db "$work/soak.db" --port "$port" --auth dev --log-level warning > "$work/server.out" 2>&1 &
server_pid=$!
until grep -q listening "$work/server.out" 2>/dev/null; do sleep 0.1; done

rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status"; }
open_files() { ls "/proc/$server_pid/fd" | wc -l; }
alive() { kill -0 "$server_pid" 2>/dev/null; }

python3 - "$url/fhir" "$patients" <<'PY'
import json, sys, urllib.request
base, patients = sys.argv[1], int(sys.argv[2])
for start in range(1, patients + 1, 100):
    entries = []
    for i in range(start, min(start + 100, patients + 1)):
        entries.append({"resource": {"resourceType": "Patient", "id": f"soak-p-{i}", "name": [{"family": f"Soak{i % 50 + 1}", "given": ["Load"]}],
                                     "gender": "female", "birthDate": "1970-01-01"}, "request": {"method": "PUT", "url": f"Patient/soak-p-{i}"}})
        entries.append({"resource": {"resourceType": "Observation", "id": f"soak-o-{i}", "status": "final",
                                     "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                                     "subject": {"reference": f"Patient/soak-p-{i}"}, "effectiveDateTime": "2024-01-01T10:00:00Z",
                                     "valueQuantity": {"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}},
                        "request": {"method": "PUT", "url": f"Observation/soak-o-{i}"}})
    body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}).encode()
    req = urllib.request.Request(base, body, {"Content-Type": "application/fhir+json", "Prefer": "return=minimal"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200, r.status
PY
echo "seeded $patients patients and $patients observations; server RSS $(rss_mb) MB, $(open_files) open files"

# run_wrk CONNECTIONS SECONDS -> wrk's done() lines on stdout
run_wrk() {
  local threads=2
  SOAK_PATIENTS="$patients" wrk -t"$threads" -c"$1" -d"$2"s --timeout 30s -s bench/wrk/soak-mix.lua "$url" | sed -n '/^requests /,$p'
}

if ! $overload; then
  rss_start=$(rss_mb); files_start=$(open_files)
  ( while sleep 30; do echo "$(date +%T) rss_mb $(rss_mb) open_files $(open_files)"; done ) > "$work/samples" 2>/dev/null &
  sampler_pid=$!
  echo "soak: $connections connections for $duration s (git $(git rev-parse --short HEAD), $(nproc) cores, wrk on the same machine)"
  run_wrk "$connections" "$duration" | tee "$work/result"
  kill "$sampler_pid" 2>/dev/null || true
  echo "rss_mb start $rss_start end $(rss_mb); open_files start $files_start, at the end of the load $(open_files)"
  sleep 5  # wrk's connections closed: the server has closed its ends
  echo "5 s later: rss_mb $(rss_mb), open_files $(open_files)"
  echo "samples (every 30 s):"; sed 's/^/  /' "$work/samples"
  alive || { echo "the server died" >&2; exit 1; }
  bad=$(awk '/^status_/ && $1 !~ /^status_(200|201|503_with_retry_after)$/ { n += $2 } /^socket_errors/ { split($0, a, /[= ]/); n += a[3] + a[5] + a[7] + a[9] } END { print n + 0 }' "$work/result")
  echo "errors: $bad"
  [[ "$bad" == 0 ]] || exit 1
else
  echo "overload: 1000 connections for $duration s (git $(git rev-parse --short HEAD), $(nproc) cores)"
  ( peak=0; while sleep 1; do r=$(rss_mb 2>/dev/null || echo 0); (( r > peak )) && peak=$r; echo "$peak" > "$work/peak"; done ) &
  sampler_pid=$!
  run_wrk 1000 "$duration"
  alive || { echo "the server died under overload" >&2; exit 1; }
  echo "peak rss_mb $(cat "$work/peak"); open files after the overload $(open_files)"
  sleep 2
  echo "recovery: 16 connections for 20 s"
  run_wrk 16 20 | tee "$work/result"
  alive || { echo "the server died" >&2; exit 1; }
  echo "open files at the end $(open_files)"
  bad=$(awk '/^status_/ && $1 !~ /^status_(200|201|503_with_retry_after)$/ { n += $2 } /^status_503 / { n += $2 } END { print n + 0 }' "$work/result")
  echo "errors after the overload: $bad"
  [[ "$bad" == 0 ]] || exit 1
fi
