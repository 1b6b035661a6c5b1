#include "fhir/search/subset.hpp"

#include <algorithm>

#include "fhir/resource.hpp"

namespace fhir::search {

namespace {

constexpr std::string_view subsetted_system = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

void tag_subsetted(json::value& resource) {
  json::value* meta = resource.find("meta");
  if (!meta) {
    resource.as_object().push_back({"meta", json::value(json::object{})});
    meta = &resource.as_object().back().value;
  }
  json::value* tags = meta->find("tag");
  if (!tags) {
    meta->as_object().push_back({"tag", json::value(json::array{})});
    tags = &meta->as_object().back().value;
  }
  json::object tag;
  tag.push_back({"system", json::value(subsetted_system)});
  tag.push_back({"code", json::value("SUBSETTED")});
  tag.push_back({"display", json::value("Resource encoded in summary mode")});
  tags->as_array().emplace_back(std::move(tag));
}

}  // namespace

bool wants_subset(summary_mode mode, const std::vector<std::string>& elements) {
  return !elements.empty() || mode == summary_mode::true_ || mode == summary_mode::text || mode == summary_mode::data;
}

json::value subset(const json::value& resource, summary_mode mode, const std::vector<std::string>& elements,
                   const definitions::registry& definitions) {
  const auto* sd = definitions.find_type(resource_type_of(resource));
  if (!sd || !resource.is_object()) return resource;
  const auto& root = sd->root();
  json::object kept;
  for (const json::member& m : resource.as_object()) {
    std::string_view name = m.key;
    if (name.starts_with('_')) name.remove_prefix(1);  // a primitive's extensions follow the primitive
    const auto* property = root.properties.find(name);
    const definitions::element_definition* e = property ? property->element : nullptr;
    bool keep = name == "resourceType" || name == "id" || name == "meta" || (e && e->is_modifier);
    if (!keep && e) {
      if (!elements.empty()) {
        keep = std::find(elements.begin(), elements.end(), e->name) != elements.end() ||
               std::find(elements.begin(), elements.end(), name) != elements.end();
      } else {
        switch (mode) {
          case summary_mode::true_: keep = e->is_summary; break;
          case summary_mode::text: keep = name == "text" || e->min > 0; break;
          case summary_mode::data: keep = name != "text"; break;
          default: keep = true;
        }
      }
    }
    if (keep) kept.push_back(m);
  }
  json::value out(std::move(kept));
  tag_subsetted(out);
  return out;
}

}  // namespace fhir::search
