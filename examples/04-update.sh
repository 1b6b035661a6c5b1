#!/usr/bin/env bash
# Update with a client-chosen id (creates it the first time), then a conditional update with If-Match.
BASE="${BASE:-http://localhost:8080/fhir}"
body='{"resourceType": "Patient", "id": "pat-example", "name": [{"family": "Example", "given": ["Alex"]}], "gender": "unknown"}'
curl -s -i -X PUT "$BASE/Patient/pat-example" -H 'Content-Type: application/fhir+json' -d "$body"
echo
etag=$(curl -s -I "$BASE/Patient/pat-example" | tr -d '\r' | sed -n 's/^ETag: //p')
echo "current ETag: $etag"
curl -s -i -X PUT "$BASE/Patient/pat-example" -H 'Content-Type: application/fhir+json' -H "If-Match: $etag" \
  -d '{"resourceType": "Patient", "id": "pat-example", "name": [{"family": "Example", "given": ["Alex", "Sam"]}], "gender": "unknown"}'
echo
echo "A stale If-Match is refused with 412:"
curl -s -X PUT "$BASE/Patient/pat-example" -H 'Content-Type: application/fhir+json' -H 'If-Match: W/"1"' -d "$body"
echo
