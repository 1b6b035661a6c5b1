#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang, ASan+UBSan) and runs each for SECONDS (default 600)
# on one core, from a corpus kept in build/fuzz/corpus/<target> (grown across runs) seeded from
# fuzz/seeds, fuzz/regressions, examples/data and, for FHIRPath, the expressions of the official test
# suite in ../shared/fhirpath. Crashing inputs land in build/fuzz/findings/<target>/; each one found is
# fixed and copied to fuzz/regressions/<target>/, where the test build replays it (fuzz_replay).
# Prints executions, coverage and findings per target.
#
#   fuzz/run.sh [SECONDS=600] [TARGET...]      (needs clang-14 and libclang-rt-14-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(resource fhirpath search_query http transaction)

command -v clang++-14 >/dev/null || { echo "clang-14 is needed: apt-get install clang-14 libclang-rt-14-dev" >&2; exit 1; }
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

out=build/fuzz
for target in "${targets[@]}"; do
  corpus="$out/corpus/$target"
  findings="$out/findings/$target"
  mkdir -p "$corpus" "$findings"
  for dir in "fuzz/seeds/$target" "fuzz/regressions/$target"; do
    [[ -d "$dir" ]] && cp -n "$dir"/* "$corpus"/ 2>/dev/null || true
  done
  if [[ "$target" == resource ]]; then
    cp -n examples/data/*.json "$corpus"/
  fi
  if [[ "$target" == fhirpath && -f ../shared/fhirpath/tests-fhir-r4.json ]]; then
    python3 - ../shared/fhirpath "$corpus" <<'PY'
import hashlib, json, os, sys
suite, corpus = sys.argv[1], sys.argv[2]
tests = json.load(open(os.path.join(suite, "tests-fhir-r4.json")))
def walk(node):
    if isinstance(node, dict):
        if isinstance(node.get("expression"), str):
            yield node["expression"], node.get("inputfile")
        for v in node.values(): yield from walk(v)
    elif isinstance(node, list):
        for v in node: yield from walk(v)
for expression, inputfile in walk(tests):
    resource = ""
    path = os.path.join(suite, "input", inputfile.replace(".xml", ".json")) if inputfile else ""
    if path and os.path.exists(path) and os.path.getsize(path) < 20000:
        resource = "\n" + open(path).read()
    data = (expression.replace("\n", " ") + resource).encode()
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(corpus, name), "wb") as f: f.write(data)
PY
  fi
  dict_args=()
  [[ -f "fuzz/dictionaries/$target.dict" ]] && dict_args=(-dict="fuzz/dictionaries/$target.dict")
  echo "== $target: $(ls "$corpus" | wc -l) corpus inputs, $seconds s"
  touch "$out/$target.started"
  # -rss_limit_mb: the validator's caches and the database grow; a real leak still shows as a report.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$out/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$findings/" "${dict_args[@]}" "$corpus" 2>&1 | tee "$out/$target.log" \
    | grep -E "^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Test unit written" || true
  echo "   new findings: $(find "$findings" -type f -newer "$out/$target.started" | wc -l) (in $findings)"
done
