-- The soak and overload mix (bench/soak.sh): 70% reads and searches, 25% creates and updates, 5%
-- transactions, over the patients soak-p-1..N and observations soak-o-1..N that soak.sh seeds (N from
-- SOAK_PATIENTS). Every answer is counted by status; done() prints requests/s, p50/p99/p99.9 latency,
-- socket errors and the statuses, one "key value" per line for soak.sh to read.
local patients = tonumber(os.getenv("SOAK_PATIENTS") or "1000")
local threads = {}
local fhir_json = { ["Content-Type"] = "application/fhir+json" }

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 100 + thread_number)
  statuses = {}
  sequence = 0
end

local function patient() return "soak-p-" .. math.random(patients) end

local function observation_json(subject)
  sequence = sequence + 1
  return '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",' ..
         '"code":"29463-7","display":"Body weight"}]},"subject":{"reference":"Patient/' .. subject .. '"},' ..
         '"effectiveDateTime":"2024-0' .. math.random(9) .. '-1' .. math.random(9) .. 'T10:00:00Z",' ..
         '"valueQuantity":{"value":' .. (50 + math.random(500) / 10) .. ',"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}'
end

local function patient_json(id)
  return '{"resourceType":"Patient","id":"' .. id .. '","name":[{"family":"Soak' .. math.random(50) ..
         '","given":["Load"]}],"gender":"female","birthDate":"19' .. (40 + math.random(59)) .. '-0' .. math.random(9) ..
         '-1' .. math.random(9) .. '","telecom":[{"system":"phone","value":"0' .. math.random(100000000, 999999999) .. '"}]}'
end

request = function()
  local r = math.random(100)
  if r <= 25 then return wrk.format("GET", "/fhir/Patient/" .. patient()) end
  if r <= 35 then return wrk.format("GET", "/fhir/Observation/soak-o-" .. math.random(patients)) end
  if r <= 50 then return wrk.format("GET", "/fhir/Observation?subject=Patient/" .. patient() .. "&_count=20") end
  if r <= 60 then
    return wrk.format("GET", "/fhir/Patient?family=Soak" .. math.random(50) .. "&birthdate=ge19" .. (40 + math.random(59)) .. "&_count=10")
  end
  if r <= 70 then
    return wrk.format("GET", "/fhir/Observation?code=http://loinc.org%7C29463-7&date=ge2024-0" .. math.random(9) .. "-01&_count=20")
  end
  if r <= 82 then return wrk.format("POST", "/fhir/Observation", fhir_json, observation_json(patient())) end
  if r <= 95 then
    local id = patient()
    return wrk.format("PUT", "/fhir/Patient/" .. id, fhir_json, patient_json(id))
  end
  local id = patient()
  local bundle = '{"resourceType":"Bundle","type":"transaction","entry":[' ..
                 '{"resource":' .. observation_json(id) .. ',"request":{"method":"POST","url":"Observation"}},' ..
                 '{"resource":' .. observation_json(id) .. ',"request":{"method":"POST","url":"Observation"}},' ..
                 '{"resource":' .. patient_json(id) .. ',"request":{"method":"PUT","url":"Patient/' .. id .. '"}}]}'
  return wrk.format("POST", "/fhir", fhir_json, bundle)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 503 and headers["Retry-After"] then retry_after = (retry_after or 0) + 1 end
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("requests %d\n", summary.requests))
  io.write(string.format("requests_per_second %.0f\n", summary.requests / seconds))
  for _, p in ipairs({ 50, 99, 99.9 }) do
    io.write(string.format("latency_p%s_ms %.2f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("latency_max_ms %.2f\n", latency.max / 1000))
  local e = summary.errors
  io.write(string.format("socket_errors connect=%d read=%d write=%d timeout=%d\n", e.connect, e.read, e.write, e.timeout))
  local totals, with_retry_after = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do totals[status] = (totals[status] or 0) + n end
    with_retry_after = with_retry_after + (thread:get("retry_after") or 0)
  end
  local keys = {}
  for status in pairs(totals) do table.insert(keys, status) end
  table.sort(keys)
  for _, status in ipairs(keys) do io.write(string.format("status_%d %d\n", status, totals[status])) end
  io.write(string.format("status_503_with_retry_after %d\n", with_retry_after))
end
