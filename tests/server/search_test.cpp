// Search (search.html) through the application: every parameter type, prefix, modifier, chain,
// include, sort and paging rule, on a small data set whose answers are known.
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "tests/server/app_fixture.hpp"

using fhir::testing::app_fixture;
using fhir::testing::reply;

namespace {

std::string nhs(std::string_view number) {
  return R"({"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" + std::string(number) + R"("})";
}

std::string observation(std::string_view id, std::string_view patient, std::string_view loinc, std::string_view display,
                        std::string_view value, std::string_view unit, std::string_view when, std::string_view status = "final") {
  return R"({"resourceType":"Observation","id":")" + std::string(id) + R"(","status":")" + std::string(status) +
         R"(","code":{"coding":[{"system":"http://loinc.org","code":")" + std::string(loinc) + R"(","display":")" +
         std::string(display) + R"("}]},"subject":{"reference":"Patient/)" + std::string(patient) +
         R"("},"effectiveDateTime":")" + std::string(when) + R"(","valueQuantity":{"value":)" + std::string(value) +
         R"(,"unit":")" + std::string(unit) + R"(","system":"http://unitsofmeasure.org","code":")" + std::string(unit) + R"("}})";
}

// Patients p1 Smith (1970-03-15, male, NHS 9000000009, GP org1), p2 Smyth Zoë (1985-07-01, female),
// p3 Jones (1970-12-31, no gender); observations o1-o4; risk assessments ra1 (0.8), ra2 (0.25).
struct search_data : app_fixture {
  search_data() {
    put_ok("Organization/org1", R"({"resourceType":"Organization","id":"org1","name":"Leeds GP Practice",
      "identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"},
                    {"system":"http://example.org/odd","value":"A,B|C"}]})");
    put_ok("Patient/p1", R"({"resourceType":"Patient","id":"p1","identifier":[)" + nhs("9000000009") + R"(],
      "name":[{"family":"Smith","given":["John"]}],"gender":"male","birthDate":"1970-03-15",
      "address":[{"line":["1 Park Row"],"city":"Leeds","postalCode":"LS1 4AP"}],
      "generalPractitioner":[{"reference":"Organization/org1"}],
      "meta":{"tag":[{"system":"http://example.org/tags","code":"important"}]}})");
    put_ok("Patient/p2", R"({"resourceType":"Patient","id":"p2","name":[{"family":"Smyth","given":["Zoë"]}],
      "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Zoë Smyth, lives in <b>Harrogate</b> &amp; York</div>"},
      "gender":"female","birthDate":"1985-07-01","telecom":[{"system":"phone","value":"0113 496 0000"}]})");
    put_ok("Patient/p3", R"({"resourceType":"Patient","id":"p3","name":[{"family":"Jones","given":["Ann"]}],"birthDate":"1970-12-31"})");
    put_ok("Observation/o1", observation("o1", "p1", "29463-7", "Body weight", "72.5", "kg", "2024-02-10T10:00:00Z"));
    put_ok("Observation/o2", observation("o2", "p1", "8867-4", "Heart rate", "80", "/min", "2023-06-01"));
    put_ok("Observation/o3", observation("o3", "p2", "29463-7", "Body weight", "65000", "g", "2024-05-05T09:30:00+01:00"));
    put_ok("Observation/o4", observation("o4", "p3", "4548-4", "Hemoglobin A1c", "53", "mmol/mol", "2022-01-01", "preliminary"));
    put_ok("RiskAssessment/ra1", R"({"resourceType":"RiskAssessment","id":"ra1","status":"final",
      "subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.8}]})");
    put_ok("RiskAssessment/ra2", R"({"resourceType":"RiskAssessment","id":"ra2","status":"final",
      "subject":{"reference":"Patient/p2"},"prediction":[{"probabilityDecimal":0.25}]})");
  }

  void put_ok(const std::string& path, const std::string& body) {
    auto r = put("/fhir/" + path, body);
    INFO(path << ": " << r.http.body);
    REQUIRE((r.status() == 200 || r.status() == 201));
  }

  reply search(const std::string& query, std::vector<server::http::header> headers = {}) const {
    auto r = get("/fhir/" + query, std::move(headers));
    INFO(query << "\n" << r.http.body);
    REQUIRE(r.status() == 200);
    return r;
  }

  // The ids of the entries with search.mode `mode`, in order.
  std::vector<std::string> ids(const std::string& query, std::string_view mode = "match") const {
    return ids_of(search(query), mode);
  }

  static std::vector<std::string> ids_of(const reply& r, std::string_view mode = "match") {
    std::vector<std::string> out;
    auto bundle = r.json();
    if (const auto* entries = bundle.find("entry"))
      for (const auto& e : entries->as_array())
        if (*e.find("search")->find_string("mode") == mode) {
          const std::string* id = e.find("resource")->find_string("id");
          out.push_back(id ? *id : std::string());
        }
    return out;
  }

  std::set<std::string> set(const std::string& query, std::string_view mode = "match") const {
    auto v = ids(query, mode);
    return {v.begin(), v.end()};
  }

  // The fullUrls of the matches, in order.
  static std::vector<std::string> full_urls_in_order(const reply& r) {
    std::vector<std::string> out;
    auto bundle = r.json();
    if (const auto* entries = bundle.find("entry"))
      for (const auto& e : entries->as_array())
        if (*e.find("search")->find_string("mode") == "match") out.push_back(*e.find_string("fullUrl"));
    return out;
  }

  std::set<std::string> full_urls(const std::string& query) const {
    auto v = full_urls_in_order(search(query));
    return {v.begin(), v.end()};
  }

  static std::string link(const reply& r, std::string_view relation) {
    auto bundle = r.json();
    for (const auto& l : bundle.find("link")->as_array())
      if (*l.find_string("relation") == relation) return *l.find_string("url");
    return "";
  }

  // A link as a target for get(): the part after the base URL.
  static std::string target_of(const std::string& url) { return "/fhir" + url.substr(base.size()); }

  std::vector<std::string> error_ids(const std::string& query, std::vector<server::http::header> headers = {}) const {
    auto r = get("/fhir/" + query, std::move(headers));
    INFO(query << "\n" << r.http.body);
    CHECK(r.status() == 400);
    return r.issue_ids();
  }
};

using ids_t = std::set<std::string>;

}  // namespace

TEST_CASE_METHOD(search_data, "string search: prefix, case and accents folded, :exact, :contains", "[server][search][string]") {
  CHECK(set("Patient?family=smi") == ids_t{"p1"});
  CHECK(set("Patient?family=SM") == ids_t{"p1", "p2"});
  CHECK(set("Patient?given=zoe") == ids_t{"p2"});           // Zoë
  CHECK(set("Patient?name=jo") == ids_t{"p1", "p3"});       // John, Jones
  CHECK(set("Patient?family:exact=Smith") == ids_t{"p1"});
  CHECK(set("Patient?family:exact=smith").empty());
  CHECK(set("Patient?family:contains=mit") == ids_t{"p1"});
  CHECK(set("Patient?address-city=leeds") == ids_t{"p1"});
  CHECK(set("Patient?address=ls1") == ids_t{"p1"});
  CHECK(set("Patient?family=smith,jones") == ids_t{"p1", "p3"});  // OR
  CHECK(set("Patient?family=sm&given=zo") == ids_t{"p2"});        // AND
  CHECK(set("Organization?name=leeds gp") == ids_t{"org1"});
}

