-- GET / against the bare server (the path does not matter to it).
request = function()
  return wrk.format("GET", "/fhir/Patient/x")
end
