#include "server/bulk/export_request.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/text.hpp"
#include "server/access_gate.hpp"
#include "server/interactions/compartment.hpp"
#include "server/negotiation.hpp"

namespace server::bulk {
namespace {

constexpr std::string_view output_formats[] = {"application/fhir+ndjson", "application/ndjson", "ndjson"};

fhir::error invalid(std::string diagnostics, std::string message_id = "export-parameter-invalid") {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, std::move(diagnostics), std::move(message_id));
}

// A _typeFilter value: "Observation?code=http://loinc.org|8867-4&date=ge2024" (the inner query's values
// percent-encoded by the client, as the specification asks).
fhir::result<fhir::search::search_query> parse_type_filter(const context& ctx, std::string_view value) {
  std::size_t question = value.find('?');
  std::string_view type = value.substr(0, question);
  if (question == std::string_view::npos || !ctx.definitions.is_resource_type(type))
    return invalid(fmt::format("_typeFilter={}: expected a resource type, '?' and search parameters", fhir::utf8_prefix(value, 200)));
  auto target = http::parse_target("/" + std::string(value));
  if (!target) return invalid(fmt::format("_typeFilter={}: not a valid query", fhir::utf8_prefix(value, 200)));
  for (const auto& [name, ignored] : target->params)
    if (name.starts_with('_') && name != "_id" && name != "_lastUpdated" && name != "_tag" && name != "_profile" &&
        name != "_security" && name != "_source")
      return invalid(fmt::format("_typeFilter={}: {} cannot filter an export", fhir::utf8_prefix(value, 200), name));
  auto query = fhir::search::parse_query(ctx.search_parameters, type, target->params,
                                         {.strict = true, .local_bases = ctx.settings.own_bases()});
  if (!query) return invalid(fmt::format("_typeFilter={}: {}", fhir::utf8_prefix(value, 200), query.error().summary()));
  // A chain or _has would select resources by others that the caller may not see (consent.md P3); a
  // search checks those contributors one by one, an export of millions does not: refused.
  for (const fhir::search::clause& c : query->clauses)
    if (!c.chain.empty() || !c.has.empty())
      return invalid(fmt::format("_typeFilter={}: chained parameters and _has cannot filter an export", fhir::utf8_prefix(value, 200)));
  return std::move(*query);
}

}  // namespace

bool exportable_type(std::string_view type) { return type != "AuditEvent"; }

fhir::result<export_spec> parse_export_request(const context& ctx, const fhir_request& request) {
  std::optional<std::string_view> prefer = request.http.header_value("Prefer");
  if (!prefers(prefer, "respond-async"))
    return invalid("A bulk export runs asynchronously: send the header 'Prefer: respond-async'", "export-prefer-async-missing");
  bool lenient = prefers(prefer, "handling=lenient");

  export_spec spec;
  if (request.path.size() == 2) spec.level = export_level::patient;
  if (request.path.size() == 3) {
    spec.level = export_level::group;
    spec.group_id = request.path[1];
  }
  spec.request_url = ctx.settings.base_url + request.http.target.substr(request.http.target.find('/', 1));

  std::vector<std::string> named_types, filter_values;
  for (const auto& [name, value] : request.params) {
    if (name == "_outputFormat") {
      if (std::find(std::begin(output_formats), std::end(output_formats), value) == std::end(output_formats))
        return invalid(fmt::format("_outputFormat={}: this server writes application/fhir+ndjson", fhir::utf8_prefix(value, 100)));
    } else if (name == "_since") {
      spec.since = fhir::parse_date_time(value);
      if (!spec.since || value.find('T') == std::string::npos)
        return invalid(fmt::format("_since={}: expected an instant (2026-01-01T00:00:00Z)", fhir::utf8_prefix(value, 100)));
    } else if (name == "_type") {
      for (std::string& type : fhir::search::split_escaped(value, ','))
        if (!type.empty()) named_types.push_back(std::move(type));
    } else if (name == "_typeFilter") {
      filter_values.push_back(value);
    } else if (name == "_format" || name == "_pretty") {
      // Shape only the kick-off's OperationOutcome.
    } else if (!lenient) {
      return invalid(fmt::format("{} is not supported by this server's bulk export (send 'Prefer: handling=lenient' to have "
                                 "unsupported parameters ignored)", fhir::utf8_prefix(name, 100)),
                     "export-parameter-unsupported");
    }
  }

  // The types of the level: every type for the system, the Patient compartment for a Patient or Group.
  std::vector<std::string> level_types = spec.level == export_level::system ? ctx.definitions.resource_types()
                                                                            : interactions::compartment_types(ctx, "Patient");
  std::erase_if(level_types, [](const std::string& t) { return !exportable_type(t); });
  for (const std::string& type : named_types) {
    if (!ctx.definitions.is_resource_type(type)) return invalid(fmt::format("_type: '{}' is not a resource type", fhir::utf8_prefix(type, 100)));
    if (std::find(level_types.begin(), level_types.end(), type) == level_types.end())
      return invalid(spec.level == export_level::system
                         ? fmt::format("_type: {} is not exported (the audit trail is searched, not exported)", type)
                         : fmt::format("_type: {} is not in the Patient compartment, which a Patient or Group export covers", type));
    if (std::find(spec.types.begin(), spec.types.end(), type) == spec.types.end()) spec.types.push_back(type);
  }
  if (spec.types.empty()) {
    // Every type of the level the caller may read: an export asks for what it may have, not for more.
    for (const std::string& type : level_types)
      if (!request.caller || may_read_type(ctx, *request.caller, type)) spec.types.push_back(type);
  }
  for (const std::string& value : filter_values) {
    auto query = parse_type_filter(ctx, value);
    if (!query) return std::move(query).error();
    const std::string& type = query->types.front();
    if (std::find(spec.types.begin(), spec.types.end(), type) == spec.types.end())
      return invalid(fmt::format("_typeFilter={}: {} is not one of the exported types", fhir::utf8_prefix(value, 200), type));
    spec.filters.push_back(std::move(*query));
  }
  return spec;
}

}  // namespace server::bulk
