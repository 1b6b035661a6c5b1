-- GET Patient/p1 .. Patient/pN at random (N from the environment variable PATIENTS, default 1000).
local patients = tonumber(os.getenv("PATIENTS") or "1000")
request = function()
  return wrk.format("GET", "/fhir/Patient/p" .. math.random(1, patients))
end
