#!/usr/bin/env bash
# Create a resource: the server assigns a random id and answers 201 with Location and ETag.
BASE="${BASE:-http://localhost:8080/fhir}"
curl -s -i -X POST "$BASE/Observation" \
  -H 'Content-Type: application/fhir+json' \
  -d '{
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "27113001", "display": "Body weight"}]},
    "subject": {"reference": "Patient/pat-jones"},
    "effectiveDateTime": "2024-11-01T10:00:00Z",
    "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
  }'
