#pragma once
// The kick-off request of a FHIR Bulk Data export (Bulk Data Access 2.0, export.html): which level, which
// types, since when, filtered how. Checked completely at kick-off, so a job that starts can only fail for
// reasons of the moment (the store), never because the client asked for something unsupported.
//
// Supported parameters: `_outputFormat` (application/fhir+ndjson, application/ndjson, ndjson), `_since`
// (an instant), `_type` (comma-separated, repeatable), `_typeFilter` (`Type?search`, repeatable; several
// for one type are alternatives: a resource matching any of them is exported; no chains or `_has`). Others (`_elements`,
// `patient`, `includeAssociatedData`, ...) are refused with 400, or ignored under
// `Prefer: handling=lenient`, as the specification asks.

#include <optional>
#include <string>
#include <vector>

#include "fhir/result.hpp"
#include "fhir/search/search_query.hpp"
#include "fhir/time.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"

namespace server::bulk {

enum class export_level { system, patient, group };

struct export_spec {
  export_level level = export_level::system;
  std::string group_id;            // group level: the Group whose members are exported
  // Group level, and a patient's own export (subject access): the patients whose compartments are
  // exported, resolved at kick-off. Empty at the other levels: every patient.
  std::vector<std::string> patients;
  std::vector<std::string> types;  // the types to export, in order (explicit _type, else what the caller may read)
  std::optional<fhir::epoch_ms> since;
  // Per type, the _typeFilter queries (parsed, with the type set); none: every resource of the type.
  std::vector<fhir::search::search_query> filters;
  std::string request_url;  // the kick-off request, for the manifest
};

// The export `request` asks for. Fails invalid (400) for a missing `Prefer: respond-async`, an
// unsupported format or parameter, an unknown type, a type outside the level (a Patient or Group export
// covers the Patient compartment), a bad `_since` or `_typeFilter`.
fhir::result<export_spec> parse_export_request(const context& ctx, const fhir_request& request);

// The types an export may name: AuditEvent is the audit trail (searched, not exported).
bool exportable_type(std::string_view type);

}  // namespace server::bulk
