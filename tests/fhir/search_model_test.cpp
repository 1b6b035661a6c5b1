// fhir/search without a store: the parameters compiled per type, the values the indexer extracts, and
// the rules for strings, dates, numbers, references and escapes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <tuple>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/search/date_range.hpp"
#include "fhir/search/indexer.hpp"
#include "fhir/search/normalize.hpp"
#include "fhir/search/position.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/search/search_query.hpp"
#include "fhir/time.hpp"

namespace {

const fhir::search::search_parameters& parameters() {
  static const fhir::search::search_parameters p(fhir::definitions::r4());
  return p;
}

fhir::json::value parse(std::string_view text) {
  auto v = fhir::json::parse(text);
  REQUIRE(v.ok());
  return std::move(*v);
}

std::int64_t instant(std::string_view text) { return *fhir::parse_date_time(text); }

}  // namespace

TEST_CASE("search parameters keep only their type's branches of a shared expression", "[fhir][search]") {
  const auto* patient = parameters().find("AllergyIntolerance", "patient");
  REQUIRE(patient);
  CHECK(patient->expression == "AllergyIntolerance.patient");
  const auto* subject = parameters().find("Observation", "subject");
  REQUIRE(subject);
  CHECK(subject->type == fhir::search::param_type::reference);
  CHECK(std::find(subject->targets.begin(), subject->targets.end(), "Patient") != subject->targets.end());
  // Resource-level parameters apply to every type.
  CHECK(parameters().find("Observation", "_tag"));
  CHECK(parameters().find("Patient", "_lastUpdated"));
  // A composite knows its components.
  const auto* cvq = parameters().find("Observation", "code-value-quantity");
  REQUIRE(cvq);
  REQUIRE(cvq->components.size() == 2);
  CHECK(cvq->components[0].parameter->code == "code");
  CHECK(cvq->searchable());
}

// Every R4 composite is searchable: R4's DocumentReference `relationship` gives `relatesto` (a reference)
// the expression `code` and `relation` (a token) `target`; the definitions show the swap, and it is undone.
TEST_CASE("composites of a reference first and of three components; swapped component expressions undone", "[fhir][search]") {
  const auto* relationship = parameters().find("DocumentReference", "relationship");
  REQUIRE(relationship);
  REQUIRE(relationship->components.size() == 2);
  CHECK(relationship->components[0].parameter->code == "relatesto");
  CHECK(relationship->components[0].expression == "target");
  CHECK(relationship->components[1].parameter->code == "relation");
  CHECK(relationship->components[1].expression == "code");
  CHECK(relationship->searchable());
  // A well-formed composite is left as published.
  const auto* cvq = parameters().find("Observation", "code-value-quantity");
  CHECK(cvq->components[0].expression == "code");
  CHECK(cvq->components[1].expression == "value.ofType(Quantity)");

  fhir::search::indexer ix(parameters(), {});
  auto document = ix.extract(parse(R"({"resourceType":"DocumentReference","status":"current","content":[{"attachment":{}}],
    "relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/d1"}},
                 {"code":"appends","target":{"reference":"https://other.example/fhir/DocumentReference/d9"}},
                 {"code":"signs","target":{"identifier":{"system":"https://example.org/documents","value":"d7"}}}]})"));
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> rows;  // type, id, url, relation
  for (const auto& c : document.composites)
    if (c.code == "relationship") rows.emplace_back(c.system1, c.code1, c.url1, c.code2);
  std::sort(rows.begin(), rows.end());
  CHECK(rows == decltype(rows){{"", "", "https://other.example/fhir/DocumentReference/d9", "appends"},  // not ours: by URL
                               {"DocumentReference", "d1", "", "replaces"}});
  // (A target known only by an identifier has no id: its `:identifier` token is not a row.)

  const auto* variant = parameters().find("MolecularSequence", "chromosome-variant-coordinate");
  REQUIRE(variant);
  CHECK(variant->components.size() == 3);
  CHECK(variant->searchable());
  auto sequence = ix.extract(parse(R"({"resourceType":"MolecularSequence","coordinateSystem":0,
    "referenceSeq":{"chromosome":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/chromosome-human","code":"1"}]},
                    "genomeBuild":"GRCh38","windowStart":100,"windowEnd":200},
    "variant":[{"start":110,"end":120},{"start":150,"end":151}]})"));
  std::vector<std::tuple<std::string, double, double>> variants;  // chromosome, start, end
  for (const auto& c : sequence.composites)
    if (c.code == "chromosome-variant-coordinate") variants.emplace_back(c.code1, c.value2, c.value3);
  std::sort(variants.begin(), variants.end());
  CHECK(variants == decltype(variants){{"1", 110, 120}, {"1", 150, 151}});
  CHECK(std::count_if(sequence.composites.begin(), sequence.composites.end(),
                      [](const auto& c) { return c.code == "chromosome-window-coordinate"; }) == 1);
}

