#!/usr/bin/env python3
"""Bulk import speed (issue 10): the same NDJSON files (bench/generate_records.py generate) loaded into a
fresh database by `fhir-server import` (the command, writing the store directly), by the `$import`
operation of a running server (development mode, loopback), which fetches them over HTTP from a file
server in this process, and, as the baseline, by transaction Bundles of 100 entries (`ingest-bench`, one
client thread, one round per round here). Rounds alternate between the three; each prints resources
and resources/s, then the medians and the ratios to the transaction rate.

    python3 bench/import_bench.py --records /tmp/records [--server build/release/server/fhir-server]
        [--ingest-bench build/release/bench/ingest-bench] [--bundles 100] [--rounds 3]
"""
import argparse
import functools
import http.server
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from bulk_client import run_async, start_server

# Referenced resources first, as feeds would send them (the import does not require it).
ORDER = ["Organization", "Practitioner", "Patient", "Encounter", "Condition"]


def inputs_of(records):
    types = [f[: -len(".ndjson")] for f in os.listdir(records) if f.endswith(".ndjson")]
    return sorted(types, key=lambda t: (ORDER.index(t) if t in ORDER else len(ORDER), t))


def run_command(server, records, types):
    with tempfile.TemporaryDirectory(prefix="import-bench-") as work:
        files = [os.path.join(records, t + ".ndjson") for t in types]
        start = time.monotonic()
        done = subprocess.run([server, "import", "--db", os.path.join(work, "db.sqlite"), *files], capture_output=True, text=True)
        elapsed = time.monotonic() - start
        if done.returncode != 0:
            sys.exit(f"fhir-server import failed:\n{done.stderr[-2000:]}")
        m = re.search(r"(\d+) created, (\d+) updated, (\d+) unchanged", done.stdout)
        return sum(int(x) for x in m.groups()), elapsed


def run_transactions(ingest_bench, records, bundles):
    done = subprocess.run([ingest_bench, "--data", records, "--bundles", str(bundles), "--rounds", "1", "--threads", "1"],
                          capture_output=True, text=True)
    m = re.search(r"median: transactions (\d+) resources/s", done.stdout)
    if done.returncode != 0 or not m:
        sys.exit(f"ingest-bench failed:\n{done.stdout[-1000:]}{done.stderr[-1000:]}")
    return bundles * 100, bundles * 100 / int(m.group(1))


def run_operation(server, records, types, origin):
    with tempfile.TemporaryDirectory(prefix="import-bench-") as work:
        process, base = start_server(server, os.path.join(work, "db.sqlite"), "--import-source", origin + "/")
        try:
            manifest = {"inputFormat": "application/fhir+ndjson", "inputSource": "https://bench.example/fhir",
                        "input": [{"type": t, "url": f"{origin}/{t}.ndjson"} for t in types]}
            start = time.monotonic()
            _, body = run_async(f"{base}/$import", "POST", {"Content-Type": "application/json"}, json.dumps(manifest).encode(), "$import")
            elapsed = time.monotonic() - start
            result = json.loads(body)
            if result["error"]:
                sys.exit(f"$import rejected lines: {result['error']}")
            return sum(o["count"] for o in result["output"]), elapsed
        finally:
            process.terminate()
            process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", required=True)
    parser.add_argument("--server", default="build/release/server/fhir-server")
    parser.add_argument("--ingest-bench", default="build/release/bench/ingest-bench")
    parser.add_argument("--bundles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    types = inputs_of(args.records)

    class quiet_handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet_handler, directory=args.records))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{files.server_address[1]}"

    variants = {"transactions of 100": lambda: run_transactions(args.ingest_bench, args.records, args.bundles),
                "fhir-server import": lambda: run_command(args.server, args.records, types),
                "$import": lambda: run_operation(args.server, args.records, types, origin)}
    rates = {name: [] for name in variants}
    print("| round | variant | resources | seconds | resources/s |")
    print("|---|---|---|---|---|")
    for r in range(1, args.rounds + 1):
        for name, run in variants.items():
            count, seconds = run()
            rates[name].append(count / seconds)
            print(f"| {r} | {name} | {count:,} | {seconds:.1f} | {count / seconds:,.0f} |", flush=True)
    baseline = statistics.median(rates["transactions of 100"])
    print("\n| variant | median resources/s | ratio to transactions |")
    print("|---|---|---|")
    for name in variants:
        median = statistics.median(rates[name])
        print(f"| {name} | {median:,.0f} | {median / baseline:.2f}x |")
    files.shutdown()


if __name__ == "__main__":
    main()
