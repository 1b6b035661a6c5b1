#include "server/auth/access_policy.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/file.hpp"
#include "fhir/json/parse.hpp"

namespace server::auth {
namespace {

// The design's defaults (consent.md section 1). Operators override them with --access-policy FILE,
// a document of the same shape (docs/access-policy.md).
constexpr std::string_view default_policy = R"json({
  "purposeClasses": {
    "direct": ["TREAT", "COC"],
    "emergency": ["ETREAT", "BTG"],
    "self": ["PATRQT"],
    "admin": ["RECORDMGT", "PATADMIN", "HSYSADMIN"],
    "planning": ["HOPERAT", "HQUALIMP", "POPHLTH", "PUBHLTH", "HPAYMT", "HMARKT", "HOUTCOMS", "HPRGRP", "HTEST"],
    "research": ["HRESCH", "CLINTRCH", "BIORCH"]
  },
  "protectedTypes": ["AuditEvent", "Consent"],
  "roles": [
    {"name": "Clinician", "roleCodes": ["R8000", "R8001", "R8003"], "purposeClasses": ["direct", "emergency"],
     "types": ["*"], "operations": ["read", "search", "create", "update", "delete"]},
    {"name": "Admin and clinical support", "roleCodes": ["R8008"], "purposeClasses": ["direct"],
     "types": ["Patient", "Appointment", "Encounter"], "operations": ["read", "search", "create", "update", "delete"]},
    {"name": "Privacy officer", "roleCodes": ["R0001"], "purposes": ["HSYSADMIN"],
     "types": ["AuditEvent"], "operations": ["read", "search"]},
    {"name": "Analyst", "roleCodes": ["SHCR-ANALYST"], "purposeClasses": ["planning"],
     "types": ["*"], "operations": ["read", "search"]},
    {"name": "Researcher", "roleCodes": ["SHCR-RESEARCHER"], "purposeClasses": ["research"],
     "types": ["*"], "operations": ["read", "search"]},
    {"name": "Consent administrator", "roleCodes": ["SHCR-CONSENT-ADMIN"], "purposes": ["PATADMIN"],
     "types": ["Consent"], "operations": ["read", "search", "create", "update"]},
    {"name": "Consent administrator: the Provenance of Consent changes", "roleCodes": ["SHCR-CONSENT-ADMIN"], "purposes": ["PATADMIN"],
     "types": ["Provenance"], "operations": ["read", "search"]}
  ],
  "patientAccess": {"name": "Patient", "purposeClasses": ["self"],
                    "types": ["$patient-compartment", "Consent", "Organization", "Practitioner", "PractitionerRole", "Location",
                              "Medication", "Substance", "HealthcareService", "Endpoint"],
                    "operations": ["read", "search"]},
  "patientWrites": {"name": "Patient's own objection", "purposeClasses": ["self"], "types": ["Consent"], "operations": ["create", "update"]},
  "systemAccess": {"name": "System (feed)", "purposeClasses": ["direct", "admin"], "types": ["*"],
                   "operations": ["read", "search", "create", "update", "delete"]},
  "breakGlass": {"roleCodes": ["R8000"], "activityCodes": ["B0083"]},
  "controllers": {}
})json";

fhir::error invalid(std::string diagnostics) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, std::move(diagnostics), "access-policy-invalid");
}

std::optional<purpose_class> parse_class(std::string_view s) {
  constexpr purpose_class all[] = {purpose_class::direct, purpose_class::emergency, purpose_class::self,
                                   purpose_class::admin,  purpose_class::planning,  purpose_class::research};
  for (purpose_class c : all)
    if (to_string(c) == s) return c;
  return std::nullopt;
}

std::optional<operation> parse_operation(std::string_view s) {
  constexpr operation all[] = {operation::read, operation::search, operation::create, operation::update, operation::remove};
  for (operation o : all)
    if (to_string(o) == s) return o;
  return std::nullopt;
}

