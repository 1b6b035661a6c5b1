// Transaction and batch Bundles posted to the base (http.html#transaction): all-or-nothing processing in
// the specification's order (DELETE, POST, PUT, GET), the transaction-response, urn:uuid / urn:oid and
// conditional references, conditional entries (ifNoneExist, ifMatch, conditional update and delete),
// Prefer, rollback, idempotent re-feeds, and batches whose entries succeed or fail on their own.
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/json/value.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using namespace fhir::testing;
using fhir::testing::reply;

namespace {

namespace json = fhir::json;

const std::string mrn_system = "http://example.org/mrn";
const std::string nhs_system = "https://fhir.nhs.uk/Id/nhs-number";

// --- Resources -------------------------------------------------------------------------------------------

std::string patient(std::string_view id, std::string_view system, std::string_view value, std::string_view family = "Smith",
                    std::string_view birth_date = "1980-01-01") {
  return fhir::testing::patient_with_identifier(id, system, value, family, birth_date);
}

std::string mrn_patient(std::string_view id, std::string_view mrn, std::string_view family = "Smith") {
  return patient(id, mrn_system, mrn, family);
}

std::string nhs_patient(std::string_view id, std::string_view nhs_number, std::string_view family = "Smith") {
  return patient(id, nhs_system, nhs_number, family);
}

// A body weight Observation about `subject` (any reference text: "Patient/p1", a urn:uuid, a conditional
// reference).
std::string observation(std::string_view id, std::string_view subject) {
  std::string out = R"({"resourceType":"Observation",)";
  if (!id.empty()) out += R"("id":")" + std::string(id) + R"(",)";
  out += R"("status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},)"
         R"("subject":{"reference":")" +
         std::string(subject) +
         R"("},"effectiveDateTime":"2024-02-10T10:00:00Z",)"
         R"("valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}})";
  return out;
}

// --- Bundles ---------------------------------------------------------------------------------------------

// A Bundle entry: request `method url`, with `resource` and `full_url` when given, and extra members of
// `request` (e.g. `"ifNoneExist":"identifier=..."`) when given.
std::string entry(std::string_view method, std::string_view url, std::string_view resource = {},
                  std::string_view full_url = {}, std::string_view request_extra = {}) {
  std::string out = "{";
  if (!full_url.empty()) out += R"("fullUrl":")" + std::string(full_url) + R"(",)";
  if (!resource.empty()) out += R"("resource":)" + std::string(resource) + ",";
  out += R"("request":{"method":")" + std::string(method) + R"(","url":")" + std::string(url) + "\"";
  if (!request_extra.empty()) out += "," + std::string(request_extra);
  out += "}}";
  return out;
}

std::string bundle(std::string_view type, const std::vector<std::string>& entries) {
  std::string out = R"({"resourceType":"Bundle","type":")" + std::string(type) + R"(","entry":[)";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += ",";
    out += entries[i];
  }
  out += "]}";
  return out;
}

reply transact(const app_fixture& app, const std::string& body, std::vector<server::http::header> headers = {}) {
  return app.post("/fhir", body, std::move(headers));
}

// --- Reading answers -------------------------------------------------------------------------------------

const json::value* member(const json::value* v, std::string_view key) { return v ? v->find(key) : nullptr; }

// The response Bundle of a transaction or batch: HTTP 200, a Bundle of `type` with `entries` entries.
json::value response_bundle(const reply& r, std::string_view type, std::size_t entries) {
  INFO(r.http.body);
  REQUIRE(r.status() == 200);
  json::value b = r.json();
  REQUIRE(text(&b, "resourceType") == "Bundle");
  REQUIRE(text(&b, "type") == type);
  const json::value* e = b.find("entry");
  REQUIRE(e != nullptr);
  REQUIRE(e->is_array());
  REQUIRE(e->as_array().size() == entries);
  return b;
}

const json::value& entry_at(const json::value& bundle, std::size_t i) { return bundle.find("entry")->as_array().at(i); }

std::string status_of(const json::value& e) { return text(e.find("response"), "status"); }
std::string location_of(const json::value& e) { return text(e.find("response"), "location"); }
std::string etag_of(const json::value& e) { return text(e.find("response"), "etag"); }

// "Patient/abc/_history/1" -> "abc".
std::string id_in(std::string_view location) {
  auto slash = location.find('/');
  if (slash == std::string_view::npos) return {};
  auto end = location.find('/', slash + 1);
  return std::string(location.substr(slash + 1, end == std::string_view::npos ? std::string_view::npos : end - slash - 1));
}

// A failed transaction: one of `statuses`, a single OperationOutcome (not a Bundle), with an issue whose
// expression starts with "Bundle.entry[index]".
void check_failure(const reply& r, const std::vector<unsigned>& statuses, std::size_t index) {
  INFO("status " << r.status() << "\n" << r.http.body);
  bool status_ok = std::find(statuses.begin(), statuses.end(), r.status()) != statuses.end();
  CHECK(status_ok);
  auto outcome = r.json();
  CHECK(text(&outcome, "resourceType") == "OperationOutcome");
  std::string prefix = "Bundle.entry[" + std::to_string(index) + "]";
  auto expressions = r.issue_expressions();
  bool named = std::any_of(expressions.begin(), expressions.end(), [&](const std::string& e) { return e.starts_with(prefix); });
  INFO("expected an issue at " << prefix);
  CHECK(named);
}

