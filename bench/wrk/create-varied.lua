-- POST Patient: a typical UK Core Patient (like bench/data/patient-typical.json) with different values on
-- every request, so index rows land all over the value B-trees as real feeds do (the same body every time
-- would append to the same index pages and flatter the indexed store).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"

local families = {"Evans", "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
                  "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Khan",
                  "Hughes", "Clarke", "Lewis", "Wood", "Harris", "Martin", "Jackson", "Clark", "Turner", "Hill"}
local givens = {"Megan", "Rose", "Oliver", "George", "Amelia", "Isla", "Harry", "Jack", "Ava", "Mia", "Noah",
                "Leo", "Grace", "Freya", "Arthur", "Lily", "Oscar", "Ivy", "Muhammad", "Sophia", "Alfie", "Ella"}
local cities = {{"Leeds", "LS"}, {"Bradford", "BD"}, {"York", "YO"}, {"Sheffield", "S"}, {"Wakefield", "WF"},
                {"Harrogate", "HG"}, {"Huddersfield", "HD"}, {"Halifax", "HX"}}
local streets = {"Station Road", "High Street", "Church Lane", "Park Avenue", "Mill Lane", "Victoria Road",
                 "Green Lane", "Manor Road", "Kings Road", "Queens Road"}

-- A valid NHS number (Modulus 11) from the 999 test range.
local function nhs_number(n)
  while true do
    local stem = string.format("999%06d", n % 1000000)
    local sum = 0
    for i = 1, 9 do sum = sum + tonumber(stem:sub(i, i)) * (11 - i) end
    local check = 11 - sum % 11
    if check == 11 then check = 0 end
    if check ~= 10 then return stem .. check end
    n = n + 1
  end
end

local counter = 0
local thread_offset = 0

function setup(thread)
  thread:set("thread_offset", math.random(0, 2000000))
end

function init(args)
  math.randomseed(os.time() + thread_offset)
  counter = thread_offset
end

local function pick(list) return list[math.random(#list)] end

request = function()
  counter = counter + 1
  local city = pick(cities)
  local female = math.random(2) == 1
  local body = string.format(
    '{"resourceType":"Patient","meta":{"profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},' ..
    '"identifier":[{"extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",' ..
    '"valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",' ..
    '"code":"01","display":"Number present and verified"}]}}],"system":"https://fhir.nhs.uk/Id/nhs-number","value":"%s"}],' ..
    '"name":[{"use":"official","family":"%s","given":["%s","%s"],"prefix":["%s"]}],' ..
    '"telecom":[{"system":"phone","value":"01632 %06d","use":"home"}],"gender":"%s","birthDate":"%04d-%02d-%02d",' ..
    '"address":[{"use":"home","line":["%d %s"],"city":"%s","postalCode":"%s%d %d%s"}],' ..
    '"generalPractitioner":[{"reference":"Organization/gp-%04d","display":"Surgery %d"}]}',
    nhs_number(counter), pick(families), pick(givens), pick(givens), female and "Ms" or "Mr",
    math.random(0, 999999), female and "female" or "male", math.random(1925, 2024), math.random(1, 12),
    math.random(1, 28), math.random(1, 200), pick(streets), city[1], city[2], math.random(1, 29),
    math.random(1, 9), string.char(64 + math.random(1, 26)) .. string.char(64 + math.random(1, 26)),
    math.random(1, 400), math.random(1, 400))
  return wrk.format(nil, "/fhir/Patient", nil, body)
end
