-- POST Patient with a small, valid body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.body = '{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],' ..
           '"name":[{"use":"official","family":"Bench","given":["Load","Test"]}],"gender":"female","birthDate":"1970-01-01"}'