const std::string body_weight = "Observation?code=http://loinc.org|29463-7";

}  // namespace

// --- Transactions ----------------------------------------------------------------------------------------

TEST_CASE("a transaction creates its entries and answers a transaction-response in request order", "[server][bundle]") {
  app_fixture app;
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Patient", mrn_patient("", "tx-1", "Posted"),
                                                         "urn:uuid:4b1c9b5e-7b7a-4f4e-9a57-0c2d6f1e8a01"),
                                                   entry("PUT", "Patient/tx-put", mrn_patient("tx-put", "tx-2", "Put")),
                                               }));
  auto b = response_bundle(r, "transaction-response", 2);

  const json::value& posted = entry_at(b, 0);
  CHECK(status_of(posted) == "201 Created");
  std::string id = id_in(location_of(posted));
  REQUIRE_FALSE(id.empty());
  CHECK(location_of(posted) == "Patient/" + id + "/_history/1");
  CHECK(etag_of(posted) == "W/\"1\"");
  const json::value* posted_resource = posted.find("resource");
  CHECK(text(posted_resource, "resourceType") == "Patient");
  CHECK(text(posted_resource, "id") == id);
  CHECK(text(member(posted_resource, "meta"), "versionId") == "1");
  CHECK_FALSE(text(posted.find("response"), "lastModified").empty());
  CHECK(text(posted.find("response"), "lastModified") == text(member(posted_resource, "meta"), "lastUpdated"));

  const json::value& put = entry_at(b, 1);
  CHECK(status_of(put) == "201 Created");
  CHECK(location_of(put) == "Patient/tx-put/_history/1");
  CHECK(etag_of(put) == "W/\"1\"");
  CHECK(text(put.find("resource"), "id") == "tx-put");
  CHECK_FALSE(text(put.find("response"), "lastModified").empty());

  auto stored = read_ok(app, "Patient/" + id);
  CHECK(text(first(stored.find("name")), "family") == "Posted");
  CHECK(app.get("/fhir/Patient/tx-put").status() == 200);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|tx-1") == 1);
  CHECK(history_size(app) == 2);
}

TEST_CASE("a transaction processes DELETE, then POST, then PUT, then GET whatever the entry order", "[server][bundle]") {
  app_fixture app;
  put_ok(app, "Patient/del1", mrn_patient("del1", "ord-del", "Deleted"));
  // Entry 2's ifNoneExist matches del1 unless the DELETE (entry 3) ran first; the search (entry 0) sees both
  // writes only if it runs last.
  auto r = transact(app, bundle("transaction",
                                {
                                    entry("GET", "Patient?identifier=http://example.org/mrn|ord"),
                                    entry("PUT", "Patient/put1", mrn_patient("put1", "ord", "Put")),
                                    entry("POST", "Patient", mrn_patient("", "ord", "Posted"), "urn:uuid:0e9f3f57-3c1a-4d39-8f0c-4c7a0b3c2d11",
                                          R"("ifNoneExist":"identifier=http://example.org/mrn|ord-del")"),
                                    entry("DELETE", "Patient/del1"),
                                }));
  auto b = response_bundle(r, "transaction-response", 4);
  CHECK(status_of(entry_at(b, 0)) == "200 OK");
  CHECK(status_of(entry_at(b, 1)) == "201 Created");
  CHECK(status_of(entry_at(b, 2)) == "201 Created");
  CHECK(status_of(entry_at(b, 3)) == "204 No Content");

  std::string posted_id = id_in(location_of(entry_at(b, 2)));
  REQUIRE_FALSE(posted_id.empty());
  CHECK(posted_id != "del1");
  const json::value* searchset = entry_at(b, 0).find("resource");
  REQUIRE(searchset != nullptr);
  CHECK(text(searchset, "type") == "searchset");
  CHECK(count_matches(*searchset) == 2);

  CHECK(app.get("/fhir/Patient/del1").status() == 410);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|ord") == 2);
}

TEST_CASE("transaction-response entries follow Prefer return=representation, minimal and OperationOutcome", "[server][bundle]") {
  app_fixture app;
  const std::string request = bundle("transaction", {
                                                        entry("POST", "Patient", mrn_patient("", "pref-1")),
                                                        entry("PUT", "Patient/pref2", mrn_patient("pref2", "pref-2")),
                                                    });
  SECTION("return=representation: the stored resources") {
    auto b = response_bundle(transact(app, request, {{"Prefer", "return=representation"}}), "transaction-response", 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const json::value& e = entry_at(b, i);
      CHECK(status_of(e) == "201 Created");
      CHECK(text(e.find("resource"), "resourceType") == "Patient");
      CHECK(text(member(e.find("resource"), "meta"), "versionId") == "1");
    }
  }
  SECTION("return=minimal: no resources, but status, location and etag") {
    auto b = response_bundle(transact(app, request, {{"Prefer", "return=minimal"}}), "transaction-response", 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const json::value& e = entry_at(b, i);
      CHECK(e.find("resource") == nullptr);
      CHECK(status_of(e) == "201 Created");
      CHECK_FALSE(location_of(e).empty());
      CHECK(etag_of(e) == "W/\"1\"");
    }
    CHECK(location_of(entry_at(b, 1)) == "Patient/pref2/_history/1");
  }
  SECTION("return=OperationOutcome: an OperationOutcome in each entry.response.outcome") {
    auto b = response_bundle(transact(app, request, {{"Prefer", "return=OperationOutcome"}}), "transaction-response", 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const json::value& e = entry_at(b, i);
      CHECK(e.find("resource") == nullptr);
      CHECK(status_of(e) == "201 Created");
      CHECK(text(member(e.find("response"), "outcome"), "resourceType") == "OperationOutcome");
    }
  }
  CHECK(app.get("/fhir/Patient/pref2").status() == 200);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|pref-1") == 1);
}

TEST_CASE("urn:uuid fullUrls become the new ids in every reference, in extensions and contained resources", "[server][bundle]") {
  app_fixture app;
  const std::string patient_uuid = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a";
  const std::string obs = R"({"resourceType":"Observation",
    "contained":[{"resourceType":"Specimen","id":"spec1","subject":{"reference":")" +
                          patient_uuid + R"("}}],
    "extension":[{"url":"http://example.org/fhir/StructureDefinition/recorded-for","valueReference":{"reference":")" +
                          patient_uuid + R"("}}],
    "status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},
    "subject":{"reference":")" + patient_uuid +
                          R"("},"specimen":{"reference":"#spec1"}})";
  // The Observations come before the Patient they reference.
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Observation", obs, "urn:uuid:9b7d2c4e-5a61-4f0e-b1a3-7e2f6c8d9a01"),
                                                   entry("PUT", "Observation/obs-put", observation("obs-put", patient_uuid)),
                                                   entry("POST", "Patient", nhs_patient("", "9000000009"), patient_uuid),
                                               }));
  auto b = response_bundle(r, "transaction-response", 3);
  CHECK(status_of(entry_at(b, 0)) == "201 Created");
  CHECK(status_of(entry_at(b, 1)) == "201 Created");
  CHECK(status_of(entry_at(b, 2)) == "201 Created");
  std::string patient_id = id_in(location_of(entry_at(b, 2)));
  std::string obs_id = id_in(location_of(entry_at(b, 0)));
  REQUIRE_FALSE(patient_id.empty());
  REQUIRE_FALSE(obs_id.empty());
  const std::string expected = "Patient/" + patient_id;

  // The response carries the rewritten resource too.
  CHECK(text(member(entry_at(b, 0).find("resource"), "subject"), "reference") == expected);

  auto stored = read_ok(app, "Observation/" + obs_id);
  CHECK(text(stored.find("subject"), "reference") == expected);
  CHECK(text(member(first(stored.find("extension")), "valueReference"), "reference") == expected);
  CHECK(text(member(first(stored.find("contained")), "subject"), "reference") == expected);
  CHECK(text(stored.find("specimen"), "reference") == "#spec1");

  auto put = read_ok(app, "Observation/obs-put");
  CHECK(text(put.find("subject"), "reference") == expected);
  CHECK(matches(app, "Observation?subject=" + expected) == 2);
}

