#!/usr/bin/env bash
# What the server supports: its CapabilityStatement.
BASE="${BASE:-http://localhost:8080/fhir}"
curl -s "$BASE/metadata?_pretty=true" | head -40
