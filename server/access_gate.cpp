#include "server/access_gate.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/text.hpp"
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
    {"$validate", std::nullopt},
    {"transaction", std::nullopt},  // each entry is checked as the request it stands for
};

// Types whose instances no client may create, change or delete: the server writes them.
constexpr std::string_view server_written_types[] = {"AuditEvent"};

fhir::error not_found_like_missing(const fhir_request& request) {
  return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                     // Word for word the store's answer for a missing id (store/sqlite/sqlite_store.cpp).
                     fmt::format("Resource {}/{} is not known", request.path[0], request.path[1]),
                     "resource-not-found");
}

// The types a system-level search covers: `_type`, or every type ("*").
std::vector<std::string> searched_types(const fhir_request& request) {
  std::vector<std::string> out;
  for (const auto& [name, value] : request.params) {
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

// A search by a patient-facing caller must not name another patient: `patient=X`, `subject=Patient/X`.
bool names_another_patient(const fhir_request& request, const std::string& own) {
  for (const auto& [name, value] : request.params) {
    std::string_view code = std::string_view(name).substr(0, name.find(':'));
    std::string_view v = value;
    if (auto slash = v.rfind("Patient/"); slash != std::string_view::npos) {
      std::string_view id = v.substr(slash + 8);
      if (id != own) return true;
    } else if (code == "patient" && v != own) {
      return true;
    } else if (code == "_id" && request.path[0] == "Patient" && v != own) {
      return true;
    }
  }
  return false;
}

fhir::result<fhir::done> check_patient_facing(const context& ctx, const fhir_request& request, std::string_view code) {
  const std::string& own = request.caller->token->patient;
  if (code == "search-system" || code == "history-system" || code == "history-type") return auth::forbidden();
  if ((code == "search-compartment" || code == "$everything") && (request.path[0] != "Patient" || request.path[1] != own))
    return auth::forbidden();
  if (code == "search-type" && names_another_patient(request, own)) return auth::forbidden();
  if (code == "read" || code == "vread" || code == "history-instance") {
    const std::string& type = request.path[0];
    bool patient_data = interactions::patient_compartment(ctx, own, type).has_value();
    if (patient_data && !interactions::in_patient_compartment(ctx, own, type, request.path[1])) return not_found_like_missing(request);
  }
  return fhir::done{};
}

}  // namespace

bool may_read_type(const context& ctx, const auth::caller& caller, std::string_view type) {
  return ctx.auth->allowed(caller, type, operation::read) || ctx.auth->allowed(caller, type, operation::search);
}

fhir::result<fhir::done> check_write_entry(const context& ctx, const auth::caller& caller, std::string_view type,
                                           std::string_view method) {
  operation op = method == "POST" ? operation::create : method == "DELETE" ? operation::remove : operation::update;
  if (std::find(std::begin(server_written_types), std::end(server_written_types), type) != std::end(server_written_types))
    return fhir::error(fhir::error_kind::method_not_allowed, fhir::issue_type::not_supported,
                       fmt::format("{} resources are written by the server only", type), "method-not-allowed");
  return ctx.auth->authorise(caller, type, op);
}

fhir::result<fhir::done> check_access(const context& ctx, const fhir_request& request, std::string_view code) {
  const interaction_access* access = nullptr;
  for (const interaction_access& a : interaction_table)
    if (a.code == code) access = &a;
  if (!access) return auth::forbidden();  // an interaction nobody classified is closed (fail closed)
  if (!access->op) return fhir::done{};

  std::vector<std::string> types;
  if (code == "search-system" || code == "history-system") types = searched_types(request);
  else if (code == "search-compartment") types = {request.path[2]};
  else types = {request.path[0]};

  bool writes = *access->op == operation::create || *access->op == operation::update || *access->op == operation::remove;
  for (const std::string& type : types) {
    if (writes) {
      std::string_view method = *access->op == operation::create ? "POST" : *access->op == operation::remove ? "DELETE" : "PUT";
      if (auto allowed = check_write_entry(ctx, *request.caller, type, method); !allowed) return allowed;
    } else if (auto allowed = ctx.auth->authorise(*request.caller, type, *access->op); !allowed) {
      return allowed;
    }
  }
  if (request.caller->patient_facing()) return check_patient_facing(ctx, request, code);
  return fhir::done{};
}

}  // namespace server
