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

const json::value* find_contained(const json::value& container, std::string_view id) {
  const json::value* contained = container.find("contained");
  if (!contained || !contained->is_array() || id.empty()) return nullptr;
  for (const json::value& c : contained->as_array())
    if (id_of(c) == id) return &c;
  return nullptr;
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

std::string_view data_controller_of(const json::value& resource) {
  const json::value* meta = resource.find("meta");
  const json::value* tags = meta ? meta->find("tag") : nullptr;
  if (!tags || !tags->is_array()) return {};
  for (const json::value& tag : tags->as_array()) {
    const std::string* system = tag.find_string("system");
    const std::string* code = tag.find_string("code");
    if (system && code && *system == data_controller_system) return *code;
  }
  return {};
}

void set_data_controller(json::value& resource, std::string_view ods) {
  json::value* meta = resource.find("meta");
  if (!meta || !meta->is_object()) meta = &resource.set("meta", json::object{});
  json::value* tags = meta->find("tag");
  if (!tags || !tags->is_array()) tags = &meta->set("tag", json::array{});
  auto& list = tags->as_array();
  std::erase_if(list, [](const json::value& tag) {
    const std::string* system = tag.find_string("system");
    return system && *system == data_controller_system;
  });
  json::value tag = json::object{};
  tag.set("system", json::value(data_controller_system));
  tag.set("code", json::value(ods));
  list.push_back(std::move(tag));
}

}  // namespace fhir
