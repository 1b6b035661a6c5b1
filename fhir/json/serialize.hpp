#pragma once
// Writes a json::value as JSON text: compact (what the store keeps and the server sends) or indented
// (`_pretty=true`). Numbers are written with their exact text; strings are escaped per RFC 8259.

#include <string>

#include "fhir/json/value.hpp"

namespace fhir::json {

std::string serialize(const value& v);
std::string serialize_pretty(const value& v);

// Appends `s` as a quoted, escaped JSON string.
void append_quoted(std::string& out, std::string_view s);

}  // namespace fhir::json
