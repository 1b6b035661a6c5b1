#!/usr/bin/env bash
# Bad input gets an OperationOutcome saying what, where (FHIRPath) and why, and changes nothing.
BASE="${BASE:-http://localhost:8080/fhir}"
echo "# invalid resource (400)"
curl -s -X POST "$BASE/Patient" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType": "Patient", "birthDate": "1980-02-30", "gendr": "male"}' | python3 -m json.tool
echo "# malformed JSON (400)"
curl -s -X POST "$BASE/Patient" -H 'Content-Type: application/fhir+json' -d '{"resourceType": "Patient",'
echo; echo "# wrong content type (415)"
curl -s -X POST "$BASE/Patient" -H 'Content-Type: text/plain' -d 'hello'
echo; echo "# XML is not produced (406)"
curl -s "$BASE/metadata?_format=xml"
echo; echo "# unknown type (404)"
curl -s "$BASE/Pateint/1"
echo
