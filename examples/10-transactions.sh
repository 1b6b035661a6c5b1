#!/usr/bin/env bash
# Transactions, batches, conditional interactions, PATCH and the joined-up record ($everything).
BASE="${BASE:-http://localhost:8080/fhir}"
JSON='Content-Type: application/fhir+json'

echo "# A GP feed's nightly transaction: a patient and an observation that references it by urn:uuid."
echo "# The feed acts as GP practice Y01234 (a development-mode token; in production a signed JWT): the"
echo "# organisation in the token is recorded as the data controller of everything it writes."
GP=$(printf '%s' '{"sub":"gp-feed","client_id":"gp-system","org_ods":"Y01234","scope":"system/*.cruds","purpose_of_use":["TREAT"]}' \
  | basenc --base64url -w0 | tr -d =)
AS_GP="Authorization: Bearer dev.$GP"
feed='{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"urn:uuid:0e5b9a34-6f0c-4e4b-9d6a-2c3f1a0b7c11",
  "resource":{"resourceType":"Patient","identifier":[{"system":"http://example.org/gp-feed","value":"P-1001"}],
              "name":[{"family":"Feeder","given":["Ada"]}],"birthDate":"1961-04-12"},
  "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org/gp-feed|P-1001"}},
 {"resource":{"resourceType":"Observation","id":"feed-bp-1","status":"final",
              "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},
              "subject":{"reference":"urn:uuid:0e5b9a34-6f0c-4e4b-9d6a-2c3f1a0b7c11"},
              "effectiveDateTime":"2024-02-10T10:00:00Z",
              "valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}},
  "request":{"method":"PUT","url":"Observation/feed-bp-1"}}]}'
curl -s -X POST "$BASE" -H "$JSON" -H "$AS_GP" -H 'Prefer: return=minimal' -d "$feed" | python3 -m json.tool
echo "# The same feed again: the patient matches ifNoneExist (200) and the observation is unchanged (no new version)."
curl -s -X POST "$BASE" -H "$JSON" -H "$AS_GP" -H 'Prefer: return=minimal' -d "$feed" \
  | python3 -c 'import json,sys; [print(" ", e["response"]["status"], e["response"]["location"]) for e in json.load(sys.stdin)["entry"]]'

echo "# Conditional update and conditional read"
curl -s -o /dev/null -w "%{http_code}\n" -X PUT "$BASE/Patient?identifier=http://example.org/gp-feed|P-1001" -H "$JSON" \
  -d '{"resourceType":"Patient","identifier":[{"system":"http://example.org/gp-feed","value":"P-1001"}],"name":[{"family":"Feeder","given":["Ada","May"]}],"birthDate":"1961-04-12"}'
curl -s -o /dev/null -w "%{http_code} (If-None-Match on the current version)\n" "$BASE/Observation/feed-bp-1" -H 'If-None-Match: W/"1"'

echo "# PATCH: a JSON Patch, then a FHIRPath Patch"
curl -s -X PATCH "$BASE/Observation/feed-bp-1" -H 'Content-Type: application/json-patch+json' \
  -d '[{"op":"replace","path":"/valueQuantity/value","value":73.1}]' | python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ", r["meta"]["versionId"], r["valueQuantity"])'
curl -s -X PATCH "$BASE/Observation/feed-bp-1" -H "$JSON" -d '{"resourceType":"Parameters","parameter":[{"name":"operation","part":[
  {"name":"type","valueCode":"replace"},{"name":"path","valueString":"Observation.status"},{"name":"value","valueCode":"amended"}]}]}' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ", r["meta"]["versionId"], r["status"])'

echo "# The joined-up record"
id=$(curl -s "$BASE/Patient?identifier=http://example.org/gp-feed|P-1001" | python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
curl -s "$BASE/Patient/$id/\$everything" | python3 -c 'import json,sys; [print(" ", e["search"]["mode"], e["resource"]["resourceType"], e["resource"]["id"]) for e in json.load(sys.stdin).get("entry",[])]'

echo "# The observation's history, and the versions current during 2024 (_at)"
curl -s "$BASE/Observation/feed-bp-1/_history" | python3 -c 'import json,sys; [print(" ", e["request"]["method"], e["response"]["etag"]) for e in json.load(sys.stdin)["entry"]]'
curl -s "$BASE/Observation/_history?_at=2024&_count=5" | python3 -c 'import json,sys; print("  versions current in 2024:", len(json.load(sys.stdin).get("entry", [])))'
