#!/usr/bin/env bash
# Consent (docs/consent.md): record an opt-out and an objection with curl, and see what they change.
# Development mode: each caller is a development token (Bearer dev.<base64url claims>); in production the
# same claims come in a signed JWT. Organisations: GP practice Y01234 (writes the record), hospital RX1.
BASE="${BASE:-http://localhost:8080/fhir}"
JSON='Content-Type: application/fhir+json'
as() { printf 'Authorization: Bearer dev.%s' "$(printf '%s' "$1" | basenc --base64url -w0 | tr -d =)"; }
GP=$(as '{"sub":"555000000001","org_ods":"Y01234","scope":"user/*.cruds","nhs_role":{"role_code":"R8000"},"purpose_of_use":["TREAT"]}')
DR=$(as '{"sub":"555000000002","org_ods":"RX1","scope":"user/*.cruds","nhs_role":{"person_roleid":"555000000002-01","role_code":"R8000","activity_codes":["B0083"]},"purpose_of_use":["TREAT","ETREAT"]}')
ADMIN=$(as '{"sub":"555000000003","org_ods":"Y01234","scope":"user/*.cruds","nhs_role":{"role_code":"SHCR-CONSENT-ADMIN"},"purpose_of_use":["PATADMIN"]}')
PATIENT=$(as '{"sub":"nhs-login-42","scope":"patient/*.rs patient/Consent.cu","patient":"consent-demo","purpose_of_use":["PATRQT"]}')
status() { curl -s -o /dev/null -w "%{http_code}" "$@"; }

echo "# The GP records a patient and a blood pressure; the hospital can see both (implied consent)."
curl -s -o /dev/null -X PUT "$BASE/Patient/consent-demo" -H "$JSON" -H "$GP" -d '{"resourceType":"Patient","id":"consent-demo",
  "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000033"}],"name":[{"family":"Optout","given":["Olive"]}],
  "gender":"female","birthDate":"1980-05-01","address":[{"city":"Leeds"}]}'
curl -s -o /dev/null -X PUT "$BASE/Observation/consent-demo-bp" -H "$JSON" -H "$GP" -d '{"resourceType":"Observation","id":"consent-demo-bp",
  "status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002","display":"Blood pressure"}]},
  "subject":{"reference":"Patient/consent-demo"}}'
echo "  hospital reads the observation: $(status "$BASE/Observation/consent-demo-bp" -H "$DR" -H 'X-Purpose-Of-Use: TREAT')"

echo "# A consent administrator records the patient's opt-out of the shared record (kind shcr-optout),"
echo "# with an exception for emergencies (a nested permit for purpose ETREAT)."
optout='{"resourceType":"Consent","id":"consent-demo-optout","status":"active",
  "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
  "category":[{"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":"shcr-optout"}]}],
  "patient":{"reference":"Patient/consent-demo"},"dateTime":"2026-11-26","policy":[{"uri":"https://shared-care-record.github.io/fhir/policy/opt-out"}],
  "provision":{"type":"deny","provision":[{"type":"permit",
    "purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]}}'
echo "  PUT Consent: $(status -X PUT "$BASE/Consent/consent-demo-optout" -H "$JSON" -H "$ADMIN" -d "$optout")"
echo "  hospital reads the observation: $(status "$BASE/Observation/consent-demo-bp" -H "$DR" -H 'X-Purpose-Of-Use: TREAT') (as if it did not exist)"
echo "  the GP (its data controller) reads it: $(status "$BASE/Observation/consent-demo-bp" -H "$GP")"
echo "  the hospital sees the minimal Patient, tagged REDACTED:"
curl -s "$BASE/Patient/consent-demo" -H "$DR" -H 'X-Purpose-Of-Use: TREAT' | python3 -c 'import json,sys; r=json.load(sys.stdin); print("   ", sorted(r), r["meta"]["security"][0]["code"])'
echo "  a second active opt-out for the same patient: $(status -X PUT "$BASE/Consent/consent-demo-optout-2" -H "$JSON" -H "$ADMIN" -d "${optout/consent-demo-optout/consent-demo-optout-2}") (refused)"

echo "# Emergency: the hospital doctor declares break-glass for this patient (purpose ETREAT), which is audited"
echo "# as a Security Alert; then, with ETREAT, the opt-out's emergency exception applies."
echo "  ETREAT without declaring: $(status "$BASE/Observation?patient=consent-demo" -H "$DR" -H 'X-Purpose-Of-Use: ETREAT')"
curl -s -X POST "$BASE/Patient/consent-demo/\$break-glass" -H "$JSON" -H "$DR" -H 'X-Purpose-Of-Use: ETREAT' -d '{"resourceType":"Parameters",
  "parameter":[{"name":"reasonCode","valueCode":"unconscious"},{"name":"reasonText","valueString":"Unconscious in ED, no history available"}]}' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  session until", r["parameter"][1]["valueInstant"])'
echo "  ETREAT after declaring: $(status "$BASE/Observation/consent-demo-bp" -H "$DR" -H 'X-Purpose-Of-Use: ETREAT')"

echo "# The opt-out is withdrawn by a status change (Consents are never deleted: DELETE is 405)."
echo "  DELETE Consent: $(status -X DELETE "$BASE/Consent/consent-demo-optout" -H "$ADMIN")"
echo "  PUT status inactive: $(status -X PUT "$BASE/Consent/consent-demo-optout" -H "$JSON" -H "$ADMIN" -d "${optout/\"status\":\"active\"/\"status\":\"inactive\"}")"
echo "  hospital reads the observation: $(status "$BASE/Observation/consent-demo-bp" -H "$DR" -H 'X-Purpose-Of-Use: TREAT')"

echo "# An Article 21 objection raised by the patient (patient-facing token) is 'proposed' until decided;"
echo "# a consent administrator upholds it (active), which hides the record as an opt-out does."
objection="${optout/shcr-optout/art21-objection}"
proposed="${objection/\"status\":\"active\"/\"status\":\"proposed\"}"
# The patient POSTs it (the server names it); a patient cannot choose ids or write anyone else's Consent.
OBJ=$(curl -s -X POST "$BASE/Consent" -H "$JSON" -H "$PATIENT" -d "$proposed" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "  patient raised Consent/$OBJ (proposed)"
echo "  hospital reads the observation: $(status "$BASE/Observation/consent-demo-bp" -H "$DR" -H 'X-Purpose-Of-Use: TREAT') (pending: no effect)"
echo "  administrator upholds it: $(status -X PUT "$BASE/Consent/$OBJ" -H "$JSON" -H "$ADMIN" -d "${objection/consent-demo-optout/$OBJ}")"
echo "  hospital reads the observation: $(status "$BASE/Observation/consent-demo-bp" -H "$DR" -H 'X-Purpose-Of-Use: TREAT')"
echo "  the decision is recorded as a Provenance of the Consent (read by consent administrators):"
curl -s "$BASE/Provenance?target=Consent/$OBJ" -H "$ADMIN" | python3 -c 'import json,sys; b=json.load(sys.stdin); [print("   ", e["resource"]["activity"]["text"]) for e in b.get("entry", [])]'