fhir::result<std::vector<std::string>> strings(const fhir::json::value& owner, std::string_view name, std::string_view where) {
  std::vector<std::string> out;
  const fhir::json::value* v = owner.find(name);
  if (!v) return out;
  if (!v->is_array()) return invalid(fmt::format("{}.{} must be an array of strings", where, name));
  for (const fhir::json::value& item : v->as_array()) {
    if (!item.is_string()) return invalid(fmt::format("{}.{} must be an array of strings", where, name));
    out.push_back(item.as_string());
  }
  return out;
}

fhir::result<access_grant> read_grant(const fhir::json::value& v, std::string where) {
  if (!v.is_object()) return invalid(fmt::format("{} must be an object", where));
  access_grant g;
  if (const std::string* name = v.find_string("name")) g.name = *name;
  auto roles = strings(v, "roleCodes", where), activities = strings(v, "activityCodes", where);
  auto classes = strings(v, "purposeClasses", where), purposes = strings(v, "purposes", where);
  auto types = strings(v, "types", where), operations = strings(v, "operations", where);
  for (auto* r : {&roles, &activities, &classes, &purposes, &types, &operations})
    if (!*r) return std::move(*r).error();
  g.role_codes = std::move(*roles);
  g.activity_codes = std::move(*activities);
  g.purposes = std::move(*purposes);
  g.types = std::move(*types);
  for (const std::string& c : *classes) {
    auto parsed = parse_class(c);
    if (!parsed) return invalid(fmt::format("{}: unknown purpose class '{}'", where, c));
    g.purpose_classes.push_back(*parsed);
  }
  for (const std::string& o : *operations) {
    auto parsed = parse_operation(o);
    if (!parsed) return invalid(fmt::format("{}: unknown operation '{}' (read, search, create, update, delete)", where, o));
    g.operations.push_back(*parsed);
  }
  return g;
}

template <typename T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

std::string_view to_string(purpose_class c) {
  switch (c) {
    case purpose_class::direct: return "direct";
    case purpose_class::emergency: return "emergency";
    case purpose_class::self: return "self";
    case purpose_class::admin: return "admin";
    case purpose_class::planning: return "planning";
    case purpose_class::research: return "research";
  }
  return "";
}

std::string_view to_string(operation o) {
  switch (o) {
    case operation::read: return "read";
    case operation::search: return "search";
    case operation::create: return "create";
    case operation::update: return "update";
    case operation::remove: return "delete";
  }
  return "";
}

permission smart_permission(operation o) {
  switch (o) {
    case operation::read: return permission::read;
    case operation::search: return permission::search;
    case operation::create: return permission::create;
    case operation::update: return permission::update;
    case operation::remove: return permission::remove;
  }
  return permission::read;
}

bool role_matches(const nhs_role& role, const std::vector<std::string>& codes) {
  std::string_view code = role.role_code;
  if (auto colon = code.rfind(':'); colon != std::string_view::npos) code = code.substr(colon + 1);
  return std::any_of(codes.begin(), codes.end(), [&](const std::string& c) { return c == code || c == role.role_code; });
}

fhir::result<access_policy> access_policy::parse(std::string_view json) {
  auto doc = fhir::json::parse(json);
  if (!doc) return invalid(fmt::format("The access policy is not valid JSON: {}", doc.error().summary()));
  if (!doc->is_object()) return invalid("The access policy must be a JSON object");
  access_policy p;
  const fhir::json::value* classes = doc->find("purposeClasses");
  if (!classes || !classes->is_object()) return invalid("purposeClasses must be an object of class -> purpose codes");
  for (const auto& member : classes->as_object()) {
    auto cls = parse_class(member.key);
    if (!cls) return invalid(fmt::format("purposeClasses: unknown class '{}'", member.key));
    auto codes = strings(*classes, member.key, "purposeClasses");
    if (!codes) return std::move(codes).error();
    for (const std::string& code : *codes) p.purposes_[code] = *cls;
  }
  auto protected_types = strings(*doc, "protectedTypes", "policy");
  if (!protected_types) return std::move(protected_types).error();
  p.protected_types_ = std::move(*protected_types);
  const fhir::json::value* roles = doc->find("roles");
  if (!roles || !roles->is_array()) return invalid("roles must be an array");
  for (std::size_t i = 0; i < roles->as_array().size(); ++i) {
    auto grant = read_grant(roles->as_array()[i], fmt::format("roles[{}]", i));
    if (!grant) return std::move(grant).error();
    p.roles_.push_back(std::move(*grant));
  }
  struct single {
    std::string_view name;
    access_grant access_policy::*member;
  };
  for (const single& s : {single{"patientAccess", &access_policy::patient_access_}, single{"patientWrites", &access_policy::patient_writes_},
                          single{"systemAccess", &access_policy::system_access_},
                          single{"breakGlass", &access_policy::break_glass_}}) {
    const fhir::json::value* v = doc->find(s.name);
    if (!v) continue;  // absent: nobody of that kind gets access
    auto grant = read_grant(*v, std::string(s.name));
    if (!grant) return std::move(grant).error();
    p.*s.member = std::move(*grant);
  }
  if (const fhir::json::value* controllers = doc->find("controllers")) {
    if (!controllers->is_object()) return invalid("controllers must be an object of site ODS code -> trust ODS code");
    for (const auto& member : controllers->as_object()) {
      if (!member.value.is_string()) return invalid(fmt::format("controllers.{} must be a string", member.key));
      p.controllers_[member.key] = member.value.as_string();
    }
  }
  return p;
}

