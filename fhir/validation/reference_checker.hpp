#pragma once
// References (references.html): the `reference` string's form, the type of what it points to against
// the element's targetProfile types, and contained references (`#id`) resolving to a contained resource.
//   "Patient/123", "Patient/123/_history/2"   relative: a known resource type and a valid id
//   "https://example.org/fhir/Patient/123"     absolute: any URL (its type is read when it ends Type/id)
//   "urn:uuid:...", "urn:oid:..."              within a Bundle
//   "#med1"                                    a contained resource; "#" alone is the container itself

#include <string>
#include <string_view>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"

namespace fhir::validation {

class reference_checker {
 public:
  explicit reference_checker(const definitions::registry& definitions) : defs_(definitions) {}

  // Checks a Reference at `path`. `target_profiles` restrict the type (empty: any); `container` is the
  // resource whose `contained` list `#id` refers to. `where` names the profile for messages (or empty).
  void check(const json::value& reference, const std::vector<std::string>& target_profiles, const json::value& container,
             const std::string& path, std::string_view where, std::vector<issue>& issues) const;

  // Only the form and the contained target, not the type: what the base definitions need on every
  // Reference when its element has no targetProfile.
  void check_form(const json::value& reference, const json::value& container, const std::string& path,
                  std::vector<issue>& issues) const {
    check(reference, {}, container, path, {}, issues);
  }

  // The resource type a Reference points to, when its form tells ("" otherwise).
  std::string target_type(const json::value& reference, const json::value& container) const;

 private:
  const definitions::registry& defs_;
};

}  // namespace fhir::validation
