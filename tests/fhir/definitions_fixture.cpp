#include "tests/fhir/definitions_fixture.hpp"

#include <catch2/catch.hpp>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"

namespace fhir::testing {

result<std::unique_ptr<definitions::registry>> try_registry_with(const std::vector<std::string>& resources) {
  auto r = std::make_unique<definitions::registry>();
  if (auto added = r->add_ndjson(definitions::r4_ndjson()); !added) return std::move(added).error();
  for (const std::string& text : resources) {
    auto parsed = json::parse(text);
    if (!parsed) return std::move(parsed).error();
    if (auto added = r->add(std::move(*parsed)); !added) return std::move(added).error();
  }
  if (auto linked = r->link(); !linked) return std::move(linked).error();
  return r;
}

std::unique_ptr<definitions::registry> registry_with(const std::vector<std::string>& resources) {
  auto r = try_registry_with(resources);
  if (!r) FAIL(r.error().summary());
  return std::move(*r);
}

}  // namespace fhir::testing