TEST_CASE("a reference names one of this server's resources when relative or under its base URL", "[fhir][search]") {
  using fhir::search::local_target_of;
  const std::vector<std::string> bases{"https://shcr.example/fhir/"};
  auto target = [&](std::string_view reference) {
    auto t = local_target_of(reference, bases);
    return t ? t->type + "/" + t->id : std::string("-");
  };
  CHECK(target("Patient/1") == "Patient/1");
  CHECK(target("Patient/1/_history/2") == "Patient/1");
  CHECK(target("https://shcr.example/fhir/Patient/1") == "Patient/1");
  CHECK(target("https://shcr.example/fhir/Patient/1/_history/3") == "Patient/1");
  CHECK(target("https://other.example/fhir/Patient/1") == "-");
  CHECK(target("https://shcr.example/fhirx/Patient/1") == "-");  // a longer path is not under the base
  CHECK(target("https://shcr.example/fhir") == "-");
  CHECK(target("urn:uuid:0c9d0b1e-4f0b-4d5a-9d8a-3f6f2e1c7a10") == "-");
  CHECK(target("#pt") == "-");
  CHECK(target("") == "-");
  CHECK(local_target_of("https://shcr.example/fhir/Patient/1", {}) == std::nullopt);  // no base: another server's
}

TEST_CASE("a parameter whose expression unions narrower ones shares their rows", "[fhir][search]") {
  const auto* combo = parameters().find("Observation", "combo-code");
  REQUIRE(combo);
  auto covers = combo->covered_by;
  std::sort(covers.begin(), covers.end());
  CHECK(covers == std::vector<std::string>{"code", "component-code"});
  CHECK_FALSE(combo->compiled.has_value());  // nothing of its own to index
  CHECK(combo->indexed());
  const auto* name = parameters().find("Organization", "name");
  REQUIRE(name);
  CHECK(name->covered_by == std::vector<std::string>{"phonetic"});
  REQUIRE(name->compiled.has_value());
  CHECK(name->compiled->text() == "Organization.alias");
  // The narrow ones keep all their rows.
  CHECK(parameters().find("Observation", "code")->covered_by.empty());
}

// search.html#string: `name` matches any part of a HumanName; `family` and `given` index two of those
// parts, so they hold those rows for `name` too, and `phonetic` (R4: Patient.name again) holds none.
TEST_CASE("a string parameter over names or addresses shares the rows of the parameters over their parts", "[fhir][search]") {
  auto covers_of = [](std::string_view type, std::string_view code) {
    const auto* p = parameters().find(type, code);
    REQUIRE(p);
    auto covers = p->covered_by;
    std::sort(covers.begin(), covers.end());
    return covers;
  };
  auto own_of = [](std::string_view type, std::string_view code) {
    const auto* p = parameters().find(type, code);
    return p && p->compiled ? p->compiled->text() : std::string("-");
  };
  using codes = std::vector<std::string>;
  CHECK(covers_of("Patient", "name") == codes{"family", "given"});
  CHECK(own_of("Patient", "name") == "Patient.name.prefix | Patient.name.suffix | Patient.name.text");
  CHECK(covers_of("Patient", "phonetic") == codes{"family", "given", "name"});
  CHECK(own_of("Patient", "phonetic") == "-");
  CHECK(parameters().find("Patient", "phonetic")->indexed());
  CHECK(covers_of("Practitioner", "name") == codes{"family", "given"});
  CHECK(covers_of("Patient", "address") == codes{"address-city", "address-country", "address-postalcode", "address-state"});
  CHECK(own_of("Patient", "address") == "Patient.address.district | Patient.address.line | Patient.address.text");
  CHECK(covers_of("Location", "address") == codes{"address-city", "address-country", "address-postalcode", "address-state"});
  // No parameter over a part of Person's names: `name` keeps them all, and `phonetic` reads them.
  CHECK(covers_of("Person", "name").empty());
  CHECK(own_of("Person", "name") == "Person.name");
  CHECK(covers_of("Person", "phonetic") == codes{"name"});
  // The parts' parameters store all their rows; a token over an address part (`address-use`) is no cover.
  CHECK(covers_of("Patient", "family").empty());
  CHECK(covers_of("Patient", "address-city").empty());

  // Each value once: `family` and `given` rows, and `name` only for the parts no other parameter has.
  fhir::search::indexer ix(parameters(), {});
  auto index = ix.extract(parse(R"({"resourceType":"Patient","name":[{"family":"Smith","given":["John","Paul"],
    "prefix":["Dr"],"text":"Dr John Smith"}],"address":[{"line":["1 Park Row"],"city":"Leeds","postalCode":"LS1 4AP"}]})"));
  std::multiset<std::string> rows;
  for (const auto& s : index.strings) rows.insert(s.code + "=" + s.exact);
  CHECK(rows == std::multiset<std::string>{"family=Smith", "given=John", "given=Paul", "name=Dr", "name=Dr John Smith",
                                           "address=1 Park Row", "address-city=Leeds", "address-postalcode=LS1 4AP"});
}