// `name` and `address` match every part of a name or an address (search.html#string), though the parts
// other parameters index (family, given, city, postal code) are stored once, under those.
TEST_CASE_METHOD(search_data, "string search over names and addresses: every part, each modifier", "[server][search][string]") {
  put_ok("Patient/p4", R"({"resourceType":"Patient","id":"p4","name":[{"use":"official","family":"Okafor","given":["Chidi"],
    "prefix":["Dr"],"suffix":["OBE"],"text":"Dr Chidi Okafor OBE"},{"use":"nickname","given":["Chid"]}],
    "address":[{"line":["Flat 2","7 Kirkgate"],"city":"Wakefield","district":"West Yorkshire","postalCode":"WF1 1HX",
    "country":"England","text":"Flat 2, 7 Kirkgate, Wakefield"}]})");
  for (const char* part : {"okafor", "chidi", "chid", "dr", "obe", "dr chidi"})
    CHECK(set(std::string("Patient?name=") + part) == ids_t{"p4"});
  CHECK(set("Patient?phonetic=okafor") == ids_t{"p4"});
  CHECK(set("Patient?phonetic=obe") == ids_t{"p4"});
  CHECK(set("Patient?name:exact=Okafor") == ids_t{"p4"});
  CHECK(set("Patient?name:exact=OBE") == ids_t{"p4"});
  CHECK(set("Patient?name:exact=okafor").empty());
  CHECK(set("Patient?name:contains=haf").empty());
  CHECK(set("Patient?name:contains=kafo") == ids_t{"p4"});
  CHECK(set("Patient?name:contains=ohn") == ids_t{"p1"});  // John
  CHECK(set("Patient?family=dr").empty());                  // a prefix is no family
  for (const char* part : {"7 kirk", "flat", "wakefield", "west york", "wf1", "england"})
    CHECK(set(std::string("Patient?address=") + part) == ids_t{"p4"});
  CHECK(set("Patient?address:exact=WF1 1HX") == ids_t{"p4"});
  CHECK(set("Patient?address=kirkgate").empty());       // a string matches from its start
  CHECK(set("Patient?address-city=flat").empty());      // a line is no city
  CHECK(set("Patient?address:missing=false") == ids_t{"p1", "p4"});
  CHECK(set("Patient?address:missing=true") == ids_t{"p2", "p3"});
  CHECK(set("Patient?name:missing=true").empty());
  CHECK(set("Patient?name=okafor&address=wakefield") == ids_t{"p4"});
  CHECK(set("Patient?name=okafor,jones") == ids_t{"p3", "p4"});
  // A sort on name takes each resource's lowest part: Ann (Jones), Chid (Okafor), John (Smith), Smyth.
  CHECK(ids("Patient?_sort=name") == std::vector<std::string>{"p3", "p4", "p1", "p2"});
  CHECK(ids("Patient?_sort=-name") == std::vector<std::string>{"p2", "p1", "p4", "p3"});
  CHECK(set("Observation?subject.name=chidi").empty());
  CHECK(set("Observation?subject:Patient.name=john") == ids_t{"o1", "o2"});
  CHECK(set("Observation?subject:Patient.address=ls1") == ids_t{"o1", "o2"});
}

TEST_CASE_METHOD(search_data, "token search: system|code, |code, system|, code, :text, :not, :missing", "[server][search][token]") {
  CHECK(set("Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009") == ids_t{"p1"});
  CHECK(set("Patient?identifier=9000000009") == ids_t{"p1"});
  CHECK(set("Patient?identifier=|9000000009").empty());  // the identifier has a system
  CHECK(set("Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|") == ids_t{"p1"});
  CHECK(set("Observation?code=http://loinc.org|29463-7") == ids_t{"o1", "o3"});
  CHECK(set("Observation?code=http://snomed.info/sct|29463-7").empty());
  CHECK(set("Observation?code=29463-7,8867-4") == ids_t{"o1", "o2", "o3"});
  CHECK(set("Observation?code:text=body") == ids_t{"o1", "o3"});
  CHECK(set("Observation?code:text=weight") == ids_t{"o1", "o3"});  // a later word of the display
  CHECK(set("Observation?status=preliminary") == ids_t{"o4"});
  CHECK(set("Patient?gender=female") == ids_t{"p2"});
  CHECK(set("Patient?gender:not=female") == ids_t{"p1", "p3"});
  CHECK(set("Patient?gender:missing=true") == ids_t{"p3"});
  CHECK(set("Patient?gender:missing=false") == ids_t{"p1", "p2"});
  CHECK(set("Patient?phone=0113 496 0000") == ids_t{"p2"});
  CHECK(set("Patient?_tag=http://example.org/tags|important") == ids_t{"p1"});
  // Escaped separators are part of the value.
  CHECK(set(R"(Organization?identifier=http://example.org/odd|A\,B\|C)") == ids_t{"org1"});
  CHECK(set("Organization?identifier=A81001") == ids_t{"org1"});
}