TEST_CASE("urn:oid fullUrls are replaced like urn:uuid ones", "[server][bundle]") {
  app_fixture app;
  const std::string org_oid = "urn:oid:1.2.826.0.1.3680043.10.1";
  const std::string pat = R"({"resourceType":"Patient","identifier":[{"system":"http://example.org/mrn","value":"oid-1"}],
    "name":[{"family":"Smith"}],"generalPractitioner":[{"reference":")" +
                          org_oid + R"("}]})";
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Patient", pat, "urn:uuid:c0a8f1e2-3b4d-4c5e-8f6a-7b8c9d0e1f23"),
                                                   entry("POST", "Organization", R"({"resourceType":"Organization","name":"Leeds GP"})", org_oid),
                                               }));
  auto b = response_bundle(r, "transaction-response", 2);
  std::string patient_id = id_in(location_of(entry_at(b, 0)));
  std::string org_id = id_in(location_of(entry_at(b, 1)));
  REQUIRE_FALSE(patient_id.empty());
  REQUIRE_FALSE(org_id.empty());
  CHECK(location_of(entry_at(b, 1)) == "Organization/" + org_id + "/_history/1");
  auto stored = read_ok(app, "Patient/" + patient_id);
  CHECK(text(first(stored.find("generalPractitioner")), "reference") == "Organization/" + org_id);
}

TEST_CASE("a conditional reference in a transaction resolves to the one matching resource", "[server][bundle][conditional]") {
  app_fixture app;
  std::string patient_id = post_ok(app, "Patient", nhs_patient("", "9000000009"));
  post_ok(app, "Patient", nhs_patient("", "9434765919", "Other"));
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Observation",
                                                         observation("", "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009")),
                                               }));
  auto b = response_bundle(r, "transaction-response", 1);
  CHECK(status_of(entry_at(b, 0)) == "201 Created");
  std::string obs_id = id_in(location_of(entry_at(b, 0)));
  REQUIRE_FALSE(obs_id.empty());
  auto stored = read_ok(app, "Observation/" + obs_id);
  CHECK(text(stored.find("subject"), "reference") == "Patient/" + patient_id);
}

