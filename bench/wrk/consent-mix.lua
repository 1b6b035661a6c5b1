-- consent-bench's mix: half reads of a random Observation (o<p>-<k>), half searches of a random patient's
-- Observations, as the caller in AUTH (an Authorization header value). PATIENTS and PER_PATIENT from the
-- environment. Hidden reads answer 404 by design: consent-bench counts them, they are not errors.
local patients = tonumber(os.getenv("PATIENTS") or "1000")
local per_patient = tonumber(os.getenv("PER_PATIENT") or "3")
wrk.headers["Authorization"] = os.getenv("AUTH")
wrk.headers["X-Purpose-Of-Use"] = "TREAT"
request = function()
  local p = math.random(1, patients)
  if math.random() < 0.5 then
    return wrk.format("GET", "/fhir/Observation/o" .. p .. "-" .. math.random(1, per_patient))
  end
  return wrk.format("GET", "/fhir/Observation?patient=p" .. p)
end
