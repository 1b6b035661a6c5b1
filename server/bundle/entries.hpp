#pragma once
// The entries of a batch or transaction Bundle (http.html#transaction), read into requests, and the
// reference rewriting a transaction needs. Errors name the entry as Bundle.entry[N].

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "server/context.hpp"
#include "server/http/url.hpp"

namespace server::bundle {

struct entry_request {
  std::size_t index = 0;
  std::string method;           // GET, HEAD, POST, PUT, DELETE, PATCH
  std::string url;              // request.url, relative to the base
  std::string type;             // from url: "Patient"
  std::string id;               // from url: "123" (empty for type-level and conditional requests)
  std::string rest;             // path after type/id ("_history/2", "$everything"), for GET entries
  http::query_params params;    // from url's query (conditional criteria, search)
  std::string full_url;
  std::optional<fhir::json::value> resource;
  std::string if_none_exist, if_match, if_none_match, if_modified_since;
  std::string_view text;  // the entry's JSON, to read the resource again after its tree was dropped

  bool conditional() const { return !params.empty() && id.empty(); }
  std::string where() const { return "Bundle.entry[" + std::to_string(index) + "]"; }
};

// Reads entry `index` of a Bundle from its text (bundle_text.hpp): its request and resource. Fails invalid
// naming the entry for bad JSON, a missing request, an unknown method or type.
fhir::result<entry_request> read_entry(const context& ctx, std::string_view text, std::size_t index);

// The same error, located in entry `index`: diagnostics start with "Bundle.entry[N]: " and expressions
// of the entry's resource ("Patient.birthDate") become "Bundle.entry[N].resource.birthDate"; issues
// without a location get "Bundle.entry[N]".
fhir::error in_entry(fhir::error e, const entry_request& entry);

// Calls `visit` with every Reference.reference string in `resource` (at any depth: extensions,
// contained resources, nested backbone elements); `visit` returns the replacement, or nullopt to keep it.
void rewrite_references(fhir::json::value& resource, const std::function<std::optional<std::string>(std::string_view)>& visit);

// The first member name that `object` holds twice, or an empty view (JSON leaves duplicates undefined;
// FHIR forbids them, and the Bundle and entry levels are not seen by the resource validator).
std::string_view duplicate_member(const fhir::json::value& object);

// "Patient?identifier=..." : a conditional reference (a type, then a query), not a literal one.
bool is_conditional_reference(std::string_view reference);

}  // namespace server::bundle