TEST_CASE("a conditional reference matching nothing fails the whole transaction with 400", "[server][bundle][conditional]") {
  app_fixture app;
  post_ok(app, "Patient", nhs_patient("", "9000000009"));
  std::size_t before = history_size(app);
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Patient", mrn_patient("", "cr-0")),
                                                   entry("POST", "Observation",
                                                         observation("", "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919")),
                                               }));
  check_failure(r, {400}, 1);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|cr-0") == 0);
  CHECK(matches(app, body_weight) == 0);
  CHECK(history_size(app) == before);
}

TEST_CASE("a conditional reference matching several resources fails the whole transaction with 412", "[server][bundle][conditional]") {
  app_fixture app;
  post_ok(app, "Patient", nhs_patient("", "9434765870", "First"));
  post_ok(app, "Patient", nhs_patient("", "9434765870", "Second"));
  std::size_t before = history_size(app);
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Patient", mrn_patient("", "cr-2")),
                                                   entry("POST", "Observation",
                                                         observation("", "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765870")),
                                               }));
  check_failure(r, {412}, 1);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|cr-2") == 0);
  CHECK(matches(app, body_weight) == 0);
  CHECK(history_size(app) == before);
}

TEST_CASE("ifNoneExist with one match creates nothing and references to its fullUrl point to the existing resource", "[server][bundle][conditional]") {
  app_fixture app;
  std::string existing = post_ok(app, "Patient", mrn_patient("", "ine-1", "Existing"));
  const std::string uuid = "urn:uuid:2f1d0c3b-4a59-4e68-9d7c-1b2a3c4d5e6f";
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Observation", observation("", uuid)),
                                                   entry("POST", "Patient", mrn_patient("", "ine-1", "New"), uuid,
                                                         R"("ifNoneExist":"identifier=http://example.org/mrn|ine-1")"),
                                               }));
  auto b = response_bundle(r, "transaction-response", 2);
  CHECK(status_of(entry_at(b, 0)) == "201 Created");
  CHECK(status_of(entry_at(b, 1)) == "200 OK");
  CHECK(location_of(entry_at(b, 1)) == "Patient/" + existing + "/_history/1");
  CHECK(etag_of(entry_at(b, 1)) == "W/\"1\"");

  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|ine-1") == 1);
  auto kept = read_ok(app, "Patient/" + existing);
  CHECK(text(first(kept.find("name")), "family") == "Existing");
  CHECK(text(member(&kept, "meta"), "versionId") == "1");

  std::string obs_id = id_in(location_of(entry_at(b, 0)));
  REQUIRE_FALSE(obs_id.empty());
  auto obs = read_ok(app, "Observation/" + obs_id);
  CHECK(text(obs.find("subject"), "reference") == "Patient/" + existing);
}

TEST_CASE("ifNoneExist matching several resources fails the whole transaction with 412", "[server][bundle][conditional]") {
  app_fixture app;
  post_ok(app, "Patient", mrn_patient("", "ine-2", "One"));
  post_ok(app, "Patient", mrn_patient("", "ine-2", "Two"));
  std::size_t before = history_size(app);
  const std::string uuid = "urn:uuid:7c6b5a49-3827-4615-9a0b-c1d2e3f4a5b6";
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Patient", mrn_patient("", "ine-2", "Three"), uuid,
                                                         R"("ifNoneExist":"identifier=http://example.org/mrn|ine-2")"),
                                                   entry("POST", "Observation", observation("", uuid)),
                                               }));
  check_failure(r, {412}, 0);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|ine-2") == 2);
  CHECK(matches(app, body_weight) == 0);
  CHECK(history_size(app) == before);
}

TEST_CASE("ifMatch on a PUT entry that is not the current version fails the whole transaction with 412", "[server][bundle][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/im1", mrn_patient("im1", "im-1", "One"));
  put_ok(app, "Patient/im1", mrn_patient("im1", "im-1", "Two"));  // version 2
  std::size_t before = history_size(app);
  auto with_if_match = [&](std::string_view etag) {
    return bundle("transaction", {
                                     entry("POST", "Patient", mrn_patient("", "im-new")),
                                     entry("PUT", "Patient/im1", mrn_patient("im1", "im-1", "Three"), {},
                                           R"("ifMatch":")" + std::string(etag) + "\""),
                                 });
  };
  auto stale = transact(app, with_if_match(R"(W/\"1\")"));
  check_failure(stale, {412}, 1);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|im-new") == 0);
  auto kept = app.get("/fhir/Patient/im1");
  CHECK(kept.header("ETag") == "W/\"2\"");
  auto kept_body = kept.json();
  CHECK(text(first(kept_body.find("name")), "family") == "Two");
  CHECK(history_size(app) == before);

  auto current = response_bundle(transact(app, with_if_match(R"(W/\"2\")")), "transaction-response", 2);
  CHECK(status_of(entry_at(current, 1)) == "200 OK");
  CHECK(etag_of(entry_at(current, 1)) == "W/\"3\"");
  CHECK(location_of(entry_at(current, 1)) == "Patient/im1/_history/3");
}

