#include <catch2/catch.hpp>

#include <thread>

#include "fhir/definitions/r4.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/ucum.hpp"
#include "fhir/json/parse.hpp"

using namespace fhir;

namespace {

json::value parse(std::string_view text) {
  auto v = json::parse(text);
  REQUIRE(v.ok());
  return std::move(*v);
}

// Evaluates `expression` on `resource` and renders the result as "type:value" items.
std::vector<std::string> eval(std::string_view expression, const json::value& resource) {
  auto compiled = fhirpath::compile(expression, definitions::r4());
  INFO((compiled.ok() ? std::string() : compiled.error().summary()));
  REQUIRE(compiled.ok());
  fhirpath::environment env(definitions::r4());
  auto result = compiled->evaluate(resource, env);
  INFO((result.ok() ? std::string() : result.error().summary()));
  REQUIRE(result.ok());
  std::vector<std::string> out;
  for (const auto& i : *result) out.push_back(fhirpath::type_name(i) + ":" + fhirpath::to_display_string(i));
  return out;
}

const json::value empty = json::object{};

}  // namespace

TEST_CASE("syntax errors give the line, the column and what was expected", "[fhir][fhirpath]") {
  auto e = fhirpath::compile("Patient.name.where(use = 'official'", definitions::r4());
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().issues()[0].message_id == "fhirpath-syntax");
  CHECK_THAT(e.error().summary(), Catch::Contains("column 36") && Catch::Contains("expected ')'"));
  auto multi = fhirpath::compile("name\n  .given[\n", definitions::r4());
  CHECK_THAT(multi.error().summary(), Catch::Contains("line 3"));
  CHECK_THAT(fhirpath::compile("name.frobnicate()", definitions::r4()).error().summary(), Catch::Contains("unknown function 'frobnicate'"));
  CHECK_THAT(fhirpath::compile("substring()", definitions::r4()).error().summary(), Catch::Contains("takes 1 to 2 arguments"));
  CHECK_THAT(fhirpath::compile("'unterminated", definitions::r4()).error().summary(), Catch::Contains("unterminated string"));
}

TEST_CASE("expressions nested too deeply are refused, not a stack overflow (found by fuzzing)", "[fhir][fhirpath]") {
  auto repeat = [](std::string_view piece, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += piece;
    return out;
  };
  const std::string hostile[] = {
      repeat("(", 100000) + "1" + repeat(")", 100000),              // the parser's recursion
      repeat("-", 100000) + "1",                                    // unary signs
      "1" + repeat(" + 1", 100000),                                 // a left-deep tree built by a loop
      "Patient" + repeat(".name", 100000),                          // a long chain of members
      repeat("iif(true, ", 10000) + "1" + repeat(", 0)", 10000),    // function arguments
      "name" + repeat("[0]", 100000),                               // indexers
  };
  for (const std::string& text : hostile) {
    INFO(text.substr(0, 40));
    auto compiled = fhirpath::compile(text, definitions::r4());
    REQUIRE_FALSE(compiled.ok());
    CHECK_THAT(compiled.error().summary(), Catch::Contains("nests more than 256 levels deep"));
  }
  // Well within the limit, still fine.
  CHECK(eval(repeat("(", 100) + "1" + repeat(")", 100) + repeat(" + 1", 100), empty) == std::vector<std::string>{"System.Integer:101"});
}

TEST_CASE("decimal arithmetic is exact", "[fhir][fhirpath]") {
  CHECK(eval("0.1 + 0.2 = 0.3", empty) == std::vector<std::string>{"System.Boolean:true"});
  CHECK(eval("0.1 + 0.2", empty) == std::vector<std::string>{"System.Decimal:0.3"});
  CHECK(eval("1.50 * 2", empty) == std::vector<std::string>{"System.Decimal:3.00"});
  CHECK(eval("1 / 3", empty) == std::vector<std::string>{"System.Decimal:0.33333333"});
  CHECK(eval("12345678901234567890.5 + 0.5", empty) == std::vector<std::string>{"System.Decimal:12345678901234567891.0"});
}

