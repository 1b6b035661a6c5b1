#!/usr/bin/env bash
# Measures fhir-server's create and read-by-id throughput and latency at 1, 8 and 32 connections, and the
# same read load against bare-http-server answering a body of the same size, in the same run.
# Each scenario runs ROUNDS times; the table shows the median requests/s and the p50/p99 latency of the
# median round. Needs wrk (apt-get install wrk) and a Release build (cmake --build --preset release).
#
#   bench/run.sh [DURATION_SECONDS=10] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
rounds="${2:-3}"
build=build/release
server="$build/server/fhir-server"
bare="$build/bench/bare-http-server"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
[[ -x "$server" && -x "$bare" ]] || { echo "build first: cmake --build --preset release" >&2; exit 1; }

work="$(mktemp -d)"
cleanup() { kill "${server_pid:-}" "${bare_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port=18181
bare_port=18182
"$server" serve --db "$work/bench.db" --port "$port" --log-level warning > "$work/server.out" 2>&1 &
server_pid=$!
until grep -q listening "$work/server.out" 2>/dev/null; do sleep 0.05; done

# Seed patients to read, and remember their ids for read.lua.
echo "return {" > "$work/ids.lua"
for i in $(seq 1 1000); do
  id=$(curl -s -X POST "http://127.0.0.1:$port/fhir/Patient" -H 'Content-Type: application/fhir+json' \
        -d "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Seed$i\",\"given\":[\"Bench\"]}],\"gender\":\"male\",\"birthDate\":\"1980-01-01\"}" \
        | sed -E 's/.*"id":"([^"]+)".*/\1/')
  echo "\"$id\"," >> "$work/ids.lua"
done
echo "}" >> "$work/ids.lua"
sample_id=$(sed -n 2p "$work/ids.lua" | tr -d '",')
body_size=$(curl -s "http://127.0.0.1:$port/fhir/Patient/$sample_id" | wc -c)

"$bare" "$bare_port" "$body_size" > "$work/bare.out" 2>&1 &
bare_pid=$!
until grep -q listening "$work/bare.out" 2>/dev/null; do sleep 0.05; done

# wrk's latency lines look like "     99%    3.21ms"; convert to milliseconds.
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v=v*1000 } printf "%.2f", v }'; }

# run_round NAME URL SCRIPT CONNECTIONS -> "rps p50 p99"
run_round() {
  local url=$2 script=$3 c=$4 threads=$(( $4 < 2 ? 1 : 2 ))
  local out
  out=$(BENCH_IDS="$work/ids.lua" wrk -t "$threads" -c "$c" -d "${duration}s" --latency -s "$script" "$url")
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}' | to_ms)
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}' | to_ms)
  echo "$rps $p50 $p99"
}

# scenario NAME URL SCRIPT CONNECTIONS: median of the rounds by requests/s
scenario() {
  local results=()
  for _ in $(seq 1 "$rounds"); do results+=("$(run_round "$@")"); done
  local median
  median=$(printf '%s\n' "${results[@]}" | sort -n -k1 | sed -n "$(( (rounds + 1) / 2 ))p")
  printf '%-28s %5s %12s %10s %10s\n' "$1" "$4" $median
}

echo "fhir-server benchmark: $(nproc) cores, ${duration}s x ${rounds} rounds per scenario, read body ${body_size} bytes"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
printf '%-28s %5s %12s %10s %10s\n' scenario conns "req/s" "p50 ms" "p99 ms"
for c in 1 8 32; do
  scenario "read Patient/{id}" "http://127.0.0.1:$port/fhir/Patient/x" bench/wrk/read.lua "$c"
  scenario "bare server, same body" "http://127.0.0.1:$bare_port/" bench/wrk/fixed.lua "$c"
  scenario "create Patient" "http://127.0.0.1:$port/fhir/Patient" bench/wrk/create.lua "$c"
done