TEST_CASE("a conditional update entry creates when nothing matches and updates the single match", "[server][bundle][conditional]") {
  app_fixture app;
  auto created = response_bundle(
      transact(app, bundle("transaction", {entry("PUT", "Patient?identifier=http://example.org/mrn|cu-1", mrn_patient("", "cu-1", "First"))})),
      "transaction-response", 1);
  CHECK(status_of(entry_at(created, 0)) == "201 Created");
  std::string id = id_in(location_of(entry_at(created, 0)));
  REQUIRE_FALSE(id.empty());
  CHECK(location_of(entry_at(created, 0)) == "Patient/" + id + "/_history/1");

  auto updated = response_bundle(
      transact(app, bundle("transaction", {entry("PUT", "Patient?identifier=http://example.org/mrn|cu-1", mrn_patient("", "cu-1", "Second"))})),
      "transaction-response", 1);
  CHECK(status_of(entry_at(updated, 0)) == "200 OK");
  CHECK(location_of(entry_at(updated, 0)) == "Patient/" + id + "/_history/2");
  CHECK(etag_of(entry_at(updated, 0)) == "W/\"2\"");

  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|cu-1") == 1);
  auto stored = read_ok(app, "Patient/" + id);
  CHECK(text(first(stored.find("name")), "family") == "Second");
  CHECK(text(member(&stored, "meta"), "versionId") == "2");
}

TEST_CASE("DELETE and conditional DELETE entries delete their resources", "[server][bundle][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/d1", mrn_patient("d1", "d-1"));
  put_ok(app, "Patient/d2", mrn_patient("d2", "d-2"));
  put_ok(app, "Patient/keep", mrn_patient("keep", "d-3"));
  auto r = transact(app, bundle("transaction", {
                                                   entry("DELETE", "Patient/d1"),
                                                   entry("DELETE", "Patient?identifier=http://example.org/mrn|d-2"),
                                               }));
  auto b = response_bundle(r, "transaction-response", 2);
  CHECK(status_of(entry_at(b, 0)) == "204 No Content");
  CHECK(status_of(entry_at(b, 1)) == "204 No Content");
  CHECK(app.get("/fhir/Patient/d1").status() == 410);
  CHECK(app.get("/fhir/Patient/d2").status() == 410);
  CHECK(app.get("/fhir/Patient/keep").status() == 200);
}

TEST_CASE("GET entries read and search inside a transaction and see its writes", "[server][bundle]") {
  app_fixture app;
  put_ok(app, "Patient/g1", mrn_patient("g1", "g-1", "Read"));
  auto r = transact(app, bundle("transaction", {
                                                   entry("GET", "Patient/g1"),
                                                   entry("GET", "Patient?identifier=http://example.org/mrn|g-2"),
                                                   entry("PUT", "Patient/g2", mrn_patient("g2", "g-2", "Written")),
                                                   entry("GET", "Patient/g2"),
                                               }));
  auto b = response_bundle(r, "transaction-response", 4);

  const json::value& read_entry = entry_at(b, 0);
  CHECK(status_of(read_entry) == "200 OK");
  CHECK(text(read_entry.find("resource"), "resourceType") == "Patient");
  CHECK(text(read_entry.find("resource"), "id") == "g1");

  const json::value& search_entry = entry_at(b, 1);
  CHECK(status_of(search_entry) == "200 OK");
  const json::value* searchset = search_entry.find("resource");
  REQUIRE(searchset != nullptr);
  CHECK(text(searchset, "resourceType") == "Bundle");
  CHECK(text(searchset, "type") == "searchset");
  CHECK(count_matches(*searchset) == 1);
  CHECK(text(member(first(searchset->find("entry")), "resource"), "id") == "g2");

  CHECK(status_of(entry_at(b, 2)) == "201 Created");
  const json::value& read_own_write = entry_at(b, 3);
  CHECK(status_of(read_own_write) == "200 OK");
  CHECK(text(read_own_write.find("resource"), "id") == "g2");
  CHECK(text(first(member(read_own_write.find("resource"), "name")), "family") == "Written");
}

TEST_CASE("a transaction whose last entry is invalid rolls back every entry", "[server][bundle]") {
  app_fixture app;
  put_ok(app, "Patient/rb-del", mrn_patient("rb-del", "rb-0"));
  std::size_t before = history_size(app);
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Patient", mrn_patient("", "rb-1")),
                                                   entry("PUT", "Patient/rb2", mrn_patient("rb2", "rb-2")),
                                                   entry("DELETE", "Patient/rb-del"),
                                                   entry("POST", "Observation", observation("", "Patient/rb2")),
                                                   entry("POST", "Patient", patient("", mrn_system, "rb-4", "Smith", "1980-02-30")),
                                               }));
  check_failure(r, {400, 422}, 4);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|rb-1") == 0);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|rb-4") == 0);
  CHECK(app.get("/fhir/Patient/rb2").status() == 404);
  CHECK(app.get("/fhir/Patient/rb-del").status() == 200);
  CHECK(matches(app, body_weight) == 0);
  CHECK(history_size(app) == before);
}

TEST_CASE("re-feeding the same transaction of PUTs answers 200 OK and writes no new versions", "[server][bundle]") {
  app_fixture app;
  const std::string request = bundle("transaction", {
                                                        entry("PUT", "Patient/rf1", mrn_patient("rf1", "rf-1", "One")),
                                                        entry("PUT", "Patient/rf2", mrn_patient("rf2", "rf-2", "Two")),
                                                        entry("PUT", "Observation/rf-obs", observation("rf-obs", "Patient/rf1")),
                                                    });
  auto first_feed = response_bundle(transact(app, request), "transaction-response", 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(status_of(entry_at(first_feed, i)) == "201 Created");
  std::size_t after_first = history_size(app);
  CHECK(after_first == 3);

  auto second_feed = response_bundle(transact(app, request), "transaction-response", 3);
  const char* locations[] = {"Patient/rf1/_history/1", "Patient/rf2/_history/1", "Observation/rf-obs/_history/1"};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("entry " << i);
    CHECK(status_of(entry_at(second_feed, i)) == "200 OK");
    CHECK(etag_of(entry_at(second_feed, i)) == "W/\"1\"");
    CHECK(location_of(entry_at(second_feed, i)) == locations[i]);
  }
  CHECK(history_size(app) == after_first);
  CHECK(history_size(app, "/fhir/Patient/rf1/_history") == 1);
  auto stored = read_ok(app, "Observation/rf-obs");
  CHECK(text(member(&stored, "meta"), "versionId") == "1");
}

