#pragma once
// What a deployment decides about validation (server flags, documented in the README):
//  - unknown extensions: accepted with a warning (feeds from many vendors carry local extensions), or
//    rejected;
//  - default profiles: every resource of a type is validated against them, whether or not it claims
//    them in meta.profile (the server uses UK Core for Patient, MedicationStatement, AllergyIntolerance,
//    Observation and Consent).

#include <map>
#include <string>

namespace fhir::validation {

enum class unknown_extension_policy { warning, error };

struct validation_options {
  unknown_extension_policy unknown_extensions = unknown_extension_policy::warning;
  std::map<std::string, std::string, std::less<>> default_profiles;  // resource type -> profile URL
};

}  // namespace fhir::validation
