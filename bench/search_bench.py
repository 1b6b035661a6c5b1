#!/usr/bin/env python3
"""Search latency on a loaded server (the data of bench/generate_records.py).

    python3 bench/search_bench.py --base http://localhost:8080/fhir --data DIR [--requests 200] [--seed 1]

One client on one keep-alive connection sends each scenario's request `--requests` times, each time with
another patient (picked at random from DIR/Patient.ndjson), and reports the median and 99th percentile
latency in milliseconds (time to the last byte of the response), the median number of entries, and the
median response size. Scenarios run in alternating rounds so that drift in the machine's load touches
all of them alike. Standard library only.
"""

import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse

NHS = "https://fhir.nhs.uk/Id/nhs-number"

# name -> function(patient) -> query path (relative to the base)
SCENARIOS = {
    "read Patient/{id} (baseline)": lambda p: f"Patient/{p['id']}",
    "Patient?identifier=nhs|N": lambda p: f"Patient?identifier={NHS}|{p['nhs']}",
    "Patient?family=smi&birthdate=YYYY": lambda p: f"Patient?family={p['family'][:3].lower()}&birthdate={p['birth_year']}",
    "Observation?subject&code&date=ge2024": lambda p: f"Observation?subject=Patient/{p['id']}&code=http://loinc.org|8867-4&date=ge2024-01-01",
    "Observation?subject=Patient/x": lambda p: f"Observation?subject=Patient/{p['id']}&_count=100",
    "Observation?subject.identifier=nhs|N (chain)": lambda p: f"Observation?subject.identifier={NHS}|{p['nhs']}&_count=100",
    "Patient?_id=x&_revinclude=Observation:subject (100)": lambda p: f"Patient?_id={p['id']}&_revinclude=Observation:subject&_count=100",
    "Observation?code=loinc|8867-4&date=ge2026-06 (no patient)": lambda p: "Observation?code=http://loinc.org|8867-4&date=ge2026-06-01&_count=20",
    "Condition?patient=x&_sort=-recorded-date": lambda p: f"Condition?patient=Patient/{p['id']}&_sort=-recorded-date",
    "Patient/x/MedicationStatement (compartment)": lambda p: f"Patient/{p['id']}/MedicationStatement",
}


def load_patients(path, limit=200000):
    patients = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            nhs = next((i["value"] for i in r.get("identifier", []) if i.get("system") == NHS), None)
            name = (r.get("name") or [{}])[0]
            patients.append({"id": r["id"], "nhs": nhs, "family": name.get("family", "x"),
                             "birth_year": r.get("birthDate", "1970")[:4]})
            if len(patients) >= limit:
                break
    return patients


class client:
    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.prefix = url.path.rstrip("/") + "/"
        self.conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)

    def get(self, path):
        quoted = urllib.parse.quote(path, safe="/?=&:,|.")
        start = time.perf_counter()
        self.conn.request("GET", self.prefix + quoted, headers={"Accept": "application/fhir+json"})
        response = self.conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {body[:300]!r}")
        return elapsed, body


def percentile(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--data", required=True, help="the directory generate_records.py wrote")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    patients = load_patients(f"{args.data}/Patient.ndjson")
    c = client(args.base)
    times = {name: [] for name in SCENARIOS}
    entries = {name: [] for name in SCENARIOS}
    sizes = {name: [] for name in SCENARIOS}
    per_round = max(1, args.requests // args.rounds)
    for name, make in SCENARIOS.items():  # warm-up: statements prepared, pages cached
        for _ in range(5):
            c.get(make(rng.choice(patients)))
    for _ in range(args.rounds):
        for name, make in SCENARIOS.items():
            for _ in range(per_round):
                ms, body = c.get(make(rng.choice(patients)))
                times[name].append(ms)
                sizes[name].append(len(body))
                doc = json.loads(body)
                entries[name].append(len(doc.get("entry", [])) if doc.get("resourceType") == "Bundle" else 1)

    print(f"{'scenario':58} {'median ms':>10} {'p99 ms':>8} {'entries':>8} {'KiB':>7}")
    for name in SCENARIOS:
        print(f"{name:58} {statistics.median(times[name]):10.2f} {percentile(times[name], 99):8.2f} "
              f"{statistics.median(entries[name]):8.0f} {statistics.median(sizes[name]) / 1024:7.1f}")


if __name__ == "__main__":
    main()
