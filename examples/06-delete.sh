#!/usr/bin/env bash
# Delete, then read answers 410 Gone; the history keeps the deletion.
BASE="${BASE:-http://localhost:8080/fhir}"
curl -s -i -X DELETE "$BASE/Patient/pat-example"
echo
curl -s -i "$BASE/Patient/pat-example"
echo