fhir::result<access_policy> access_policy::load(const std::string& path) {
  auto text = fhir::read_file(path);
  if (!text) return invalid(fmt::format("Cannot read the access policy file '{}'", path));
  return parse(*text);
}

const access_policy& access_policy::defaults() {
  static const access_policy policy = [] {
    auto parsed = parse(default_policy);
    if (!parsed) throw std::logic_error("the built-in access policy is invalid: " + parsed.error().summary());
    return std::move(*parsed);
  }();
  return policy;
}

std::string_view access_policy::default_policy_json() { return default_policy; }

std::optional<purpose_class> access_policy::class_of(std::string_view purpose) const {
  auto it = purposes_.find(std::string(purpose));
  if (it == purposes_.end()) return std::nullopt;
  return it->second;
}

std::string access_policy::controller_of(std::string_view ods) const {
  auto it = controllers_.find(std::string(ods));
  return it == controllers_.end() ? std::string(ods) : it->second;
}

bool access_policy::break_glass_entitled(const claims& c) const {
  return std::any_of(c.roles.begin(), c.roles.end(), [&](const nhs_role& role) {
    return role_matches(role, break_glass_.role_codes) ||
           std::any_of(role.activity_codes.begin(), role.activity_codes.end(),
                       [&](const std::string& a) { return contains(break_glass_.activity_codes, a); });
  });
}

bool access_policy::is_protected(std::string_view type) const {
  return std::find(protected_types_.begin(), protected_types_.end(), type) != protected_types_.end();
}

bool access_policy::grant_allows(const access_grant& g, std::string_view purpose, purpose_class cls, std::string_view type,
                                 operation op, bool patient_data) const {
  bool purpose_ok = contains(g.purpose_classes, cls) || contains(g.purposes, std::string(purpose));
  bool type_ok = std::any_of(g.types.begin(), g.types.end(), [&](const std::string& t) {
    return t == type || (t == "*" && !is_protected(type)) || (t == "$patient-compartment" && patient_data && !is_protected(type));
  });
  return purpose_ok && type_ok && contains(g.operations, op);
}

bool access_policy::allows(const claims& c, std::string_view purpose, purpose_class cls, std::string_view type, operation op,
                           bool patient_data) const {
  if (!c.patient.empty())
    return grant_allows(patient_access_, purpose, cls, type, op, patient_data) ||
           grant_allows(patient_writes_, purpose, cls, type, op, patient_data);
  if (c.roles.empty()) return grant_allows(system_access_, purpose, cls, type, op, patient_data);
  for (const nhs_role& role : c.roles)
    for (const access_grant& g : roles_) {
      bool applies = role_matches(role, g.role_codes) ||
                     std::any_of(role.activity_codes.begin(), role.activity_codes.end(),
                                 [&](const std::string& a) { return contains(g.activity_codes, a); });
      if (applies && grant_allows(g, purpose, cls, type, op, patient_data)) return true;
    }
  return false;
}

}  // namespace server::auth