TEST_CASE_METHOD(search_data, "terminology modifiers: :in, :not-in, :below and :above from local code systems", "[server][search][token]") {
  put_ok("Observation/cat", R"({"resourceType":"Observation","id":"cat","status":"final","code":{"text":"x"},
    "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}]})");
  CHECK(set("Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender") == ids_t{"p1", "p2"});
  CHECK(set("Observation?status:in=http://hl7.org/fhir/ValueSet/observation-status") == ids_t{"o1", "o2", "o3", "o4", "cat"});
  CHECK(set("Patient?gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender") == ids_t{"p3"});
  CHECK(set("Observation?category:below=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs") == ids_t{"cat"});
  CHECK(set("Observation?category:above=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs") == ids_t{"cat"});
  // Needs a terminology server: a clear 400, not a guess.
  CHECK(error_ids("Observation?code:below=http://snomed.info/sct|27113001") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Observation?code:in=http://example.org/ValueSet/unknown") == std::vector<std::string>{"search-parameter-invalid"});
}

TEST_CASE_METHOD(search_data, "_text searches the narrative, _content all the text, every word must match", "[server][search][string]") {
  CHECK(set("Patient?_text=harrogate") == ids_t{"p2"});
  CHECK(set("Patient?_text=york harro") == ids_t{"p2"});
  CHECK(set("Patient?_text=leeds").empty());
  CHECK(set("Patient?_content=park row") == ids_t{"p1"});
  CHECK(set("Patient?_content=leeds smith") == ids_t{"p1"});
  CHECK(set("Patient?_content=leeds jones").empty());
  CHECK(set("Patient?_content=zoe") == ids_t{"p2"});
}

TEST_CASE_METHOD(search_data, "date search: precision ranges and every prefix", "[server][search][date]") {
  CHECK(set("Patient?birthdate=1970") == ids_t{"p1", "p3"});
  CHECK(set("Patient?birthdate=1970-03") == ids_t{"p1"});
  CHECK(set("Patient?birthdate=eq1970-03-15") == ids_t{"p1"});
  CHECK(set("Patient?birthdate=ne1970") == ids_t{"p2"});
  CHECK(set("Patient?birthdate=lt1971") == ids_t{"p1", "p3"});
  CHECK(set("Patient?birthdate=gt1970-12-31") == ids_t{"p2"});
  CHECK(set("Patient?birthdate=ge1970-12-31") == ids_t{"p2", "p3"});
  CHECK(set("Patient?birthdate=le1970-03-15") == ids_t{"p1"});
  CHECK(set("Patient?birthdate=sa1970-06-01") == ids_t{"p2", "p3"});
  CHECK(set("Patient?birthdate=eb1971") == ids_t{"p1", "p3"});
  CHECK(set("Patient?birthdate=ge1970&birthdate=lt1971") == ids_t{"p1", "p3"});
  // Instants compare across time zones: 09:30+01:00 is 08:30Z.
  CHECK(set("Observation?date=2024-05-05T08:30:00Z") == ids_t{"o3"});
  CHECK(set("Observation?date=2024-02-10T11:00:00%2B01:00") == ids_t{"o1"});
  CHECK(set("Observation?date=2024") == ids_t{"o1", "o3"});
  CHECK(set("Observation?date=ge2024-01-01") == ids_t{"o1", "o3"});
  CHECK(set("Observation?date=lt2023") == ids_t{"o4"});
  CHECK(set("Observation?date=ap2022-01-01") == ids_t{"o4"});  // within 10% of the time from now
  CHECK(set("Patient?_lastUpdated=gt2000-01-01") == ids_t{"p1", "p2", "p3"});
  CHECK(set("Patient?_lastUpdated=lt2000-01-01").empty());
}

TEST_CASE_METHOD(search_data, "number and quantity search: implicit precision, prefixes, UCUM conversion", "[server][search][number][quantity]") {
  CHECK(set("RiskAssessment?probability=0.8") == ids_t{"ra1"});
  CHECK(set("RiskAssessment?probability=0.80") == ids_t{"ra1"});
  CHECK(set("RiskAssessment?probability=0.83").empty());
  CHECK(set("RiskAssessment?probability=gt0.5") == ids_t{"ra1"});
  CHECK(set("RiskAssessment?probability=le0.25") == ids_t{"ra2"});
  CHECK(set("RiskAssessment?probability=ne0.8") == ids_t{"ra2"});
  CHECK(set("Observation?value-quantity=72.5|http://unitsofmeasure.org|kg") == ids_t{"o1"});
  CHECK(set("Observation?value-quantity=72.5||kg") == ids_t{"o1"});
  // 65000 g is 65 kg: canonical UCUM units compare across prefixes.
  CHECK(set("Observation?value-quantity=65|http://unitsofmeasure.org|kg") == ids_t{"o3"});
  CHECK(set("Observation?value-quantity=gt60|http://unitsofmeasure.org|kg") == ids_t{"o1", "o3"});
  CHECK(set("Observation?value-quantity=lt70000|http://unitsofmeasure.org|g") == ids_t{"o3"});
  CHECK(set("Observation?value-quantity=gt50") == ids_t{"o1", "o2", "o3", "o4"});
  // Zero is a value like any other: "0 kg" means [-0.5, 0.5) kg, so 300 g matches.
  put_ok("Observation/light", observation("light", "p2", "29463-7", "Body weight", "300", "g", "2024-06-01"));
  CHECK(set("Observation?value-quantity=0|http://unitsofmeasure.org|kg") == ids_t{"light"});
}

TEST_CASE_METHOD(search_data, "composite search: code$value across components, with prefixes and units", "[server][search][composite]") {
  put_ok("Observation/bp", R"({"resourceType":"Observation","id":"bp","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p1"},
    "effectiveDateTime":"2024-03-01","component":[
      {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
       "valueQuantity":{"value":140,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
      {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},
       "valueQuantity":{"value":90,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]})");
  CHECK(set("Observation?component-code-value-quantity=http://loinc.org|8480-6$gt130") == ids_t{"bp"});
  CHECK(set("Observation?component-code-value-quantity=8480-6$lt130").empty());
  CHECK(set("Observation?component-code-value-quantity=8462-4$90") == ids_t{"bp"});
  // The two components of one combination must match together: systolic 90 does not exist.
  CHECK(set("Observation?component-code-value-quantity=8480-6$90").empty());
  CHECK(set("Observation?code-value-quantity=http://loinc.org|29463-7$65|http://unitsofmeasure.org|kg") == ids_t{"o3"});
  CHECK(set("Observation?code-value-quantity=29463-7$gt70|http://unitsofmeasure.org|kg") == ids_t{"o1"});
  CHECK(set("Observation?code-value-quantity=29463-7$gt70") == ids_t{"o1", "o3"});  // no unit: 65000 (g) > 70
  CHECK(set("Observation?code-value-quantity=29463-7$gt70||kg,8867-4$80") == ids_t{"o1", "o2"});
  CHECK(error_ids("Observation?code-value-quantity=29463-7") == std::vector<std::string>{"search-parameter-invalid"});
  // R4's combo-* parameters are code | component.code (and so on): their rows are those of the
  // narrower parameters, stored once.
  CHECK(set("Observation?combo-code=8480-6") == ids_t{"bp"});
  CHECK(set("Observation?combo-code=http://loinc.org|29463-7") == ids_t{"o1", "o3"});
  CHECK(set("Observation?combo-code=http://loinc.org|85354-9,8462-4") == ids_t{"bp"});
  CHECK(set("Observation?combo-code-value-quantity=8480-6$gt130") == ids_t{"bp"});
  CHECK(set("Observation?combo-code-value-quantity=29463-7$gt70|http://unitsofmeasure.org|kg") == ids_t{"o1"});
  CHECK(set("Observation?combo-value-quantity=gt139|http://unitsofmeasure.org|mm[Hg]") == ids_t{"bp"});
  CHECK(set("Observation?combo-code:missing=true&_id=o1,bp").empty());
  CHECK(ids("Observation?combo-code=http://loinc.org|29463-7&_sort=-combo-code") == std::vector<std::string>{"o1", "o3"});
}

// R4's two composite shapes beyond token$value: a reference first (DocumentReference `relationship`,
// whose published definition swaps its components' expressions: the server swaps them back) and three
// components (MolecularSequence coordinates: a token, then two numbers, each with prefixes).
TEST_CASE_METHOD(search_data, "composite search: a reference first, and three components", "[server][search][composite]") {
  auto document = [](std::string_view id, std::string_view relates_to) {
    std::string relation = relates_to.empty() ? std::string()
                                              : R"(,"relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/)" +
                                                    std::string(relates_to) + R"("}},{"code":"appends","target":{"reference":"DocumentReference/d0"}}])";
    return R"({"resourceType":"DocumentReference","id":")" + std::string(id) + R"(","status":"current",
      "content":[{"attachment":{"contentType":"text/plain","data":"aGVsbG8="}}])" + relation + "}";
  };
  put_ok("DocumentReference/d0", document("d0", ""));
  put_ok("DocumentReference/d1", document("d1", ""));
  put_ok("DocumentReference/d2", document("d2", "d1"));
  put_ok("DocumentReference/d3", document("d3", "d2"));
  // A target known only by an identifier whose value looks like an id, and another server's document.
  put_ok("DocumentReference/d4", R"({"resourceType":"DocumentReference","id":"d4","status":"current",
    "content":[{"attachment":{"contentType":"text/plain"}}],
    "relatesTo":[{"code":"replaces","target":{"identifier":{"system":"https://example.org/documents","value":"d1"}}}]})");
  put_ok("DocumentReference/d5", R"({"resourceType":"DocumentReference","id":"d5","status":"current",
    "content":[{"attachment":{"contentType":"text/plain"}}],
    "relatesTo":[{"code":"replaces","target":{"reference":"https://other.example/fhir/DocumentReference/x9"}}]})");
  CHECK(set("DocumentReference?relationship=DocumentReference/d1$replaces") == ids_t{"d2"});
  CHECK(set("DocumentReference?relationship=d1$replaces") == ids_t{"d2"});
  CHECK(set("DocumentReference?relationship=" + std::string(base) + "/DocumentReference/d1$replaces") == ids_t{"d2"});
  CHECK(set("DocumentReference?relationship=d0$appends") == ids_t{"d2", "d3"});
  // Both components of one relatesTo must match: d2 appends d0 and replaces d1, not "replaces d0".
  CHECK(set("DocumentReference?relationship=d0$replaces").empty());
  CHECK(set("DocumentReference?relationship=d1$replaces,d2$replaces") == ids_t{"d2", "d3"});
  CHECK(set("DocumentReference?relationship=Patient/d1$replaces").empty());
  CHECK(set("DocumentReference?relationship=https://other.example/fhir/DocumentReference/x9$replaces") == ids_t{"d5"});
  CHECK(set("DocumentReference?relationship=https://other.example/fhir/DocumentReference/x9$appends").empty());
  CHECK(error_ids("DocumentReference?relationship=d1") == std::vector<std::string>{"search-parameter-invalid"});

  auto sequence = [](std::string_view id, std::string_view chromosome, int window_start, int window_end,
                     std::vector<std::pair<int, int>> variants) {
    std::string out = R"({"resourceType":"MolecularSequence","id":")" + std::string(id) + R"(","coordinateSystem":0,
      "referenceSeq":{"chromosome":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/chromosome-human","code":")" +
                      std::string(chromosome) + R"("}]},"genomeBuild":"GRCh38","windowStart":)" + std::to_string(window_start) +
                      R"(,"windowEnd":)" + std::to_string(window_end) + R"(},"variant":[)";
    for (std::size_t i = 0; i < variants.size(); ++i)
      out += (i ? "," : "") + fmt::format(R"({{"start":{},"end":{}}})", variants[i].first, variants[i].second);
    return out + "]}";
  };
  put_ok("MolecularSequence/s1", sequence("s1", "1", 22125500, 22125510, {{22125503, 22125504}, {22125506, 22125509}}));
  put_ok("MolecularSequence/s2", sequence("s2", "2", 100, 900, {{150, 160}}));
  put_ok("MolecularSequence/s3", sequence("s3", "3", 100, 900, {{150, 160}, {150, 170}}));  // differ in the third only
  CHECK(set("MolecularSequence?chromosome-window-coordinate=1$ge22125500$le22125510") == ids_t{"s1"});
  CHECK(set("MolecularSequence?chromosome-window-coordinate=1$lt22125500$le22125510").empty());
  CHECK(set("MolecularSequence?chromosome-window-coordinate=2$100$900") == ids_t{"s2"});
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=1$ge22125503$le22125504") == ids_t{"s1"});
  // One variant must hold both: 22125503-22125504 and 22125506-22125509 make no 22125503-22125509.
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=1$22125503$22125509").empty());
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=http://terminology.hl7.org/CodeSystem/chromosome-human|2$gt100$lt200") ==
        ids_t{"s2"});
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=2$gt100$lt200,1$22125506$22125509") == ids_t{"s1", "s2"});
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=3$150$170") == ids_t{"s3"});
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=3$150$gt165") == ids_t{"s3"});
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=3$150$gt175").empty());
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=2$150$ne160").empty());
  CHECK(set("MolecularSequence?chromosome-variant-coordinate=3$150$ne160") == ids_t{"s3"});
  CHECK(error_ids("MolecularSequence?chromosome-variant-coordinate=1$22125503") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("MolecularSequence?chromosome-variant-coordinate=1$x$3") == std::vector<std::string>{"search-parameter-invalid"});
}

