#!/usr/bin/env bash
# Every version is kept: instance history, an earlier version (vread), type and system history with paging.
BASE="${BASE:-http://localhost:8080/fhir}"
curl -s "$BASE/Patient/pat-example/_history?_pretty=true"
curl -s "$BASE/Patient/pat-example/_history/1?_pretty=true"
curl -s "$BASE/_history?_count=2&_pretty=true" | head -30