// --- Batches ---------------------------------------------------------------------------------------------

TEST_CASE("batch entries succeed or fail on their own", "[server][bundle]") {
  app_fixture app;
  auto r = transact(app, bundle("batch", {
                                             entry("POST", "Patient", mrn_patient("", "b-1")),
                                             entry("POST", "Patient", patient("", mrn_system, "b-bad", "Smith", "1980-02-30")),
                                             entry("GET", "Patient/missing"),
                                             entry("PUT", "Patient/b3", mrn_patient("b3", "b-3")),
                                         }));
  auto b = response_bundle(r, "batch-response", 4);

  CHECK(status_of(entry_at(b, 0)) == "201 Created");
  CHECK(status_of(entry_at(b, 3)) == "201 Created");
  CHECK(location_of(entry_at(b, 3)) == "Patient/b3/_history/1");

  const json::value& invalid = entry_at(b, 1);
  std::string invalid_status = status_of(invalid);
  INFO("invalid entry status: " << invalid_status);
  CHECK((invalid_status.starts_with("400") || invalid_status.starts_with("422")));
  CHECK(text(member(invalid.find("response"), "outcome"), "resourceType") == "OperationOutcome");
  CHECK(invalid.find("resource") == nullptr);

  const json::value& missing = entry_at(b, 2);
  CHECK(status_of(missing).starts_with("404"));
  CHECK(text(member(missing.find("response"), "outcome"), "resourceType") == "OperationOutcome");

  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|b-1") == 1);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|b-bad") == 0);
  CHECK(app.get("/fhir/Patient/b3").status() == 200);
}

// --- Errors ----------------------------------------------------------------------------------------------

TEST_CASE("a Bundle posted to the base must be a transaction or a batch", "[server][bundle][errors]") {
  app_fixture app;
  auto r = transact(app, R"({"resourceType":"Bundle","type":"collection","entry":[
    {"fullUrl":"urn:uuid:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","resource":)" +
                             mrn_patient("", "col-1") + R"(}]})");
  INFO(r.http.body);
  CHECK(r.status() == 400);
  auto outcome = r.json();
  CHECK(text(&outcome, "resourceType") == "OperationOutcome");
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|col-1") == 0);
  CHECK(history_size(app) == 0);
}

TEST_CASE("a transaction entry without request is rejected with 400 naming the entry", "[server][bundle][errors]") {
  app_fixture app;
  auto r = transact(app, bundle("transaction", {
                                                   entry("POST", "Patient", mrn_patient("", "nr-1")),
                                                   R"({"fullUrl":"urn:uuid:5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a","resource":)" +
                                                       mrn_patient("", "nr-2") + "}",
                                               }));
  check_failure(r, {400}, 1);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|nr-1") == 0);
  CHECK(history_size(app) == 0);
}

TEST_CASE("a transaction entry whose url names an unknown type is rejected naming the entry", "[server][bundle][errors]") {
  app_fixture app;
  SECTION("POST to an unknown type") {
    auto r = transact(app, bundle("transaction", {
                                                     entry("POST", "Patient", mrn_patient("", "ut-1")),
                                                     entry("POST", "Patiant", mrn_patient("", "ut-2")),
                                                 }));
    check_failure(r, {400, 404}, 1);
  }
  SECTION("GET of an unknown type") {
    auto r = transact(app, bundle("transaction", {
                                                     entry("POST", "Patient", mrn_patient("", "ut-1")),
                                                     entry("GET", "Patiant/1"),
                                                 }));
    check_failure(r, {400, 404}, 1);
  }
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|ut-1") == 0);
  CHECK(history_size(app) == 0);
}

TEST_CASE("a transaction that changes the same resource twice is rejected naming the second entry", "[server][bundle][errors]") {
  fhir::testing::app_fixture app;
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"twice","name":[{"family":"One"}]},"request":{"method":"PUT","url":"Patient/twice"}},
    {"request":{"method":"DELETE","url":"Patient/twice"}}]})";
  auto r = app.post("/fhir", bundle, {{"Content-Type", "application/fhir+json"}});
  CHECK(r.status() == 400);
  CHECK(r.issue_ids() == std::vector<std::string>{"bundle-duplicate-target"});
  CHECK(r.issue_expressions() == std::vector<std::string>{"Bundle.entry[1]"});
  CHECK(app.get("/fhir/Patient/twice").status() == 404);
}

