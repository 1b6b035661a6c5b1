#include "server/access_gate.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/text.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/compartment.hpp"

namespace server {
namespace {

using auth::operation;

struct interaction_access {
  std::string_view code;
  std::optional<operation> op;  // nullopt: authentication alone (no stored data is read or written)
};

// Which operation each routed interaction performs (SMART: c r u d s).
constexpr interaction_access interaction_table[] = {
    {"read", operation::read},
    {"vread", operation::read},
    {"history-instance", operation::read},
    {"search-type", operation::search},
    {"search-system", operation::search},
    {"search-compartment", operation::search},
    {"history-type", operation::search},
    {"history-system", operation::search},
    {"$everything", operation::search},
    {"create", operation::create},
    {"update", operation::update},
    {"patch", operation::update},
    {"conditional-update", operation::update},
    {"conditional-patch", operation::update},
    {"delete", operation::remove},
    {"conditional-delete", operation::remove},
    {"$validate", std::nullopt},     // the instance form reads: see check_access
    {"transaction", std::nullopt},  // each entry is checked as the request it stands for
    {"$break-glass", std::nullopt},  // reads nothing; the operation checks purpose and entitlement itself
    {"$export", operation::search},  // the named _type values; without, the job exports what the caller may read
    {"$export-poll-status", std::nullopt},  // a job is its caller's alone (bulk/job_queue)
    {"$export-file", std::nullopt},
    {"$import", std::nullopt},  // each input's type is checked as a PUT of it by the operation (the body names them)
    {"$import-poll-status", std::nullopt},  // a job is its caller's alone (bulk/job_queue)
    {"$import-file", std::nullopt},
    {"$data-quality", std::nullopt},  // figures about feeds, no patient data: the operation decides whose
};

// Types whose instances no client may create, change or delete: the server writes them.
constexpr std::string_view server_written_types[] = {"AuditEvent"};

bool is_server_written(std::string_view type) {
  return std::find(std::begin(server_written_types), std::end(server_written_types), type) != std::end(server_written_types);
}

// Hidden looks like absent: the store's own answer for a missing id.
fhir::error not_found_like_missing(std::string_view type, std::string_view id) { return store::not_found_error(type, id); }

fhir::error break_glass_not_declared() {
  return fhir::error(fhir::error_kind::forbidden, fhir::issue_type::forbidden,
                     "Emergency access (purpose ETREAT) to a patient's record needs break-glass to be declared first",
                     "break-glass-not-declared");
}

// The types a system-level search covers: `_type`, or every type ("*").
std::vector<std::string> searched_types(const http::query_params& params) {
  std::vector<std::string> out;
  for (const auto& [name, value] : params) {
    if (name != "_type") continue;
    std::string_view list = value;
    while (!list.empty()) {
      std::size_t comma = list.find(',');
      if (comma != 0) out.emplace_back(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  if (out.empty()) out.emplace_back("*");
  return out;
}

// The types a bulk export names (_type); none named: the export takes only what the caller may read.
std::vector<std::string> exported_types(const fhir_request& request) {
  std::vector<std::string> types = searched_types(request.params);
  if (types.size() == 1 && types.front() == "*") types.clear();
  return types;
}

}  // namespace

std::vector<std::string> named_patients(const fhir_request& request) {
  std::string_view type = request.path.empty() ? std::string_view() : std::string_view(request.path[0]);
  std::vector<std::string> out;
  for (const auto& [name, value] : request.params) {
    std::string_view code = std::string_view(name).substr(0, name.find(':'));
    std::string_view v = value;
    if (auto at = v.rfind("Patient/"); at != std::string_view::npos) out.emplace_back(v.substr(at + 8));
    else if (code == "patient" || (code == "_id" && type == "Patient")) out.emplace_back(v);
  }
  return out;
}

namespace {

// The Patient compartment's types, computed once at start-up (not a CompartmentDefinition walk per request).
bool is_patient_data(const context& ctx, const std::string& type) { return ctx.auth->is_patient_data(type); }

fhir::result<fhir::done> check_patient_facing(const context& ctx, const fhir_request& request, std::string_view code) {
  const std::string& own = request.caller->token->patient;
  // A patient's writes (their own objection: policy patientWrites) name their target exactly: no
  // conditional matching, which could find and reveal other patients' records, and no update-as-create
  // (a chosen id that exists for someone else would answer differently from a free one). An update or
  // patch reaches only a record in their own compartment; anything else is the 404 of a missing id.
  if (code == "conditional-update" || code == "conditional-patch" || code == "conditional-delete" ||
      (code == "create" && request.http.header_value("If-None-Exist")))
    return auth::forbidden();
  if (code == "update" || code == "patch") {
    const std::string& type = request.path[0];
    const std::string& id = request.path[1];
    if (!interactions::in_patient_compartment(ctx, own, type, id)) return not_found_like_missing(type, id);
  }
  if (code == "search-system" || code == "history-system" || code == "history-type" || code == "history-instance")
    return auth::forbidden();
  // A patient exports their own record (Patient/$export, confined to it by the export), nothing wider.
  if (code == "$export" && !(request.path.size() == 2 && request.path[0] == "Patient")) return auth::forbidden();
  if ((code == "search-compartment" || code == "$everything") && (request.path[0] != "Patient" || request.path[1] != own))
    return auth::forbidden();
  if (code == "search-type")
    for (const std::string& named : named_patients(request))
      if (named != own) return auth::forbidden();
  if (code == "read" || code == "vread" || (code == "$validate" && request.path.size() == 3)) {
    const std::string& type = request.path[0];
    const std::string& id = request.path[1];
    if (is_patient_data(ctx, type) && !interactions::in_patient_compartment(ctx, own, type, id)) return not_found_like_missing(type, id);
    // Compartment membership is known for the current version only; an older one may have been
    // another patient's, so it looks absent.
    if (code == "vread") {
      auto current = ctx.store.read(type, id);
      if (current && std::to_string(current->info.version) != request.path[3]) return not_found_like_missing(type, id);
    }
  }
  return fhir::done{};
}

// Emergency access is per patient and needs a declared break-glass session (consent.md section 1): a
// request with an emergency purpose that names patients (Patient/[id]/..., patient=, subject=Patient/...)
// is refused unless the caller holds a session for each of them. A request that names none (a read of
// Observation/[id], a search across patients) proceeds: each patient's data is then decided as
// emergency access where a session is open and as direct care elsewhere (consent_enforcement), so the
// answer for data the caller may not see stays the 404 of a missing id.
fhir::result<fhir::done> check_emergency(const context& ctx, const fhir_request& request, std::string_view code,
                                         const std::vector<std::string>& types) {
  if (request.caller->purpose_category != auth::purpose_class::emergency) return fhir::done{};
  bool patient_specific = code == "read" || code == "vread" || code == "history-instance" || code == "$everything" ||
                          code == "search-compartment" || code == "search-type";
  bool patient_data = std::any_of(types.begin(), types.end(), [&](const std::string& t) { return is_patient_data(ctx, t); }) ||
                      (request.path.size() >= 2 && request.path[0] == "Patient");
  if (!patient_specific || !patient_data) return fhir::done{};
  std::vector<std::string> named = named_patients(request);
  if (request.path.size() >= 2 && request.path[0] == "Patient") named.push_back(request.path[1]);
  for (const std::string& patient : named)
    if (!consent::under_break_glass(ctx, *request.caller, patient)) return break_glass_not_declared();
  if (!named.empty()) request.emergency_access = true;
  return fhir::done{};
}

// Every type the request names; "*" (all types) needs the wildcard grant, and the interaction leaves
// out the protected types the caller may not read (unreadable_types).
fhir::result<fhir::done> authorise_types(const context& ctx, const auth::caller& caller, const std::vector<std::string>& types,
                                         operation op) {
  for (const std::string& type : types)
    if (auto allowed = ctx.auth->authorise(caller, type, op); !allowed) return allowed;
  return fhir::done{};
}

}  // namespace

std::vector<std::string> unreadable_types(const context& ctx, const auth::caller& caller) {
  std::vector<std::string> out;
  for (const std::string& type : ctx.auth->policy().protected_types())
    if (!ctx.auth->allowed(caller, type, operation::search)) out.push_back(type);
  return out;
}

bool may_read_type(const context& ctx, const auth::caller& caller, std::string_view type) {
  return ctx.auth->allowed(caller, type, operation::read) || ctx.auth->allowed(caller, type, operation::search);
}

fhir::result<fhir::done> check_write_entry(const context& ctx, const auth::caller& caller, std::string_view type,
                                           std::string_view method) {
  operation op = method == "POST" ? operation::create : method == "DELETE" ? operation::remove : operation::update;
  if (is_server_written(type))
    return fhir::error(fhir::error_kind::method_not_allowed, fhir::issue_type::not_supported,
                       fmt::format("{} resources are written by the server only", type), "method-not-allowed");
  // A Consent is never deleted: it changes status (inactive, entered-in-error), so its history is kept.
  if (type == "Consent" && op == operation::remove)
    return fhir::error(fhir::error_kind::method_not_allowed, fhir::issue_type::not_supported,
                       "A Consent is not deleted: set its status (inactive, or entered-in-error) so its history is kept",
                       "consent-not-deletable");
  if (auto allowed = ctx.auth->authorise(caller, type, op); !allowed) return allowed;
  // Every write is recorded against the organisation that made it and may only touch its own data: a
  // token that names no organisation cannot write.
  // A patient writes nothing but their own objection (consent_writes checks the rest in the unit).
  if (caller.controller.empty() && !(caller.patient_facing() && type == "Consent"))
    return fhir::error(fhir::error_kind::forbidden, fhir::issue_type::forbidden,
                       "The token names no organisation (claim org_ods), so it cannot write", "controller-missing");
  return fhir::done{};
}

fhir::result<fhir::done> check_query_reach(const context& ctx, const auth::caller& caller, const fhir::search::search_query& query) {
  // Containers are of any type and any patient's: a patient-facing caller's reach is their compartment.
  if (caller.patient_facing() && query.contained != fhir::search::contained_mode::off) return auth::forbidden();
  for (const fhir::search::clause& c : query.clauses) {
    if (caller.patient_facing() && (!c.chain.empty() || !c.has.empty())) return auth::forbidden();
    for (const fhir::search::chain_link& link : c.chain)
      for (const std::string& target : link.target_types)
        if (!ctx.auth->allowed(caller, target, operation::search)) return auth::forbidden();
    for (const fhir::search::reverse_chain& link : c.has)
      if (!ctx.auth->allowed(caller, link.source_type, operation::search)) return auth::forbidden();
  }
  for (const fhir::search::include& inc : query.includes) {
    std::string_view returned = inc.reverse ? std::string_view(inc.source_type) : std::string_view(inc.target_type);
    if (!returned.empty() && returned != "*" && !may_read_type(ctx, caller, returned)) return auth::forbidden();
  }
  return fhir::done{};
}

fhir::result<fhir::done> check_access(const context& ctx, const fhir_request& request, std::string_view code) {
  const interaction_access* access = nullptr;
  for (const interaction_access& a : interaction_table)
    if (a.code == code) access = &a;
  if (!access) return auth::forbidden();  // an interaction nobody classified is closed (fail closed)
  const auth::caller& caller = *request.caller;
  // A patient writes nothing but their own objection, one request at a time: no bulk import.
  if (caller.patient_facing() && code == "$import") return auth::forbidden();
  std::optional<operation> op = access->op;
  // $validate on an instance reads it (mode=delete says whether it exists).
  if (code == "$validate" && request.path.size() == 3) op = operation::read;
  if (!op) return fhir::done{};

  std::vector<std::string> types;
  if (code == "search-system") types = searched_types(request.params);
  else if (code == "history-system") types = {"*"};  // system history has no _type: it shows every type
  else if (code == "search-compartment") types = {request.path[2]};
  else if (code == "$export") types = exported_types(request);
  else types = {request.path[0]};

  bool writes = *op == operation::create || *op == operation::update || *op == operation::remove;
  if (writes) {
    std::string_view method = *op == operation::create ? "POST" : *op == operation::remove ? "DELETE" : "PUT";
    if (auto allowed = check_write_entry(ctx, caller, types.front(), method); !allowed) return allowed;
  } else if (auto allowed = authorise_types(ctx, caller, types, *op); !allowed) {
    return allowed;
  }
  if (auto emergency = check_emergency(ctx, request, code, types); !emergency) return emergency;
  if (!writes)
    if (auto fresh = consent::check_ndoo_freshness(ctx, caller); !fresh) return fresh;
  // A Group export reads the Group for its members.
  if (code == "$export" && request.path.size() == 3)
    if (auto allowed = ctx.auth->authorise(caller, request.path[0], operation::read); !allowed) return allowed;
  if (caller.patient_facing()) return check_patient_facing(ctx, request, code);
  return fhir::done{};
}

}  // namespace server