// An absolute reference names this server's resource only under this server's base URL; another
// server's Patient/p1 is someone else, found by its URL alone: not by Patient/p1, a bare id, a chain,
// an include or p1's compartment (where a patient-facing p1 would have read it).
TEST_CASE_METHOD(search_data, "reference search: another server's absolute reference is not ours", "[server][search][reference]") {
  auto with_subject = [](std::string_view id, const std::string& subject) {
    return R"({"resourceType":"Observation","id":")" + std::string(id) + R"(","status":"final",
      "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":")" + subject + R"("}})";
  };
  put_ok("Observation/ext", with_subject("ext", "https://other.example/fhir/Patient/p1"));
  put_ok("Observation/own", with_subject("own", std::string(base) + "/Patient/p1"));
  CHECK(set("Observation?subject=Patient/p1&code=8867-4") == ids_t{"o2", "own"});
  CHECK(set("Observation?subject=p1&code=8867-4") == ids_t{"o2", "own"});
  CHECK(set("Observation?patient=p1&code=8867-4") == ids_t{"o2", "own"});
  CHECK(set("Observation?subject.family=smith&code=8867-4") == ids_t{"o2", "own"});
  CHECK(set("Patient/p1/Observation?code=8867-4") == ids_t{"o2", "own"});
  CHECK(set("Observation?subject=https://other.example/fhir/Patient/p1") == ids_t{"ext"});
  CHECK(set("Observation?subject=" + std::string(base) + "/Patient/p1&code=8867-4") == ids_t{"o2", "own"});
  CHECK(ids("Observation?_id=ext&_include=Observation:subject", "include").empty());
  CHECK(ids("Observation?_id=own&_include=Observation:subject", "include") == std::vector<std::string>{"p1"});
  put_ok("Observation/ver", with_subject("ver", "Patient/p1/_history/1"));  // a versioned reference includes the resource
  CHECK(ids("Observation?_id=ver&_include=Observation:subject", "include") == std::vector<std::string>{"p1"});
  // Only a reference names a resource: a canonical under the base URL is matched as written.
  put_ok("Questionnaire/q1", R"({"resourceType":"Questionnaire","id":"q1","status":"active","url":")" + std::string(base) +
                                 R"(/Questionnaire/q1"})");
  CHECK(set("Questionnaire?url=" + std::string(base) + "/Questionnaire/q1") == ids_t{"q1"});
  CHECK(set("Questionnaire?url=Questionnaire/q1").empty());
  // A canonical is stored as written, by URL: one of ours is found written under the base or relative
  // (not conformant, but not refused), whichever spelling the search uses.
  put_ok("QuestionnaireResponse/qr1", R"({"resourceType":"QuestionnaireResponse","id":"qr1","status":"completed",
    "questionnaire":")" + std::string(base) + R"(/Questionnaire/q1"})");
  put_ok("QuestionnaireResponse/qr2", R"({"resourceType":"QuestionnaireResponse","id":"qr2","status":"completed",
    "questionnaire":"Questionnaire/q1"})");
  put_ok("QuestionnaireResponse/qr3", R"({"resourceType":"QuestionnaireResponse","id":"qr3","status":"completed",
    "questionnaire":"https://other.example/fhir/Questionnaire/q1"})");
  CHECK(set("QuestionnaireResponse?questionnaire=" + std::string(base) + "/Questionnaire/q1") == ids_t{"qr1", "qr2"});
  CHECK(set("QuestionnaireResponse?questionnaire=Questionnaire/q1") == ids_t{"qr1", "qr2"});
  CHECK(set("QuestionnaireResponse?questionnaire=https://other.example/fhir/Questionnaire/q1") == ids_t{"qr3"});
  // _include and _revinclude through a canonical reach the resource whose url it names ("|version" or
  // not), or the resource of a relative canonical's type and id; another server's names none of ours.
  put_ok("Questionnaire/q2", R"({"resourceType":"Questionnaire","id":"q2","status":"active",
    "url":"https://forms.example/Questionnaire/gad7","version":"2.0"})");
  put_ok("QuestionnaireResponse/qr4", R"({"resourceType":"QuestionnaireResponse","id":"qr4","status":"completed",
    "questionnaire":"https://forms.example/Questionnaire/gad7|2.0"})");
  CHECK(set("QuestionnaireResponse?_id=qr1&_include=QuestionnaireResponse:questionnaire", "include") == ids_t{"q1"});
  CHECK(set("QuestionnaireResponse?_id=qr2&_include=QuestionnaireResponse:questionnaire", "include") == ids_t{"q1"});
  CHECK(set("QuestionnaireResponse?_id=qr4&_include=QuestionnaireResponse:questionnaire", "include") == ids_t{"q2"});
  // A versioned value finds the references to that canonical (the index keeps no version).
  CHECK(set("QuestionnaireResponse?questionnaire=https://forms.example/Questionnaire/gad7|2.0") == ids_t{"qr4"});
  CHECK(set("QuestionnaireResponse?questionnaire=https://forms.example/Questionnaire/gad7") == ids_t{"qr4"});
  CHECK(set("QuestionnaireResponse?questionnaire=" + std::string(base) + "/Questionnaire/q1|1") == ids_t{"qr1", "qr2"});
  CHECK(set("QuestionnaireResponse?_id=qr3&_include=QuestionnaireResponse:questionnaire", "include").empty());
  CHECK(set("QuestionnaireResponse?_id=qr4&_include=QuestionnaireResponse:*", "include") == ids_t{"q2"});
  CHECK(set("Questionnaire?_id=q1&_revinclude=QuestionnaireResponse:questionnaire", "include") == ids_t{"qr1", "qr2"});
  CHECK(set("Questionnaire?_id=q2&_revinclude=QuestionnaireResponse:questionnaire", "include") == ids_t{"qr4"});
  CHECK(set("Questionnaire?_id=q1,q2&_revinclude=QuestionnaireResponse:*", "include") == ids_t{"qr1", "qr2", "qr4"});
  // Chains and _has through a canonical too.
  CHECK(set("QuestionnaireResponse?questionnaire._id=q1") == ids_t{"qr1", "qr2"});
  CHECK(set("QuestionnaireResponse?questionnaire.version=2.0") == ids_t{"qr4"});
  CHECK(set("QuestionnaireResponse?questionnaire:Questionnaire.url=https://forms.example/Questionnaire/gad7") == ids_t{"qr4"});
  CHECK(set("Questionnaire?_has:QuestionnaireResponse:questionnaire:_id=qr4") == ids_t{"q2"});
  // Of any version, though: the index keeps none (ADR 0006; version-exact matching would need it there).
  put_ok("QuestionnaireResponse/qr5", R"({"resourceType":"QuestionnaireResponse","id":"qr5","status":"completed",
    "questionnaire":"https://forms.example/Questionnaire/gad7|1.0"})");
  CHECK(set("QuestionnaireResponse?questionnaire=https://forms.example/Questionnaire/gad7|2.0") == ids_t{"qr4", "qr5"});
  CHECK(set("QuestionnaireResponse?questionnaire.version=2.0") == ids_t{"qr4", "qr5"});
  CHECK(set("Questionnaire?_has:QuestionnaireResponse:questionnaire:_id=qr1,qr2,qr3") == ids_t{"q1"});
  // A contained resource's local id is no resource's, written under the base or not.
  CHECK(error_ids("Observation?subject=" + std::string(base) + "/Patient/%23pt") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(set("Observation?subject:Patient.general-practitioner=" + std::string(base) + "/Organization/org1&code=8867-4") ==
        ids_t{"o2", "own", "ver"});
}

TEST_CASE_METHOD(search_data, "reference search: Type/id, id, :type, :identifier, :missing", "[server][search][reference]") {
  CHECK(set("Observation?subject=Patient/p1") == ids_t{"o1", "o2"});
  CHECK(set("Observation?subject=p1") == ids_t{"o1", "o2"});
  CHECK(set("Observation?subject:Patient=p1") == ids_t{"o1", "o2"});
  CHECK(set("Observation?subject:Group=p1").empty());
  CHECK(set("Observation?subject:Patient=Patient/p1") == ids_t{"o1", "o2"});
  // A type the modifier and the value disagree on, or one the parameter cannot point at: a 400, not an
  // empty page (nor, as before, the value's type winning over the modifier's).
  for (const char* contradictory : {"Observation?subject:Group=Patient/p1", "Observation?subject:Medication=m1",
                                    "Observation?subject:Medication.code=x", "Observation?subject:Patient=Group/p1"})
    CHECK(error_ids(contradictory) == std::vector<std::string>{"search-parameter-invalid"});
  // A URL whose path does not name a type is no contradiction; a relative one that misspells it is.
  put_ok("QuestionnaireResponse/forms", R"({"resourceType":"QuestionnaireResponse","id":"forms","status":"completed",
    "questionnaire":"https://example.org/Forms/phq9"})");
  CHECK(set("QuestionnaireResponse?questionnaire:Questionnaire=https://example.org/Forms/phq9") == ids_t{"forms"});
  CHECK(error_ids("Observation?subject:Patient=Patinet/p1") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(set("Observation?patient=p2") == ids_t{"o3"});
  CHECK(set("Observation?subject=Patient/p1,Patient/p3") == ids_t{"o1", "o2", "o4"});
  CHECK(set(std::string("Observation?subject=") + std::string(base) + "/Patient/p1") == ids_t{"o1", "o2"});
  CHECK(set("Patient?general-practitioner=Organization/org1") == ids_t{"p1"});
  CHECK(set("Patient?general-practitioner:missing=true") == ids_t{"p2", "p3"});
  put_ok("Observation/o5", R"({"resourceType":"Observation","id":"o5","status":"final","code":{"text":"note"},
    "subject":{"identifier":)" + nhs("9000000009") + "}}");
  CHECK(set("Observation?subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009") == ids_t{"o5"});
}

