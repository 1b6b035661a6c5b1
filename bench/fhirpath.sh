#!/usr/bin/env bash
# FHIRPath speed: this engine next to the reference JavaScript implementation (npm fhirpath), same
# expressions, same resources, one thread each (pinned to one core). The two run alternately PASSES
# times (default 3), each pass taking the median of ROUNDS rounds per scenario; the table shows the
# median over the passes, so machine noise hits both sides alike. The npm package is installed into a
# cache folder outside the repository.
#
#   bench/fhirpath.sh [SECONDS_PER_ROUND=1] [ROUNDS=3] [PASSES=3]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-1}"
rounds="${2:-3}"
passes="${3:-3}"
bench=build/release/bench/fhirpath-bench
[[ -x "$bench" ]] || { echo "build first: cmake --build --preset release" >&2; exit 1; }
node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/fhir-server/bench-node"
if [[ ! -d "$node_dir/node_modules/fhirpath" ]]; then
  mkdir -p "$node_dir"
  npm install --silent --no-audit --no-fund --prefix "$node_dir" fhirpath@3 >/dev/null
fi
patient=examples/data/04-patient.json
observation=bench/data/observation-weight.json
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bench" --scenarios > "$work/scenarios.json"

echo "FHIRPath benchmark: ${passes} alternating passes x ${rounds} rounds x ${seconds}s, one core;" \
     "fhirpath.js $(node -p "require('$node_dir/node_modules/fhirpath/package.json').version"), node $(node --version)"
for pass in $(seq 1 "$passes"); do
  taskset -c 0 "$bench" "$patient" "$observation" "$seconds" "$rounds" > "$work/cpp.$pass"
  taskset -c 0 node bench/fhirpath_bench.js "$node_dir/node_modules" "$patient" "$observation" "$work/scenarios.json" \
    "$seconds" "$rounds" > "$work/js.$pass"
done
head -1 "$work/cpp.1" | sed 's/^/  /'
tail -n +2 "$work/cpp.1" | sed 's/^/  /'
echo
printf '%-42s %12s %12s %8s\n' expression "C++ evals/s" "JS evals/s" ratio
python3 - "$work" "$passes" <<'PY'
import sys, statistics
work, passes = sys.argv[1], int(sys.argv[2])
def rates(prefix):
    table = {}
    for p in range(1, passes + 1):
        for line in open(f"{work}/{prefix}.{p}").read().splitlines()[1:]:
            name, rate = line[:42].strip(), float(line[42:].split()[0])
            table.setdefault(name, []).append(rate)
    return table
cpp, js = rates("cpp"), rates("js")
for name in cpp:
    c, j = statistics.median(cpp[name]), statistics.median(js[name])
    print(f"{name:<42} {c:12.0f} {j:12.0f} {c / j:7.1f}x")
PY
