#!/usr/bin/env python3
"""Bulk $export speed and memory (issue 10): starts fhir-server (development mode, loopback) on an existing
database, runs exports of growing size one after another, and for each prints the resources exported,
the time from kick-off to the manifest, resources/s, and the server's resident memory: before, the peak
while the export ran (sampled every 100 ms), and the process's high-water mark (VmHWM) after it. Flat
memory means the peak does not grow with the size of the export.

    python3 bench/export_bench.py --db /work/benchdata/shcr.db [--server build/release/server/fhir-server]
        [--export '_type=Patient' --export '']   (each --export is one kick-off's query; '' = everything)
"""
import argparse
import json
import sys
import shutil
import tempfile
import threading
import time

from bulk_client import request, run_async, start_server


def memory_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run_export(base, query, pid):
    peak = [memory_kb(pid, "VmRSS")]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], memory_kb(pid, "VmRSS"))
            time.sleep(0.1)

    before = memory_kb(pid, "VmRSS")
    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.monotonic()
    location, body = run_async(f"{base}/$export" + (f"?{query}" if query else ""), what="export")
    elapsed = time.monotonic() - start
    stop.set()
    sampler.join()
    manifest = json.loads(body)
    total = sum(o["count"] for o in manifest["output"])
    size = 0
    for o in manifest["output"]:  # downloaded to check the files are complete and readable
        s, _, data = request(o["url"])
        lines = data.count(b"\n")
        if s != 200 or lines != o["count"]:
            sys.exit(f"file {o['url']}: status {s}, {lines} lines, manifest says {o['count']}")
        size += len(data)
    request(location, method="DELETE")
    return {"query": query or "(everything)", "resources": total, "files": len(manifest["output"]), "mb": size / 1e6,
            "seconds": elapsed, "per_second": total / elapsed if elapsed else 0,
            "rss_before_mb": before / 1024, "rss_peak_mb": peak[0] / 1024, "hwm_after_mb": memory_kb(pid, "VmHWM") / 1024}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--server", default="build/release/server/fhir-server")
    parser.add_argument("--export", action="append", default=None)
    args = parser.parse_args()
    exports = args.export if args.export is not None else ["_type=Patient", "_type=Patient,Observation", ""]
    export_dir = tempfile.mkdtemp(prefix="export-bench-")
    server, base = start_server(args.server, args.db, "--export-dir", export_dir)
    try:
        print(f"server pid {server.pid}, RSS at start {memory_kb(server.pid, 'VmRSS') / 1024:.0f} MB", flush=True)
        print("| export | resources | files | MB | seconds | resources/s | RSS before MB | RSS peak MB | VmHWM after MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for query in exports:
            r = run_export(base, query, server.pid)
            print(f"| {r['query']} | {r['resources']:,} | {r['files']} | {r['mb']:.0f} | {r['seconds']:.1f} | {r['per_second']:,.0f} | "
                  f"{r['rss_before_mb']:.0f} | {r['rss_peak_mb']:.0f} | {r['hwm_after_mb']:.0f} |", flush=True)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(export_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
