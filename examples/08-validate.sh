#!/usr/bin/env bash
# Validation: $validate answers 200 with an OperationOutcome; a write that breaks a rule gets 422 and is
# not stored. Patient, MedicationStatement, AllergyIntolerance, Observation and Consent are checked
# against their UK Core profile by default.
BASE="${BASE:-http://localhost:8080/fhir}"
echo '# $validate: an NHS number failing the Modulus 11 check (200 with the issues)'
curl -s -X POST "$BASE/Patient/\$validate" -H 'Content-Type: application/fhir+json' -d '{
  "resourceType": "Patient",
  "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000008"}]}' | python3 -m json.tool
echo '# $validate against a named profile (R4 body weight: subject, effective time, category, ...)'
curl -s -X POST "$BASE/Observation/\$validate?profile=http://hl7.org/fhir/StructureDefinition/bodyweight" \
  -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType": "Observation", "status": "final", "code": {"text": "Weight"}}' | python3 -m json.tool
echo '# create of an AllergyIntolerance without a code: UK Core requires one (422, nothing stored)'
curl -s -X POST "$BASE/AllergyIntolerance" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/pat-jones"},
       "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]}}' | python3 -m json.tool
echo '# create with a local vendor extension: accepted, the warning shown with Prefer: return=OperationOutcome'
curl -s -X POST "$BASE/Patient" -H 'Content-Type: application/fhir+json' -H 'Prefer: return=OperationOutcome' -d '{
  "resourceType": "Patient", "name": [{"family": "Example"}],
  "extension": [{"url": "https://vendor.example/fhir/StructureDefinition/favourite-colour", "valueString": "green"}]}' \
  | python3 -m json.tool
