#include "fhir/resource.hpp"

namespace fhir {

std::string_view resource_type_of(const json::value& resource) {
  const std::string* s = resource.find_string("resourceType");
  return s ? std::string_view(*s) : std::string_view();
}

std::string_view id_of(const json::value& resource) {
  const std::string* s = resource.find_string("id");
  return s ? std::string_view(*s) : std::string_view();
}

void set_id(json::value& resource, std::string_view id) {
  resource.erase("id");
  resource.set_at(1, "id", json::value(id));
}

void stamp_version(json::value& resource, std::string_view id, std::int64_t version, epoch_ms last_updated) {
  set_id(resource, id);

  json::value meta = json::object{};
  if (json::value* old = resource.find("meta"); old && old->is_object()) meta = std::move(*old);
  meta.erase("versionId");
  meta.erase("lastUpdated");
  meta.set_at(0, "versionId", json::value(std::to_string(version)));
  meta.set_at(1, "lastUpdated", json::value(format_instant(last_updated)));
  resource.erase("meta");
  resource.set_at(2, "meta", std::move(meta));
}

}  // namespace fhir