TEST_CASE("quantities convert between the documented UCUM units", "[fhir][fhirpath][ucum]") {
  const char* equal[] = {
      "1 'kg' = 1000 'g'",        "500 'mg' = 0.5 'g'",       "1 'ug' = 0.001 'mg'",     "60 's' = 1 'min'",
      "1 'h' = 60 'min'",         "1 'd' = 24 'h'",           "1 'wk' = 7 'd'",          "1 'mm[Hg]' = 0.133322387415 'kPa'",
      "1 'L' = 1000 'mL'",        "1 'dL' = 100 'mL'",        "5.5 'mmol/L' = 0.0055 'mol/L'", "1 '[lb_av]' = 453.59237 'g'",
      "12 '[in_i]' = 1 '[ft_i]'", "1 '[in_i]' = 2.54 'cm'",   "1 '10*3/uL' = 1 '10*9/L'", "72 '/min' = 1.2 '/s'",
      "1 'kg/m2' = 0.1 'g/cm2'",  "100 '%' = 1 '1'",          "1 'km' = 1000 'm'",       "3 days = 72 'h'",
  };
  for (const char* e : equal) {
    INFO(e);
    CHECK(eval(e, empty) == std::vector<std::string>{"System.Boolean:true"});
  }
  CHECK(eval("1 'kg' = 1 'm'", empty).empty());         // different dimensions: not comparable
  CHECK(eval("1 month = 1 'mo'", empty).empty());       // a calendar month is not a UCUM month
  CHECK(eval("2 'mg' > 1500 'ug'", empty) == std::vector<std::string>{"System.Boolean:true"});
  CHECK(eval("(1.5 'kg' + 500 'g')", empty) == std::vector<std::string>{"System.Quantity:2.0 'kg'"});
  CHECK(fhirpath::ucum::resolve("mg{creatinine}/dL").has_value());
  CHECK_FALSE(fhirpath::ucum::resolve("furlongs").has_value());
}

TEST_CASE("choice elements navigate by their element name and type", "[fhir][fhirpath]") {
  auto obs = parse(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
                       "valueQuantity":{"value":142,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"},
                       "effectiveDateTime":"2024-01-01T10:00:00Z"})");
  CHECK(eval("Observation.value.ofType(Quantity).value", obs) == std::vector<std::string>{"FHIR.decimal:142"});
  CHECK(eval("Observation.value > 140 'mm[Hg]'", obs) == std::vector<std::string>{"System.Boolean:true"});
  CHECK(eval("Observation.effective is dateTime", obs) == std::vector<std::string>{"System.Boolean:true"});
  CHECK(eval("Observation.effective.ofType(Period)", obs).empty());
  auto strict = fhirpath::compile("Observation.valueQuantity.value", definitions::r4(), {.root_type = "Observation"});
  REQUIRE_FALSE(strict.ok());
  CHECK_THAT(strict.error().summary(), Catch::Contains("use value.ofType(Quantity)"));
}

TEST_CASE("resolve() finds contained resources and Bundle entries", "[fhir][fhirpath]") {
  auto patient = parse(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"org","name":"GP"}],
                           "managingOrganization":{"reference":"#org"}})");
  CHECK(eval("Patient.managingOrganization.resolve().name", patient) == std::vector<std::string>{"FHIR.string:GP"});

  auto bundle = parse(R"({"resourceType":"Bundle","type":"collection","entry":[
      {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"p1","name":[{"family":"Smith"}]}},
      {"fullUrl":"http://x/fhir/Observation/o1","resource":{"resourceType":"Observation","id":"o1","status":"final",
        "code":{"text":"x"},"subject":{"reference":"urn:uuid:1"}}},
      {"resource":{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"y"},"subject":{"reference":"Patient/p1"}}}]})");
  CHECK(eval("Bundle.entry.resource.ofType(Observation).subject.resolve().name.family", bundle) ==
        std::vector<std::string>{"FHIR.string:Smith", "FHIR.string:Smith"});
  CHECK(eval("Bundle.entry.resource.ofType(Observation).where(subject.resolve() is Patient).count()", bundle) ==
        std::vector<std::string>{"System.Integer:2"});
}