TEST_CASE_METHOD(search_data, ":of-type finds identifiers by their type and exact value", "[server][search][token]") {
  put_ok("Patient/p9", R"({"resourceType":"Patient","id":"p9","identifier":[{"type":{"coding":[
    {"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"https://trust.example/mrn","value":"RX12345"}]})");
  CHECK(set("Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|RX12345") == ids_t{"p9"});
  CHECK(set("Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|rx12345").empty());
  CHECK(set("Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NH|RX12345").empty());
  CHECK(error_ids("Patient?identifier:of-type=MR|RX12345") == std::vector<std::string>{"search-parameter-invalid"});
}

TEST_CASE_METHOD(search_data, "_id, _type across types, and the Patient compartment", "[server][search][compartment]") {
  CHECK(set("Patient?_id=p1,p3") == ids_t{"p1", "p3"});
  // Modifiers on _id: :not is the complement, :missing follows from every resource having an id; others 400.
  auto all_patients = set("Patient?_count=100");
  auto not_p1 = set("Patient?_id:not=p1&_count=100");
  CHECK(!not_p1.contains("p1"));
  CHECK(not_p1.size() + 1 == all_patients.size());
  CHECK(set("Patient?_id:missing=true").empty());
  CHECK(set("Patient?_id:missing=false&_count=100") == all_patients);
  CHECK(get("/fhir/Patient?_id:text=p1").status() == 400);
  CHECK(set("Patient?_lastUpdated:missing=true").empty());
  CHECK(set("?_type=Patient,RiskAssessment&_id=p1,ra2") == ids_t{"p1", "ra2"});
  CHECK(set("Patient/p1/Observation") == ids_t{"o1", "o2"});
  CHECK(set("Patient/p1/Observation?code=8867-4") == ids_t{"o2"});
  CHECK(set("Patient/p1/RiskAssessment") == ids_t{"ra1"});
  CHECK(set("Patient/p1/Patient") == ids_t{"p1"});
  CHECK(get("/fhir/Patient/p1/Organization").status() == 404);  // not in the Patient compartment
}

TEST_CASE_METHOD(search_data, "chained and reverse-chained parameters", "[server][search][chain]") {
  CHECK(set("Observation?subject.family=smi") == ids_t{"o1", "o2"});
  CHECK(set("Observation?subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009") == ids_t{"o1", "o2"});
  CHECK(set("Observation?subject.general-practitioner.name=leeds") == ids_t{"o1", "o2"});  // two levels
  CHECK(set("Observation?subject.birthdate=1970") == ids_t{"o1", "o2", "o4"});
  CHECK(set("Patient?_has:Observation:subject:code=8867-4") == ids_t{"p1"});
  CHECK(set("Patient?_has:Observation:patient:status=preliminary") == ids_t{"p3"});
  CHECK(set("Organization?_has:Patient:general-practitioner:family=smith") == ids_t{"org1"});
  // Nested: organisations that are the GP of a patient who has a heart rate.
  CHECK(set("Organization?_has:Patient:general-practitioner:_has:Observation:subject:code=8867-4") == ids_t{"org1"});
  CHECK(set("Organization?_has:Patient:general-practitioner:_has:Observation:subject:code=4548-4").empty());  // p3 has no GP
  CHECK(set("Patient?_has:Observation:subject:_has:Observation:subject:code=8867-4").empty());  // no subject is an Observation
  // Each hop is a nested subquery: depth is bounded, and a deeper search is refused, not run.
  CHECK(error_ids("Observation?subject.general-practitioner.partof.partof.partof.name=x") ==
        std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?_has:Patient:link:_has:Patient:link:_has:Patient:link:_has:Patient:link:_has:Patient:link:family=x") ==
        std::vector<std::string>{"search-parameter-invalid"});
  CHECK(set("Patient?_has:Patient:link:_has:Patient:link:_has:Patient:link:_has:Patient:link:family=x").empty());
}

TEST_CASE_METHOD(search_data, "uri search: exact, :below (a prefix of the stored uri) and :above (a path of the value)", "[server][search][uri]") {
  for (std::string_view url : {"http://acme.org/fhir/ValueSet/123", "http://acme.org/fhir/ValueSet/12", "http://acme.org/fhir/",
                               "http://other.org/fhir/ValueSet/123"}) {
    std::string id = "vs" + std::to_string(url.size());
    put_ok("ValueSet/" + id, R"({"resourceType":"ValueSet","id":")" + id + R"(","status":"active","url":")" + std::string(url) + R"("})");
  }
  // ids by url length: vs33 .../ValueSet/123, vs32 .../ValueSet/12, vs21 http://acme.org/fhir/, vs34 other.org
  CHECK(set("ValueSet?url=http://acme.org/fhir/ValueSet/12") == ids_t{"vs32"});
  CHECK(set("ValueSet?url:below=http://acme.org/fhir/ValueSet/12") == ids_t{"vs32", "vs33"});
  CHECK(set("ValueSet?url:below=http://acme.org/") == ids_t{"vs21", "vs32", "vs33"});
  CHECK(set("ValueSet?url:above=http://acme.org/fhir/ValueSet/123/_history/5") == ids_t{"vs21", "vs33"});
  CHECK(set("ValueSet?url:above=http://acme.org/fhir/ValueSet/12") == ids_t{"vs21", "vs32"});
  CHECK(set("ValueSet?url:above=http://acme.org/fhir") == ids_t{});  // http://acme.org/fhir/ is below it
  CHECK(set("ValueSet?url:above=http://other.org/fhir/ValueSet/123,http://acme.org/fhir/x") == ids_t{"vs21", "vs34"});
  CHECK(error_ids("ValueSet?url:above=http://acme.org/" + std::string(1100, 'a')) == std::vector<std::string>{"search-parameter-invalid"});
}

// Great-circle distances from Leeds (53.7997, -1.5492): Harrogate 21.4 km, York 35.1 km, London 272 km.
TEST_CASE_METHOD(search_data, "near: Locations within a distance of a point, in km, m or miles", "[server][search][near]") {
  auto location = [&](const std::string& id, std::string_view latitude, std::string_view longitude) {
    put_ok("Location/" + id, R"({"resourceType":"Location","id":")" + id + R"(","name":")" + id + R"(","position":{"latitude":)" +
                                 std::string(latitude) + R"(,"longitude":)" + std::string(longitude) + "}}");
  };
  location("leeds", "53.7997", "-1.5492");
  location("harrogate", "53.9921", "-1.5418");
  location("york", "53.9600", "-1.0873");
  location("london", "51.5072", "-0.1276");
  put_ok("Location/nowhere", R"({"resourceType":"Location","id":"nowhere","name":"no position"})");
  CHECK(set("Location?near=53.7997|-1.5492|25|km") == ids_t{"leeds", "harrogate"});
  CHECK(set("Location?near=53.7997|-1.5492|21|km") == ids_t{"leeds"});
  CHECK(set("Location?near=53.7997|-1.5492|21500|m") == ids_t{"leeds", "harrogate"});
  CHECK(set("Location?near=53.7997|-1.5492|22|[mi_i]") == ids_t{"leeds", "harrogate", "york"});  // 35.4 km
  CHECK(set("Location?near=53.7997|-1.5492|21|[mi_i]") == ids_t{"leeds", "harrogate"});  // 33.8 km
  CHECK(set("Location?near=53.7997|-1.5492|300") == ids_t{"leeds", "harrogate", "york", "london"});  // km by default
  CHECK(set("Location?near=53.7997|-1.5492") == ids_t{"leeds"});  // 10 km without a distance
  CHECK(set("Location?near=53.7997|-1.5492|0") == ids_t{"leeds"});  // the point itself
  // Metres are metres: a point 5.6 m north of Leeds is 5 m away from nothing stored, 6 m from Leeds.
  CHECK(set("Location?near=53.79975|-1.5492|5|m").empty());
  CHECK(set("Location?near=53.79975|-1.5492|6|m") == ids_t{"leeds"});
  CHECK(set("Location?near=51.5|-0.13|5,53.99|-1.54|1") == ids_t{"london", "harrogate"});  // OR
  // From Leeds's antipode: Leeds is 20,015.1 km away (half the circumference), the others a little less.
  CHECK(set("Location?near=-53.7997|178.4508|20016") == ids_t{"leeds", "harrogate", "york", "london"});
  CHECK(set("Location?near=-53.7997|178.4508|20014") == ids_t{"harrogate", "york", "london"});
  CHECK(set("Location?near:missing=true") == ids_t{"nowhere"});
  CHECK(set("Location?near=53.7997|-1.5492|25&name=york").empty());
  for (std::string bad : {"53.8", "91|0|1", "53.8|-181|1", "53.8|x|1", "53.8|-1.5|-1", "53.8|-1.5|1|furlong", "53.8|-1.5|1|km|x"})
    CHECK(error_ids("Location?near=" + bad) == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Location?_sort=near") == std::vector<std::string>{"search-parameter-invalid"});
  // An update moves it, a delete removes it.
  location("york", "53.80", "-1.55");
  CHECK(set("Location?near=53.7997|-1.5492|1") == ids_t{"leeds", "york"});
  REQUIRE(del("/fhir/Location/york").status() == 200);
  CHECK(set("Location?near=53.7997|-1.5492|1") == ids_t{"leeds"});
}

TEST_CASE_METHOD(search_data, "_include and _revinclude, with :iterate, * and no duplicates", "[server][search][include]") {
  auto r = search("Observation?code=8867-4&_include=Observation:subject");
  CHECK(ids_of(r) == std::vector<std::string>{"o2"});
  CHECK(ids_of(r, "include") == std::vector<std::string>{"p1"});
  CHECK(set("Observation?code=8867-4&_include=Observation:subject&_include:iterate=Patient:general-practitioner", "include") ==
        ids_t{"p1", "org1"});
  CHECK(set("Observation?code=8867-4&_include=Observation:subject&_include=Patient:general-practitioner", "include") == ids_t{"p1"});
  CHECK(set("Observation?code=8867-4&_include=*", "include") == ids_t{"p1"});
  CHECK(set("Observation?code=8867-4&_include=Observation:subject:Group", "include").empty());
  CHECK(set("Patient?_id=p1&_revinclude=Observation:subject", "include") == ids_t{"o1", "o2"});
  CHECK(set("Patient?_id=p1&_revinclude=RiskAssessment:subject&_revinclude=Observation:patient", "include") == ids_t{"o1", "o2", "ra1"});
  // A resource that is both a match and an include target appears once, as a match.
  auto both = search("?_type=Patient,Organization&_id=p1,org1&_include=Patient:general-practitioner");
  CHECK(ids_of(both).size() == 2);
  CHECK(ids_of(both, "include").empty());
  auto each = search("Observation?subject=p1&_include=Observation:subject");
  CHECK(ids_of(each, "include") == std::vector<std::string>{"p1"});
}

TEST_CASE_METHOD(search_data, "_sort: keys, descending, several keys, missing values last", "[server][search][sort]") {
  CHECK(ids("Patient?_sort=birthdate") == std::vector<std::string>{"p1", "p3", "p2"});
  CHECK(ids("Patient?_sort=-birthdate") == std::vector<std::string>{"p2", "p3", "p1"});
  CHECK(ids("Patient?_sort=family") == std::vector<std::string>{"p3", "p1", "p2"});
  CHECK(ids("Patient?_sort=gender,-birthdate") == std::vector<std::string>{"p2", "p1", "p3"});  // no gender: last
  CHECK(ids("Patient?_sort=-_id") == std::vector<std::string>{"p3", "p2", "p1"});
  CHECK(ids("Observation?_sort=date&subject=p1") == std::vector<std::string>{"o2", "o1"});
}

TEST_CASE_METHOD(search_data, "paging: next and previous links, stable while data changes", "[server][search][paging]") {
  auto page1 = search("Patient?_sort=birthdate&_count=1");
  CHECK(ids_of(page1) == std::vector<std::string>{"p1"});
  CHECK(link(page1, "previous").empty());
  CHECK_FALSE(link(page1, "first").empty());
  // A patient born before everyone, created after page 1: not on later pages (nor page 1's successors).
  put_ok("Patient/p0", R"({"resourceType":"Patient","id":"p0","birthDate":"1900-01-01"})");
  // p3 changes but keeps its place; p2 is deleted.
  put_ok("Patient/p3", R"({"resourceType":"Patient","id":"p3","name":[{"family":"Jones"}],"birthDate":"1970-12-31","gender":"female"})");
  auto page2 = search(target_of(link(page1, "next")).substr(6));
  CHECK(ids_of(page2) == std::vector<std::string>{"p3"});
  REQUIRE(del("/fhir/Patient/p2").status() == 200);
  auto page3 = search(target_of(link(page2, "next")).substr(6));
  CHECK(ids_of(page3).empty());
  auto back = search(target_of(link(page2, "previous")).substr(6));
  CHECK(ids_of(back) == std::vector<std::string>{"p1"});
  // A fresh search sees the new state.
  CHECK(ids("Patient?_sort=birthdate") == std::vector<std::string>{"p0", "p1", "p3"});

  // Walking every page of an unsorted search yields every match once.
  std::vector<std::string> seen;
  auto page = search("Observation?_count=2");
  for (int i = 0; i < 10; ++i) {
    for (auto& id : ids_of(page)) seen.push_back(id);
    auto next = link(page, "next");
    if (next.empty()) break;
    page = search(target_of(next).substr(6));
  }
  CHECK(seen == std::vector<std::string>{"o1", "o2", "o3", "o4"});
  // A page link belongs to its search (and caller, page_cursor.hpp): reused for another, altered or
  // made up, it is 404.
  auto token = link(search("Observation?_count=1"), "next");
  auto foreign = token.substr(token.find("_page_token="));
  for (const std::string& target : {"Patient?_count=1&" + foreign, "Observation?_count=2&" + foreign, std::string("Patient?_page_token=garbage"),
                                    "Observation?_count=1&" + foreign.substr(0, foreign.size() - 2) + "AA"}) {
    auto refused = get("/fhir/" + target);
    INFO(target << "\n" << refused.http.body);
    CHECK(refused.status() == 404);
    CHECK(refused.issue_ids() == std::vector<std::string>{"page-link-invalid"});
  }
  CHECK(get("/fhir/Observation?_count=1&" + foreign).status() == 200);
}

TEST_CASE_METHOD(search_data, "_count, _total and _summary=count", "[server][search][paging]") {
  auto r = search("Observation?_count=1");
  CHECK(ids_of(r).size() == 1);
  CHECK(r.json().find("total") == nullptr);  // not asked for, and not free
  CHECK(search("Observation?_count=1&_total=accurate").json().find("total")->as_number().text == "4");
  CHECK(search("Observation").json().find("total")->as_number().text == "4");  // one page: known for free
  auto count = search("Observation?_summary=count&status=final");
  CHECK(count.json().find("total")->as_number().text == "3");
  CHECK(count.json().find("entry") == nullptr);
  CHECK(ids("Observation?_count=0").empty());
}

TEST_CASE_METHOD(search_data, "_summary and _elements return tagged subsets", "[server][search][summary]") {
  auto summary = search("Patient?_id=p1&_summary=true").json();
  const auto& patient = *summary.find("entry")->as_array()[0].find("resource");
  CHECK(patient.find("name") != nullptr);
  CHECK(patient.find("text") == nullptr);
  CHECK(patient.find("meta")->find("tag")->as_array().back().find_string("code")->compare("SUBSETTED") == 0);
  auto elements = search("Patient?_id=p1&_elements=birthDate").json();
  const auto& subset = *elements.find("entry")->as_array()[0].find("resource");
  CHECK(subset.find("birthDate") != nullptr);
  CHECK(subset.find("name") == nullptr);
  CHECK(subset.find("id") != nullptr);
}

TEST_CASE_METHOD(search_data, "POST _search with a form body gives the same answer as GET", "[server][search][post]") {
  auto form = std::vector<server::http::header>{{"Content-Type", "application/x-www-form-urlencoded"}};
  auto posted = post("/fhir/Observation/_search", "code=http%3A%2F%2Floinc.org%7C29463-7&date=ge2024", form);
  REQUIRE(posted.status() == 200);
  CHECK(search_data::ids_of(posted) == ids("Observation?code=http://loinc.org|29463-7&date=ge2024"));
  auto system = post("/fhir/_search", "_type=Patient&family=smi", form);
  CHECK(search_data::ids_of(system) == std::vector<std::string>{"p1"});
  CHECK(post("/fhir/Observation/_search", "code=x", {{"Content-Type", "application/json"}}).status() == 415);
}

TEST_CASE_METHOD(search_data, "deleted and updated resources: only current versions are found", "[server][search]") {
  put_ok("Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"Brown"}],"birthDate":"1970-03-15"})");
  CHECK(set("Patient?family=smith").empty());
  CHECK(set("Patient?family=brown") == ids_t{"p1"});
  REQUIRE(del("/fhir/Observation/o1").status() == 200);
  CHECK(set("Observation?code=29463-7") == ids_t{"o3"});
  CHECK(set("Observation?_id=o1").empty());
}

// Long searches are bounded by the parser (values per parameter, values and parameters per search, chain
// width), so what it accepts the store can run: 200 up to each limit, 400 beyond, never a 500.
TEST_CASE_METHOD(search_data, "large searches: answered up to the limits, 400 beyond them, never 500", "[server][search][errors]") {
  auto form = std::vector<server::http::header>{{"Content-Type", "application/x-www-form-urlencoded"}};
  auto ored = [](std::string_view parameter, std::string_view value, std::size_t n) {
    std::string body(parameter);
    body += '=';
    for (std::size_t i = 0; i < n; ++i) body += (i ? "," : "") + std::string(value) + fmt::format("{:03}", i);
    return body;
  };
  for (auto [type, parameter, value] : {std::tuple{"Patient", "_id", "p"}, {"Patient", "gender", "male"}, {"Patient", "family", "smi"},
                                        {"Patient", "birthdate", "ge1"}, {"Patient", "general-practitioner", "Organization/o"},
                                        {"Patient", "identifier", "https://fhir.nhs.uk/Id/nhs-number|9"},
                                        {"Observation", "value-quantity", "lt1"}, {"Observation", "code-value-quantity", "8867-4$lt"},
                                        {"Location", "near", "53.8|-1.55|"}}) {
    auto ok = post(std::string("/fhir/") + type + "/_search", ored(parameter, value, 1000), form);
    INFO(type << "?" << parameter << " x1000: " << ok.http.body.substr(0, 300));
    CHECK(ok.status() == 200);
    auto refused = post(std::string("/fhir/") + type + "/_search", ored(parameter, value, 1001), form);
    CHECK(refused.status() == 400);
  }
  // :above seeks each of a value's paths: fewer values, and paths, than other parameters.
  std::string deep = "http://acme.org/fhir" + std::string(60, '/') + "x";
  CHECK(post("/fhir/ValueSet/_search", ored("url:above", deep, 100), form).status() == 200);
  CHECK(post("/fhir/ValueSet/_search", ored("url:above", deep, 101), form).status() == 400);
  CHECK(error_ids("ValueSet?url:above=http://acme.org" + std::string(70, '/')) == std::vector<std::string>{"search-parameter-invalid"});
  std::string many;
  for (int i = 0; i < 100; ++i) many += (i ? "&" : "") + std::string("family=s") + (i % 2 ? "m" : "");
  CHECK(post("/fhir/Patient/_search", many, form).status() == 200);
  CHECK(post("/fhir/Patient/_search", many + "&family=x", form).status() == 400);
  // Every hop without :Type multiplies the paths a chain follows; a first hop of many types is fine.
  CHECK(get("/fhir/Observation?subject.general-practitioner.name=leeds").status() == 200);
  CHECK(get("/fhir/Provenance?target.patient=Patient/p1").status() != 400);  // the access gate then decides (403 here)
  CHECK(error_ids("VerificationResult?target.composed-of.derived-from.derived-from._id=x") ==
        std::vector<std::string>{"search-parameter-invalid"});
  // What multiplies values by the types it reaches (a system search, _has, chains) is answered or is a
  // 400 naming the search as too large: never a 500.
  auto answered_or_too_large = [&](const std::string& target, const std::string& body) {
    auto r = post(target, body, form);
    INFO(target << " " << body.substr(0, 120) << ": " << r.http.body.substr(0, 300));
    CHECK((r.status() == 200 || (r.status() == 400 && r.http.body.find("search-too-large") != std::string::npos)));
  };
  answered_or_too_large("/fhir/_search", ored("_has:Observation:subject:code", "http://loinc.org|8867-", 1000));
  answered_or_too_large("/fhir/_search", ored("_has:Observation:subject:_has:Provenance:target:agent", "Practitioner/x", 1000));
  answered_or_too_large("/fhir/Observation/_search", ored("subject.general-practitioner.partof.partof.name", "x", 1000));
  answered_or_too_large("/fhir/Organization/_search",
                        ored("_has:Patient:general-practitioner:_has:Observation:subject:_has:Provenance:target:_has:Provenance:entity:agent",
                             "Practitioner/x", 1000));
  std::string types = "_type=Patient";
  for (int i = 0; i < 600; ++i) types += ",Patient";
  CHECK(post("/fhir/_search", types + "&_has:Observation:subject:code=8867-4", form).status() == 200);
  std::string words;
  for (int i = 0; i < 32; ++i) words += (i ? " " : "") + std::string("w") + std::to_string(i);
  CHECK(post("/fhir/Patient/_search", "_content=" + words, form).status() == 200);
  CHECK(post("/fhir/Patient/_search", "_content=" + words + " x", form).status() == 400);
  CHECK(get("/fhir/Patient?_sort=family,given,birthdate,gender,_id,_lastUpdated,address,phone").status() == 200);
  CHECK(get("/fhir/Patient?_sort=family,given,birthdate,gender,_id,_lastUpdated,address,phone,email").status() == 400);
}

TEST_CASE_METHOD(search_data, "bad searches: 400 naming the parameter, unknown ones ignored unless strict", "[server][search][errors]") {
  CHECK(error_ids("Patient?birthdate=1970-13") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?birthdate=xx1970") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("RiskAssessment?probability=high") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?_count=many") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?_sort=shoesize") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?family:sounds-like=smith") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Observation?code:exact=x") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?gender:missing=maybe") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?_include=Patient:family") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("?_type=Pateint") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Patient?identifier=a|b|c") == std::vector<std::string>{"search-parameter-invalid"});

  // Lenient by default: ignored, reported in an outcome entry, left out of the self link.
  auto lenient = search("Patient?shoesize=9&family=smi");
  CHECK(search_data::ids_of(lenient) == std::vector<std::string>{"p1"});
  CHECK(search_data::ids_of(lenient, "outcome").size() == 1);
  CHECK(lenient.http.body.find("search-parameter-ignored") != std::string::npos);
  CHECK(link(lenient, "self").find("shoesize") == std::string::npos);
  CHECK(error_ids("Patient?shoesize=9", {{"Prefer", "handling=strict"}}) == std::vector<std::string>{"search-parameter-unknown"});
}