TEST_CASE("one bad entry in a transaction of 10,000 is found, named by its index, and nothing is written", "[server][bundle][large]") {
  fhir::testing::app_fixture app;
  constexpr int count = 10000, bad = 7777;
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (int i = 0; i < count; ++i) {
    std::string id = "big-" + std::to_string(i);
    if (i) bundle += ',';
    bundle += R"({"resource":{"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"Bulk"}],"birthDate":")" +
              (i == bad ? std::string("1980-02-30") : std::string("1980-02-28")) + R"("},"request":{"method":"PUT","url":"Patient/)" + id +
              R"("}})";
  }
  bundle += "]}";
  auto r = app.post("/fhir", bundle, {{"Content-Type", "application/fhir+json"}});
  CHECK((r.status() == 400 || r.status() == 422));
  auto expressions = r.issue_expressions();
  REQUIRE(!expressions.empty());
  CHECK(expressions[0] == "Bundle.entry[" + std::to_string(bad) + "].resource.birthDate");
  CHECK(app.get("/fhir/Patient/big-0").status() == 404);
  CHECK(app.get("/fhir/Patient?family=Bulk&_summary=count").json().find("total")->as_number().text == "0");
}

TEST_CASE("Bundle text that is not an object with an entry array is rejected cleanly", "[server][bundle][errors]") {
  fhir::testing::app_fixture app;
  std::vector<server::http::header> json = {{"Content-Type", "application/fhir+json"}};
  CHECK(app.post("/fhir", R"({"resourceType":"Bundle","type":"batch","entry":{"request":{}}})", json).status() == 400);
  CHECK(app.post("/fhir", R"({"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"metadata"}},]})", json).status() == 400);
  CHECK(app.post("/fhir", R"([1,2,3])", json).status() == 400);
  CHECK(app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"metadata"}} {"x":1}]})", json).status() == 400);
  auto duplicate = app.post("/fhir", R"({"resourceType":"Bundle","type":"batch","entry":[],"entry":[]})", json);
  CHECK(duplicate.status() == 400);
  // A malformed entry of a batch fails alone.
  auto batch = app.post("/fhir", R"({"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"metadata"}},{"request":{}}]})", json);
  REQUIRE(batch.status() == 200);
  auto entries = batch.json().find("entry")->as_array();
  CHECK(*entries[0].find("response")->find_string("status") == "200 OK");
  CHECK(entries[1].find("response")->find_string("status")->starts_with("400"));
}

TEST_CASE("a conditional PUT entry whose resource id is not the match's fails the transaction", "[server][bundle][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/held", mrn_patient("held", "cond-9"));
  std::string tx = bundle("transaction", {entry("PUT", "Patient?identifier=" + mrn_system + "|cond-9", mrn_patient("other", "cond-9", "Changed"))});
  auto r = transact(app, tx);
  check_failure(r, {400}, 0);
  CHECK(r.issue_ids() == std::vector<std::string>{"id-mismatch"});
  auto held = read_ok(app, "Patient/held");
  CHECK(text(first(held.find("name")), "family") == "Smith");
  CHECK(matches(app, "Patient?_id=other") == 0);
}

TEST_CASE("a Bundle of more than 100,000 entries is refused before any entry is read", "[server][bundle][errors]") {
  app_fixture app;
  std::string body = R"({"resourceType":"Bundle","type":"batch","entry":[)";
  for (int i = 0; i <= 100000; ++i) body += i ? ",{}" : "{}";
  body += "]}";
  auto r = transact(app, body, {{"Content-Type", "application/fhir+json"}});
  CHECK(r.status() == 413);
  CHECK(r.issue_ids() == std::vector<std::string>{"bundle-too-many-entries"});
}

