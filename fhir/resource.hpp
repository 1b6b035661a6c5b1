#pragma once
// Reading and stamping the resource-level elements the server owns: resourceType, id and meta.

#include <cstdint>
#include <string>
#include <string_view>

#include "fhir/json/value.hpp"
#include "fhir/time.hpp"

namespace fhir {

// The resourceType, or an empty view when absent or not a string.
std::string_view resource_type_of(const json::value& resource);
// The id, or an empty view when absent or not a string.
std::string_view id_of(const json::value& resource);
// The resource `container` contains with id `id` (what a local reference "#id" names), or null.
const json::value* find_contained(const json::value& container, std::string_view id);

// Sets the resource's id (second member, after resourceType), replacing any.
void set_id(json::value& resource, std::string_view id);

// Sets id, meta.versionId and meta.lastUpdated as the server assigns them, keeping the conventional order
// (resourceType, id, meta first). Other meta elements (profile, security, tag, source) are kept.
void stamp_version(json::value& resource, std::string_view id, std::int64_t version, epoch_ms last_updated);

// The organisation that wrote a resource, its data controller (../shared/design/consent.md, section 2):
// a meta.tag in this system whose code is the organisation's ODS code.
inline constexpr std::string_view data_controller_system = "https://shared-care-record.github.io/fhir/CodeSystem/data-controller";
// The ODS code of the resource's data-controller tag, or an empty view.
std::string_view data_controller_of(const json::value& resource);
// Records `ods` as the data controller, replacing any data-controller tag.
void set_data_controller(json::value& resource, std::string_view ods);

}  // namespace fhir
