#!/usr/bin/env bash
# Search: every R4 search parameter, with prefixes, modifiers, chains, includes and paging.
BASE="${BASE:-http://localhost:8080/fhir}"
show() { echo "# GET $1"; curl -s "$BASE/$1" | python3 -c '
import json, sys
b = json.load(sys.stdin)
if b["resourceType"] != "Bundle": print(json.dumps(b, indent=1)); sys.exit()
print("  total:", b.get("total"), " links:", [l["relation"] for l in b.get("link", [])])
for e in b.get("entry", []):
    r = e["resource"]; print("  ", e["search"]["mode"], r["resourceType"], r.get("id", ""))'; }
show "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"
show "Patient?family=jon&birthdate=lt2000"
show "Observation?subject=Patient/pat-jones&_sort=-date&_include=Observation:subject"
show "Observation?subject.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"
show "Patient?_has:Observation:subject:code=http://snomed.info/sct|1049301000000100"
show "Patient?_id=pat-jones&_revinclude=Observation:subject&_revinclude=MedicationStatement:subject"
show "Patient/pat-jones/MedicationStatement"
show "Observation?_count=1&_total=accurate"
show "Observation?code:text=hba1c&value-quantity=gt48|http://unitsofmeasure.org|mmol/mol"
show "Patient?shoe-size=9"
echo "# a malformed date (400)"
curl -s "$BASE/Patient?birthdate=1970-13" | python3 -m json.tool