// A reference parameter over canonicals stores absolute values by URL alone; one over Reference elements
// (however filtered) by type and id too: only the first needs an own-base value matched by its URL.
TEST_CASE("reference parameters that may select canonicals are known", "[fhir][search]") {
  using stored = fhir::search::search_parameter::own_base_urls;
  auto urls = [](std::string_view type, std::string_view code) {
    const auto* p = parameters().find(type, code);
    REQUIRE(p);
    return p->urls;
  };
  CHECK(urls("Observation", "subject") == stored::type_id);
  CHECK(urls("Observation", "patient") == stored::type_id);           // Observation.subject.where(resolve() is Patient)
  CHECK(urls("MedicationRequest", "medication") == stored::type_id);  // (MedicationRequest.medication.ofType(Reference))
  CHECK(urls("DocumentReference", "relatesto") == stored::type_id);
  CHECK(urls("QuestionnaireResponse", "questionnaire") == stored::url);
  CHECK(urls("CarePlan", "instantiates-canonical") == stored::url);
  CHECK(urls("PlanDefinition", "depends-on") == stored::type_id_or_url);  // relatedArtifact.where(...).resource: not a plain path
}

TEST_CASE("the indexer extracts typed values once", "[fhir][search]") {
  fhir::search::indexer ix(parameters(), {});
  auto index = ix.extract(parse(R"({"resourceType":"Observation","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body Weight"}],"text":"Weight"},
    "subject":{"reference":"Patient/p1/_history/2"},"effectiveDateTime":"2024-02",
    "valueQuantity":{"value":72.50,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}})"));
  auto count = [](const auto& entries, std::string_view code) {
    return std::count_if(entries.begin(), entries.end(), [&](const auto& e) { return e.code == code; });
  };
  CHECK(count(index.tokens, "code") == 1);
  CHECK(count(index.tokens, "combo-code") == 0);  // stored under code
  auto code = std::find_if(index.tokens.begin(), index.tokens.end(), [](const auto& t) { return t.code == "code"; });
  CHECK(code->system == "http://loinc.org");
  CHECK(code->text == "body weight");
  auto subject = std::find_if(index.references.begin(), index.references.end(), [](const auto& r) { return r.code == "subject"; });
  REQUIRE(subject != index.references.end());
  CHECK(subject->target_type == "Patient");
  CHECK(subject->target_id == "p1");  // a versioned reference is found by the resource
  auto date = std::find_if(index.dates.begin(), index.dates.end(), [](const auto& d) { return d.code == "date"; });
  REQUIRE(date != index.dates.end());
  CHECK(date->low == instant("2024-02-01T00:00:00Z"));
  CHECK(date->high == instant("2024-03-01T00:00:00Z"));
  auto quantity = std::find_if(index.quantities.begin(), index.quantities.end(), [](const auto& q) { return q.code == "value-quantity"; });
  REQUIRE(quantity != index.quantities.end());
  CHECK(quantity->value == Approx(72.5));
  CHECK(quantity->low == Approx(72.495));
  CHECK(quantity->canonical_unit == "g");
  CHECK(quantity->canonical_value == Approx(72500));
  CHECK(count(index.composites, "code-value-quantity") == 1);
  CHECK(count(index.composites, "combo-code-value-quantity") == 0);
}

TEST_CASE("Location.near indexes positions in WGS84 range, and a near search knows its bounds", "[fhir][search]") {
  const auto* near = parameters().find("Location", "near");
  REQUIRE(near);
  CHECK(near->position);
  CHECK(near->searchable());
  fhir::search::indexer ix(parameters(), {});
  auto index = ix.extract(parse(R"({"resourceType":"Location","position":{"latitude":53.7997,"longitude":-1.5492,"altitude":40}})"));
  REQUIRE(index.positions.size() == 1);
  CHECK(index.positions[0].code == "near");
  CHECK(index.positions[0].latitude == Approx(53.7997));
  CHECK(index.positions[0].longitude == Approx(-1.5492));
  // Out of range (not WGS84 degrees): not indexed, so never found by distance.
  CHECK(ix.extract(parse(R"({"resourceType":"Location","position":{"latitude":91,"longitude":0}})")).positions.empty());
  CHECK(ix.extract(parse(R"({"resourceType":"Location","position":{"latitude":0,"longitude":-180.5}})")).positions.empty());
  // A unit vector: the poles and the prime meridian on the equator.
  auto pole = fhir::search::on_unit_sphere(90, 45);
  CHECK(pole.z == Approx(1));
  auto origin = fhir::search::on_unit_sphere(0, 0);
  CHECK(origin.x == Approx(1));
  fhir::search::near_value v{.latitude = 10, .longitude = 20, .distance_km = 0};
  CHECK(v.min_latitude() == Approx(10));
  CHECK(v.max_chord_squared() < 1e-14);
  v.distance_km = 30000;  // beyond half the circumference: the whole sphere
  CHECK(v.max_chord_squared() >= 4);
  CHECK(v.min_latitude() == -90);
}

