#include <algorithm>
#include <map>
#include <set>

#include "fhir/validation/structural_validator.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;

namespace {
std::set<std::string> codes(const fhir::json::value& interactions) {
  std::set<std::string> out;
  for (const auto& i : interactions.as_array()) out.insert(*i.find_string("code"));
  return out;
}

std::set<std::string> codes_of_strings(const fhir::json::value& array) {
  std::set<std::string> out;
  for (const auto& v : array.as_array()) out.insert(v.as_string());
  return out;
}
}  // namespace

TEST_CASE("metadata returns a CapabilityStatement generated from what the server supports", "[server][capabilities]") {
  app_fixture app;
  auto r = app.get("/fhir/metadata");
  REQUIRE(r.status() == 200);
  CHECK(r.header("Content-Type") == "application/fhir+json; charset=utf-8");
  auto cs = r.json();
  CHECK(*cs.find_string("resourceType") == "CapabilityStatement");
  CHECK(*cs.find_string("fhirVersion") == "4.0.1");
  CHECK(*cs.find_string("kind") == "instance");
  const auto& rest = cs.find("rest")->as_array().at(0);
  CHECK(codes(*rest.find("interaction")) == std::set<std::string>{"transaction", "batch", "history-system", "search-system"});
  CHECK(rest.find("compartment")->as_array().at(0).as_string() == "http://hl7.org/fhir/CompartmentDefinition/patient");

  const auto& resources = rest.find("resource")->as_array();
  CHECK(resources.size() == fhir::definitions::r4().resource_types().size());
  auto patient = std::find_if(resources.begin(), resources.end(),
                              [](const auto& r) { return *r.find_string("type") == "Patient"; });
  REQUIRE(patient != resources.end());
  CHECK(codes(*patient->find("interaction")) ==
        std::set<std::string>{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"});
  CHECK(*patient->find_string("versioning") == "versioned-update");
  CHECK(patient->find("updateCreate")->as_bool());
  // Conditional interactions (conditional_test.cpp), declared by flags rather than as interactions.
  CHECK(patient->find("conditionalCreate")->as_bool());
  CHECK(patient->find("conditionalUpdate")->as_bool());
  CHECK(*patient->find_string("conditionalRead") == "full-support");
  CHECK(*patient->find_string("conditionalDelete") == "single");
  // Every indexed search parameter, with its type and definition.
  std::map<std::string, std::string> params;
  for (const auto& p : patient->find("searchParam")->as_array()) params[*p.find_string("name")] = *p.find_string("type");
  CHECK(params["family"] == "string");
  CHECK(params["identifier"] == "token");
  CHECK(params["birthdate"] == "date");
  CHECK(params["general-practitioner"] == "reference");
  CHECK(params["_id"] == "token");
  CHECK(params["_lastUpdated"] == "date");
  auto observation = std::find_if(resources.begin(), resources.end(),
                                  [](const auto& r) { return *r.find_string("type") == "Observation"; });
  std::set<std::string> observation_params;
  for (const auto& p : observation->find("searchParam")->as_array()) observation_params.insert(*p.find_string("name"));
  CHECK(observation_params.contains("code-value-quantity"));  // composites of a token and a quantity
  CHECK(observation_params.contains("component-code-value-quantity"));
  // Every R4 composite is searchable, so listed: a reference first, and three components.
  for (const auto& [type, code] : {std::pair{"DocumentReference", "relationship"}, {"MolecularSequence", "chromosome-variant-coordinate"}}) {
    auto declared = std::find_if(resources.begin(), resources.end(), [&](const auto& r) { return *r.find_string("type") == type; });
    REQUIRE(declared != resources.end());
    std::set<std::string> names;
    for (const auto& p : declared->find("searchParam")->as_array()) names.insert(*p.find_string("name"));
    CHECK(names.contains(code));
  }
  auto includes = codes_of_strings(*observation->find("searchInclude"));
  CHECK(includes.contains("Observation:subject"));
  CHECK(codes_of_strings(*patient->find("searchRevInclude")).contains("Observation:subject"));

  // AuditEvent is the audit trail: read and searched (by what the trail answers), never written.
  auto audit = std::find_if(resources.begin(), resources.end(), [](const auto& r) { return *r.find_string("type") == "AuditEvent"; });
  REQUIRE(audit != resources.end());
  CHECK(codes(*audit->find("interaction")) == std::set<std::string>{"read", "vread", "search-type", "history-type", "history-instance"});
  std::set<std::string> audit_params;
  for (const auto& p : audit->find("searchParam")->as_array()) audit_params.insert(*p.find_string("name"));
  CHECK(audit_params == std::set<std::string>{"_id", "_lastUpdated", "date", "patient", "entity", "agent", "type", "subtype", "action",
                                              "outcome"});
  CHECK(audit->find("searchInclude") == nullptr);
  CHECK_FALSE(audit->find("conditionalUpdate")->as_bool());
  CHECK_FALSE(codes_of_strings(*patient->find("searchRevInclude")).contains("AuditEvent:patient"));

  // The consent model: the security description, the Consent profile and documentation, and
  // $everything and $break-glass on Patient only.
  const auto* security = rest.find("security");
  REQUIRE(security);
  CHECK(fhir::testing::text(&security->find("service")->as_array()[0].find("coding")->as_array()[0], "code") == "OAuth");
  CHECK(fhir::testing::text(security, "description").find("$break-glass") != std::string::npos);
  auto consent = std::find_if(resources.begin(), resources.end(), [](const auto& r) { return *r.find_string("type") == "Consent"; });
  REQUIRE(consent != resources.end());
  CHECK(*consent->find_string("profile") == "https://shared-care-record.github.io/fhir/StructureDefinition/SHCR-Consent");
  CHECK(consent->find_string("documentation")->find("consent-kind") != std::string::npos);
  CHECK_FALSE(codes(*consent->find("interaction")).contains("delete"));
  CHECK(codes(*consent->find("interaction")).contains("update"));
  CHECK(*consent->find_string("conditionalDelete") == "not-supported");
  std::set<std::string> patient_operations;
  for (const auto& op : patient->find("operation")->as_array()) patient_operations.insert(*op.find_string("name"));
  CHECK(patient_operations == std::set<std::string>{"validate", "everything", "break-glass", "export"});
  // Bulk Data: export at the system level too (rest.operation), and on Group.
  std::set<std::string> system_operations;
  for (const auto& op : rest.find("operation")->as_array()) system_operations.insert(*op.find_string("definition"));
  CHECK(system_operations == std::set<std::string>{"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                                                   "https://shared-care-record.github.io/fhir/OperationDefinition/data-quality"});
  for (const auto& op : observation->find("operation")->as_array()) CHECK(*op.find_string("name") == "validate");
}

TEST_CASE("the CapabilityStatement is itself a valid resource", "[server][capabilities]") {
  app_fixture app;
  auto cs = app.get("/fhir/metadata").json();
  auto issues = fhir::validation::validate_structure(fhir::definitions::r4(), cs);
  CHECK_FALSE(fhir::has_errors(issues));
}