// search.html#contained: a chain continues inside the resources a resource contains ("#m1"), which are
// never matches themselves; it follows the reference, not any contained resource of the type.
TEST_CASE_METHOD(search_data, "chains continue inside contained resources", "[server][search][chain][contained]") {
  auto medication = [](std::string_view id, std::string_view code, std::string_view extra = "") {
    return R"({"resourceType":"Medication","id":")" + std::string(id) +
           R"(","code":{"coding":[{"system":"https://dmd.nhs.uk","code":")" + std::string(code) + R"("}]})" +
           std::string(extra) + "}";
  };
  auto statement = [](std::string_view id, std::string_view contained, std::string_view medication, std::string_view extra = "") {
    return R"({"resourceType":"MedicationStatement","id":")" + std::string(id) + R"(","status":"active",)" +
           (contained.empty() ? std::string() : R"("contained":[)" + std::string(contained) + "],") +
           R"("medicationReference":{"reference":")" + std::string(medication) + R"("},"subject":{"reference":"Patient/p1"})" +
           std::string(extra) + "}";
  };
  put_ok("Medication/real", medication("real", "111"));
  put_ok("MedicationStatement/ms1",
         statement("ms1", medication("m1", "111", R"(,"manufacturer":{"reference":"Organization/org1"})"), "#m1"));
  // ms2's medication (#m1) is 222; its other contained Medication (#m2, 111) is not its medication.
  put_ok("MedicationStatement/ms2", statement("ms2", medication("m1", "222") + "," + medication("m2", "111"), "#m1",
                                              R"(,"derivedFrom":[{"reference":"#m2"}])"));
  put_ok("MedicationStatement/ms3", statement("ms3", "", "Medication/real"));
  put_ok("Observation/o5", R"({"resourceType":"Observation","id":"o5","status":"final","code":{"text":"note"},
    "contained":[{"resourceType":"Patient","id":"pt","name":[{"family":"Taylor"}]}],"subject":{"reference":"#pt"}})");

  CHECK(set("MedicationStatement?medication.code=111") == ids_t{"ms1", "ms3"});
  CHECK(set("MedicationStatement?medication.code=https://dmd.nhs.uk|222") == ids_t{"ms2"});
  CHECK(set("MedicationStatement?medication:Medication.code=111,222") == ids_t{"ms1", "ms2", "ms3"});
  CHECK(set("MedicationStatement?medication._id=m1") == ids_t{"ms1", "ms2"});
  CHECK(set("MedicationStatement?medication._id=m2").empty());
  CHECK(set("MedicationStatement?medication.code:not=111") == ids_t{"ms2"});
  CHECK(set("MedicationStatement?medication.manufacturer:missing=false") == ids_t{"ms1"});
  // Out of a contained resource to a resource: two hops.
  CHECK(set("MedicationStatement?medication.manufacturer.name=leeds") == ids_t{"ms1"});
  CHECK(set("Observation?subject.family=taylor") == ids_t{"o5"});
  CHECK(set("Observation?patient:Patient.family=taylor") == ids_t{"o5"});
  // Contained resources are not matches, nor included (they travel inside their container).
  CHECK(set("Medication?code=111") == ids_t{"real"});
  CHECK(set("Patient?family=taylor").empty());
  CHECK(ids("MedicationStatement?_id=ms1&_include=MedicationStatement:medication", "include").empty());
  CHECK(set("MedicationStatement?medication=Medication/m1").empty());
  // A local reference is not a resource's id: a clear 400, not every container's "#m1".
  CHECK(error_ids("MedicationStatement?medication=%23m1") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(error_ids("Observation?subject=Patient/%23pt") == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(get("/fhir/Patient/%23pt/Observation").status() == 400);
  CHECK(ids("Observation?_id=o5,o1&_sort=subject") == std::vector<std::string>{"o1", "o5"});  // "#pt" is no key: last

  // _contained (search.html#contained): the containers of the contained resources that match, every
  // clause by the same contained resource; with both, the resources that match too.
  CHECK(set("Medication?code=111&_contained=true") == ids_t{"ms1", "ms2"});
  CHECK(set("Medication?code=111&_contained=both") == ids_t{"real", "ms1", "ms2"});
  CHECK(set("Medication?_contained=true") == ids_t{"ms1", "ms2"});
  CHECK(set("Medication?code=111&manufacturer:missing=false&_contained=true") == ids_t{"ms1"});
  CHECK(set("Medication?code=222&_id=m2&_contained=true").empty());  // m1 is 222, m2 is m2: not one resource
  CHECK(set("Patient?family=taylor&_contained=true") == ids_t{"o5"});
  CHECK(set("Medication?code=111&_contained=false") == ids_t{"real"});
  {
    auto r = search("Medication?code=111&_contained=true&_count=1&_total=accurate");
    CHECK(r.json().find("total")->as_number().text == "2");
    std::string next = link(r, "next");
    REQUIRE_FALSE(next.empty());
    auto second = get(target_of(next));
    REQUIRE(second.status() == 200);
    std::vector<std::string> both = ids_of(r);
    for (const std::string& id : ids_of(second)) both.push_back(id);
    CHECK(std::set<std::string>(both.begin(), both.end()) == ids_t{"ms1", "ms2"});
  }

  // _containedType=contained: the contained resources alone, each named by its container's URL and its
  // local id (search.html#contained); with both, the resources that match as well.
  const std::string ms = std::string(base) + "/MedicationStatement/";
  CHECK(full_urls("Medication?code=111&_contained=true&_containedType=contained") == ids_t{ms + "ms1#m1", ms + "ms2#m2"});
  CHECK(full_urls("Medication?code=111&_contained=both&_containedType=contained") ==
        ids_t{std::string(base) + "/Medication/real", ms + "ms1#m1", ms + "ms2#m2"});
  CHECK(full_urls("Medication?code=222&_contained=true&_containedType=contained") == ids_t{ms + "ms2#m1"});
  CHECK(full_urls("Patient?family=taylor&_contained=true&_containedType=contained") ==
        ids_t{std::string(base) + "/Observation/o5#pt"});
  CHECK(full_urls("Medication?code=111&_contained=true&_containedType=container") == ids_t{ms + "ms1", ms + "ms2"});
  CHECK(set("Medication?code=111&_containedType=contained") == ids_t{"real"});  // without _contained: no effect
  {
    auto alone = search("Medication?code=222&_contained=true&_containedType=contained");
    CHECK(alone.http.body.find("search-parameter-ignored") == std::string::npos);
    auto bundle = alone.json();
    const auto& resource = *bundle.find("entry")->as_array().at(0).find("resource");
    CHECK(*resource.find_string("resourceType") == "Medication");
    CHECK(*resource.find_string("id") == "m1");
    CHECK(*resource.find("code")->find("coding")->as_array().at(0).find_string("code") == "222");
    CHECK(resource.find("status") == nullptr);  // the statement's own elements are not there
    auto subset = search("Medication?code=111&manufacturer:missing=false&_contained=true&_containedType=contained&_elements=id");
    auto subset_bundle = subset.json();
    const auto& shown = *subset_bundle.find("entry")->as_array().at(0).find("resource");
    CHECK(*shown.find_string("id") == "m1");
    CHECK(shown.find("code") == nullptr);  // _elements applies to the contained resource
  }
  {
    // Two contained in one container are two matches, paged one by one; _sort=_id sorts by local id.
    auto r = search("Medication?_contained=true&_containedType=contained&_count=1&_total=accurate&_sort=-_id");
    CHECK(r.json().find("total")->as_number().text == "3");
    std::vector<std::string> seen = full_urls_in_order(r);
    CHECK(seen == std::vector<std::string>{ms + "ms2#m2"});
    for (std::string next = link(r, "next"); !next.empty() && seen.size() < 5;) {
      auto page = get(target_of(next));
      REQUIRE(page.status() == 200);
      for (const std::string& url : full_urls_in_order(page)) seen.push_back(url);
      next = link(page, "next");
    }
    CHECK(seen.size() == 3);
    CHECK(std::set<std::string>(seen.begin(), seen.end()) == ids_t{ms + "ms1#m1", ms + "ms2#m1", ms + "ms2#m2"});
  }
  {
    // Containers updated between pages (their contained resources indexed anew) keep their matches'
    // places: none skipped or repeated (paging by local id and container, not the renewed index keys).
    auto r = search("Medication?_contained=true&_containedType=contained&_count=1");
    std::vector<std::string> seen = full_urls_in_order(r);
    const std::string note = R"(,"note":[{"text":"reviewed"}])";
    put_ok("MedicationStatement/ms1",
           statement("ms1", medication("m1", "111", R"(,"manufacturer":{"reference":"Organization/org1"})"), "#m1", note));
    put_ok("MedicationStatement/ms2", statement("ms2", medication("m1", "222") + "," + medication("m2", "111"), "#m1",
                                                R"(,"derivedFrom":[{"reference":"#m2"}])" + note));
    for (std::string next = link(r, "next"); !next.empty() && seen.size() < 5;) {
      auto page = get(target_of(next));
      REQUIRE(page.status() == 200);
      for (const std::string& url : full_urls_in_order(page)) seen.push_back(url);
      next = link(page, "next");
    }
    CHECK(seen == std::vector<std::string>{ms + "ms1#m1", ms + "ms2#m1", ms + "ms2#m2"});
  }
  for (const char* refused : {"Medication?_contained=maybe", "Medication?_contained=true&_include=Medication:manufacturer",
                              "Medication?_contained=both&_sort=code", "Medication?_contained=true&manufacturer.name=leeds",
                              "Medication?_contained=true&_containedType=other", "Patient/p1/MedicationStatement?_contained=true",
                              "Patient?_contained=true&_content=taylor", "Patient?_contained=true&_lastUpdated=gt2020"})
    CHECK(error_ids(refused) == std::vector<std::string>{"search-parameter-invalid"});
  CHECK(ids("Medication?_contained=true&_sort=-_id") == std::vector<std::string>{"ms2", "ms1"});
  CHECK(ids("Medication?_contained=true&_sort=_id") == std::vector<std::string>{"ms1", "ms2"});
  // Only a search's results may be containers: conditional criteria select the type's own resources.
  CHECK(put("/fhir/Medication?code=111&_contained=true", medication("x", "111")).status() == 400);
  CHECK(post("/fhir/Medication", medication("x", "111"), {{"If-None-Exist", "code=111&_contained=true"}}).status() == 400);

  // An update replaces the contained resources' rows; a deletion removes them.
  put_ok("MedicationStatement/ms1", statement("ms1", medication("m1", "333"), "#m1"));
  CHECK(set("MedicationStatement?medication.code=111") == ids_t{"ms3"});
  CHECK(set("MedicationStatement?medication.code=333") == ids_t{"ms1"});
  CHECK(set("MedicationStatement?medication.manufacturer.name=leeds").empty());
  CHECK(set("Medication?code=333&_contained=true") == ids_t{"ms1"});
  CHECK(full_urls("Medication?code=333&_contained=true&_containedType=contained") == ids_t{ms + "ms1#m1"});
  int deleted = del("/fhir/MedicationStatement/ms1").status();
  CHECK((deleted == 200 || deleted == 204));
  CHECK(set("MedicationStatement?medication.code=333").empty());
  CHECK(set("Medication?code=333&_contained=true").empty());
}
