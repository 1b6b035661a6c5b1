#include "tests/support/json_compare.hpp"

#include <algorithm>

namespace fhir::testing {

bool same_content(const json::value& a, const json::value& b) {
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.as_array(), &y = b.as_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same_content(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.as_object(), &y = b.as_object();
    if (x.size() != y.size()) return false;
    for (const auto& m : x) {
      const json::value* other = b.find(m.key);
      if (!other || !same_content(m.value, *other)) return false;
    }
    return true;
  }
  return a == b;
}

json::value without_server_meta(json::value resource) {
  resource.erase("id");
  if (json::value* meta = resource.find("meta")) {
    meta->erase("versionId");
    meta->erase("lastUpdated");
    // The server records the writer's data controller as a tag (docs/adr/0007).
    if (json::value* tags = meta->find("tag"); tags && tags->is_array()) {
      std::erase_if(tags->as_array(), [](const json::value& tag) {
        const std::string* system = tag.find_string("system");
        return system && *system == "https://shared-care-record.github.io/fhir/CodeSystem/data-controller";
      });
      if (tags->as_array().empty()) meta->erase("tag");
    }
    if (meta->as_object().empty()) resource.erase("meta");
  }
  return resource;
}

}  // namespace fhir::testing