// Beyond its prepare-ahead budget (settings.transaction_prepare_ahead_bytes) a transaction prepares its
// entries inside the unit of work instead of before it; what it writes and answers must not change.
TEST_CASE("a transaction prepared inside its unit of work writes and answers exactly as one prepared ahead", "[server][bundle]") {
  std::size_t budget = GENERATE(std::size_t{0}, std::size_t{900}, std::size_t{16} << 20);
  INFO("prepare-ahead budget " << budget << " bytes");
  server::application_options options;
  options.transaction_prepare_ahead_bytes = budget;
  app_fixture app(options);
  const std::vector<server::http::header> feed = {{"Content-Type", "application/fhir+json"}, as_organisation("RVV")};
  const std::string controller = "https://shared-care-record.github.io/fhir/CodeSystem/data-controller|RVV";
  for (auto [id, mrn] : {std::pair{"gone", "pa-gone"}, {"kept", "pa-kept"}, {"exists", "pa-exists"}})
    REQUIRE(app.put("/fhir/Patient/" + std::string(id), mrn_patient(id, mrn, "Before"), feed).status() == 201);
  const std::string patient_uuid = "urn:uuid:5d0c8a52-8d8e-4d3f-9f0e-2a4b6c8d0e1f";
  const std::string conditional_uuid = "urn:uuid:7e1f9b63-9e9f-4e40-8a1f-3b5c7d9e1f20";
  const std::string obs_with_extension =
      R"({"resourceType":"Observation","extension":[{"url":"http://example.org/fhir/StructureDefinition/recorded-for",)"
      R"("valueReference":{"reference":")" + patient_uuid + R"("}}],"status":"final",)"
      R"("code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},)"
      R"("subject":{"reference":")" + patient_uuid + R"("}})";
  std::vector<server::http::header> headers = feed;
  headers.push_back({"Prefer", "return=representation"});
  auto r = transact(app,
                    bundle("transaction",
                           {
                               entry("POST", "Observation", observation("", patient_uuid), "urn:uuid:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
                               entry("POST", "Observation", obs_with_extension),
                               entry("PUT", "Observation/pa-put", observation("pa-put", patient_uuid)),
                               entry("PUT", "Patient/kept", mrn_patient("kept", "pa-kept", "After")),
                               entry("POST", "Patient", nhs_patient("", "9000000009"), patient_uuid),
                               entry("POST", "Patient", mrn_patient("", "pa-exists"), {}, R"("ifNoneExist":"identifier=http://example.org/mrn|pa-exists")"),
                               entry("DELETE", "Patient/gone"),
                               // A conditional update that creates, an entry waiting for its id, and one whose
                               // conditional reference resolves in the unit.
                               entry("PUT", "Patient?identifier=http://example.org/mrn|pa-cond", mrn_patient("", "pa-cond", "Cond"), conditional_uuid),
                               entry("POST", "Observation", observation("", conditional_uuid)),
                               entry("POST", "Observation", observation("", "Patient?identifier=http://example.org/mrn|pa-exists")),
                           }),
                    headers);
  auto b = response_bundle(r, "transaction-response", 10);
  CHECK(status_of(entry_at(b, 0)) == "201 Created");
  CHECK(status_of(entry_at(b, 1)) == "201 Created");
  CHECK(status_of(entry_at(b, 2)) == "201 Created");
  CHECK(status_of(entry_at(b, 3)) == "200 OK");
  CHECK(status_of(entry_at(b, 4)) == "201 Created");
  CHECK(status_of(entry_at(b, 5)) == "200 OK");  // ifNoneExist matched: nothing created
  CHECK(status_of(entry_at(b, 6)) == "204 No Content");
  CHECK(status_of(entry_at(b, 7)) == "201 Created");
  CHECK(status_of(entry_at(b, 8)) == "201 Created");
  CHECK(status_of(entry_at(b, 9)) == "201 Created");
  const std::string patient = "Patient/" + id_in(location_of(entry_at(b, 4)));
  const std::string conditional = "Patient/" + id_in(location_of(entry_at(b, 7)));
  REQUIRE(patient != "Patient/");
  REQUIRE(conditional != "Patient/");
  CHECK(text(member(entry_at(b, 0).find("resource"), "subject"), "reference") == patient);
  CHECK(text(member(entry_at(b, 3).find("resource"), "meta"), "versionId") == "2");
  CHECK(etag_of(entry_at(b, 3)) == "W/\"2\"");
  CHECK(text(member(entry_at(b, 8).find("resource"), "subject"), "reference") == conditional);
  CHECK(text(member(entry_at(b, 9).find("resource"), "subject"), "reference") == "Patient/exists");

  auto extended = read_ok(app, "Observation/" + id_in(location_of(entry_at(b, 1))));
  CHECK(text(extended.find("subject"), "reference") == patient);
  CHECK(text(member(first(extended.find("extension")), "valueReference"), "reference") == patient);
  CHECK(text(read_ok(app, "Observation/pa-put").find("subject"), "reference") == patient);
  CHECK(text(first(read_ok(app, "Patient/kept").find("name")), "family") == "After");
  CHECK(matches(app, "Observation?subject=" + patient) == 3);
  CHECK(matches(app, "Observation?subject=" + conditional) == 1);
  CHECK(matches(app, "Observation?subject=Patient/exists") == 1);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|pa-exists") == 1);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|pa-cond") == 1);
  CHECK(app.get("/fhir/Patient/gone").status() == 410);
  // Every written entry carries the sender's data-controller tag, however it was prepared.
  CHECK(matches(app, "Observation?_tag=" + controller) == 5);
  CHECK(matches(app, "Patient?_tag=" + controller) == 4);  // kept, exists, the new one and pa-cond

  // The conditional entry and the two waiting for matches were prepared inside the unit, and with a
  // small budget every entry after it (operators see how many: GET /metrics).
  std::string figures = app.get("/metrics").http.body;
  const std::string metric = "\nfhir_transaction_entries_prepared_in_unit_total ";
  REQUIRE(figures.find(metric) != std::string::npos);
  int in_unit = std::stoi(figures.substr(figures.find(metric) + metric.size()));
  if (budget == 0) CHECK(in_unit == 8);  // every entry written with a resource (the matched ifNoneExist is not)
  else if (budget == 900) CHECK((in_unit > 3 && in_unit < 8));
  else CHECK(in_unit == 3);

  // A failure after entries prepared inside the unit were written rolls them back too.
  std::size_t before = history_size(app);
  auto failed = transact(app,
                         bundle("transaction", {
                                                   entry("POST", "Observation", observation("", patient)),
                                                   entry("PUT", "Patient/pa-new", mrn_patient("pa-new", "pa-new")),
                                                   entry("PUT", "Patient/kept", mrn_patient("kept", "pa-kept", "Again"), {}, R"("ifMatch":"W/\"1\"")"),
                                               }),
                         feed);
  check_failure(failed, {412}, 2);
  CHECK(history_size(app) == before);
  CHECK(matches(app, "Observation?subject=" + patient) == 3);
  CHECK(app.get("/fhir/Patient/pa-new").status() == 404);
  CHECK(text(first(read_ok(app, "Patient/kept").find("name")), "family") == "After");
}
