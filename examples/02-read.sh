#!/usr/bin/env bash
# Read example data loaded at start-up, with its version headers.
BASE="${BASE:-http://localhost:8080/fhir}"
curl -s -i "$BASE/Patient/pat-jones?_pretty=true"
curl -s "$BASE/AllergyIntolerance/allergy-jones-penicillin?_pretty=true"
