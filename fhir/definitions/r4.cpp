#include "fhir/definitions/r4.hpp"

#include <stdexcept>

// Defined by r4_blob.S: the bytes of the compiled definitions file.
extern "C" const char fhir_r4_definitions_begin[];
extern "C" const char fhir_r4_definitions_end[];

namespace fhir::definitions {

std::string_view r4_ndjson() {
  return std::string_view(fhir_r4_definitions_begin,
                          static_cast<std::size_t>(fhir_r4_definitions_end - fhir_r4_definitions_begin));
}

namespace {
registry load_r4() {
  registry r;
  if (auto added = r.add_ndjson(r4_ndjson()); !added)
    throw std::runtime_error("embedded R4 definitions do not load: " + added.error().summary());
  if (auto linked = r.link(); !linked)
    throw std::runtime_error("embedded R4 definitions do not link: " + linked.error().summary());
  return r;
}
}  // namespace

const registry& r4() {
  static const registry instance = load_r4();
  return instance;
}

}  // namespace fhir::definitions
