#pragma once
// The FHIR R4 (4.0.1) base definitions, compiled into the binary at build time (see
// cmake/definitions.cmake and fhir/tools/defgen.cpp). Link the `fhir_r4` target to use them.

#include <string_view>

#include "fhir/definitions/registry.hpp"

namespace fhir::definitions {

// The embedded definitions as NDJSON (one conformance resource per line, documentation stripped).
std::string_view r4_ndjson();

// A registry holding the embedded definitions, loaded and linked on first use (thread-safe). Throws
// std::runtime_error if the embedded data does not load, which only a broken build can cause.
const registry& r4();

}  // namespace fhir::definitions