TEST_CASE("string normalisation folds case and Latin accents", "[fhir][search]") {
  CHECK(fhir::search::normalize("  Zoë   O'Brien ") == "zoe o'brien");
  CHECK(fhir::search::normalize("Łukasz Ødegård Straße") == "lukasz odegard strasse");
  CHECK(fhir::search::normalize("Siân ÆTHEL") == "sian aethel");
  CHECK(fhir::search::normalize("東京") == "東京");  // other scripts are kept
  CHECK(fhir::search::normalize("Café €5 \xff") == "cafe €5 \xff");  // 3-byte UTF-8 and stray bytes too
  CHECK(fhir::search::prefix_upper_bound("smi") == "smj");
  CHECK(fhir::search::prefix_upper_bound("a\xff") == "b");
}

TEST_CASE("dates are ranges at their precision, in UTC", "[fhir][search]") {
  auto year = fhir::search::parse_date_range("2024");
  REQUIRE(year);
  CHECK(year->low == instant("2024-01-01T00:00:00Z"));
  CHECK(year->high == instant("2025-01-01T00:00:00Z"));
  auto december = fhir::search::parse_date_range("2023-12");
  CHECK(december->high == instant("2024-01-01T00:00:00Z"));
  auto leap = fhir::search::parse_date_range("2024-02-29");
  CHECK(leap->high - leap->low == 86'400'000);
  auto zoned = fhir::search::parse_date_range("2024-05-05T09:30:00+01:00");
  CHECK(zoned->low == instant("2024-05-05T08:30:00Z"));
  CHECK(zoned->high - zoned->low == 1000);
  CHECK_FALSE(fhir::search::parse_date_range("2024-13"));
  CHECK_FALSE(fhir::search::parse_date_range("yesterday"));
}

TEST_CASE("numbers carry the precision they were written with", "[fhir][search]") {
  auto hundred = fhir::search::parse_number_range("100");
  CHECK(hundred->low == Approx(99.5));
  CHECK(hundred->high == Approx(100.5));
  auto precise = fhir::search::parse_number_range("1.50");
  CHECK(precise->low == Approx(1.495));
  auto exponent = fhir::search::parse_number_range("1e2");
  CHECK(exponent->value == Approx(100));
  CHECK(exponent->high == Approx(150));
  CHECK_FALSE(fhir::search::parse_number_range("ten"));
  CHECK_FALSE(fhir::search::parse_number_range("1.5x"));
}

TEST_CASE("references split into type, id and version", "[fhir][search]") {
  auto relative = fhir::search::split_reference("Patient/123");
  CHECK((relative.type == "Patient" && relative.id == "123" && !relative.absolute));
  auto versioned = fhir::search::split_reference("Patient/123/_history/4");
  CHECK((versioned.id == "123" && versioned.version == "4"));
  auto absolute = fhir::search::split_reference("https://other.example/fhir/Observation/9");
  CHECK((absolute.absolute && absolute.type == "Observation" && absolute.id == "9"));
  auto urn = fhir::search::split_reference("urn:uuid:1b7c4c6c-4a8b-4b9a-8a55-0c2a2f0b9e11");
  CHECK((urn.absolute && urn.type.empty()));
}

TEST_CASE("escapes and separators in search values", "[fhir][search]") {
  CHECK(fhir::search::split_escaped(R"(a\,b,c)", ',') == std::vector<std::string>{"a,b", "c"});
  CHECK(fhir::search::split_escaped(R"(sys|co\|de)", '|') == std::vector<std::string>{"sys", "co|de"});
  CHECK(fhir::search::split_escaped(R"(x\\,y)", ',') == std::vector<std::string>{"x\\", "y"});
  auto q = fhir::search::parse_query(parameters(), "Observation",
                                     {{"code", R"(http://loinc.org|8867-4,http://snomed.info/sct|27113001)"}, {"date", "ge2024"}});
  REQUIRE(q.ok());
  REQUIRE(q->clauses.size() == 2);
  CHECK(q->clauses[0].values.size() == 2);
  CHECK(q->clauses[1].values[0].prefix == fhir::search::prefix::ge);
  auto bad = fhir::search::parse_query(parameters(), "Observation", {{"date", "gt2024-13"}});
  CHECK_FALSE(bad.ok());
}
