#pragma once
// Reading a whole file as text (configuration, keys, claims): one place for the idiom.

#include <optional>
#include <string>

namespace fhir {

// The file's bytes; nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

}  // namespace fhir
