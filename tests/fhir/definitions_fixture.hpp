#pragma once
// Registries for tests: the embedded R4 definitions plus a few resources written in the test.

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fhir/definitions/registry.hpp"
#include "fhir/result.hpp"

namespace fhir::testing {

// R4 plus `resources` (JSON texts), linked; fails like registry::link().
result<std::unique_ptr<definitions::registry>> try_registry_with(const std::vector<std::string>& resources);
// The same; a failure fails the test.
std::unique_ptr<definitions::registry> registry_with(const std::vector<std::string>& resources);

}  // namespace fhir::testing