TEST_CASE("%context, %resource and user variables", "[fhir][fhirpath]") {
  auto patient = parse(R"({"resourceType":"Patient","id":"p","name":[{"given":["A","B"]}]})");
  auto compiled = fhirpath::compile("given.count() = 2 and %resource.id = 'p' and %limit = 'x'", definitions::r4());
  REQUIRE(compiled.ok());
  fhirpath::environment env(definitions::r4());
  env.set_string("limit", "x");
  auto names = fhirpath::compile("Patient.name", definitions::r4())->evaluate(patient, env);
  REQUIRE(names.ok());
  REQUIRE(names->size() == 1);
  fhirpath::item name = (*names)[0];  // points into `patient`, so it outlives the next evaluation
  auto result = compiled->evaluate(name, patient, env);
  REQUIRE(result.ok());
  REQUIRE(result->size() == 1);
  CHECK((*result)[0].as_boolean());
  CHECK_THAT(fhirpath::compile("%nope", definitions::r4())->evaluate(patient, env).error().summary(),
             Catch::Contains("unknown variable"));
}

TEST_CASE("primitive extensions and ids are navigable", "[fhir][fhirpath]") {
  auto patient = parse(R"({"resourceType":"Patient","birthDate":"1970-01-01","_birthDate":{"id":"bd",
      "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1970-01-01T05:00:00Z"}]}})");
  CHECK(eval("Patient.birthDate.extension(%`ext-patient-birthTime`).value", patient) ==
        std::vector<std::string>{"FHIR.dateTime:1970-01-01T05:00:00Z"});
  CHECK(eval("Patient.birthDate.id", patient) == std::vector<std::string>{"FHIR.string:bd"});
}

TEST_CASE("compiled expressions are shared between threads, one environment each", "[fhir][fhirpath][concurrency]") {
  auto patient = parse(R"({"resourceType":"Patient","name":[{"use":"official","given":["Ann"]},{"given":["Bo"]}]})");
  auto compiled = fhirpath::compile("Patient.name.where(use = 'official').given.first()", definitions::r4());
  REQUIRE(compiled.ok());
  std::atomic<int> wrong = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      fhirpath::environment env(definitions::r4());
      for (int i = 0; i < 2000; ++i) {
        auto r = compiled->evaluate(patient, env);
        if (!r.ok() || r->size() != 1 || fhirpath::to_display_string((*r)[0]) != "Ann") ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
}

TEST_CASE("regular expressions run in linear time", "[fhir][fhirpath][hostile]") {
  std::string s(100000, 'a');
  auto r = eval("'" + s + "!'.matches('(a+)+$')", empty);
  CHECK(r == std::vector<std::string>{"System.Boolean:false"});
}

TEST_CASE("decimal comparison is exact near the 64-bit fast path's limits", "[fhir][fhirpath]") {
  using fhir::fhirpath::decimal;
  auto d = [](const char* t) { return *decimal::parse(t); };
  CHECK(d("8589934591").compare(d("8589934591.000000000")) == 0);   // 2^33 - 1, scaled by 10^9
  CHECK(d("8589934592").compare(d("8589934591.999999999")) > 0);    // beyond the fast path
  CHECK(d("4503599627370496").compare(d("4503599627370495.999999999")) > 0);
  CHECK(d("-0.000000001").compare(d("0")) < 0);
  CHECK(d("104.6").compare(decimal::from_integer(100)) > 0);
}
