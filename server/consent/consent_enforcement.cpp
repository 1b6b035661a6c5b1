#include "server/consent/consent_enforcement.hpp"

#include <algorithm>
#include <set>
#include <span>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/outcome.hpp"
#include "fhir/resource.hpp"
#include "fhir/search/indexer.hpp"
#include "fhir/search/search_query.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/break_glass.hpp"
#include "server/context.hpp"
#include "server/metrics.hpp"
#include "server/fhir_request.hpp"
#include "server/http/url.hpp"

namespace server::consent {
namespace {

using fhir::json::value;
namespace rules = fhir::consent;

constexpr std::size_t max_consents_per_patient = 1000;
constexpr std::size_t max_cached_patients = 100000;

rules::purpose_class to_decision_class(std::optional<auth::purpose_class> c) {
  if (!c) return rules::purpose_class::unknown;
  switch (*c) {
    case auth::purpose_class::direct: return rules::purpose_class::direct;
    case auth::purpose_class::emergency: return rules::purpose_class::emergency;
    case auth::purpose_class::self: return rules::purpose_class::self;
    case auth::purpose_class::admin: return rules::purpose_class::admin;
    case auth::purpose_class::planning: return rules::purpose_class::planning;
    case auth::purpose_class::research: return rules::purpose_class::research;
  }
  return rules::purpose_class::unknown;
}

// A Consent on record that cannot be interpreted (stored before it would have been refused) still
// stands for something the patient asked: while active it hides their record (fail closed, P1).
rules::consent_rule uninterpretable(const value& consent, const std::string& patient) {
  rules::consent_rule rule;
  const std::string* id = consent.find_string("id");
  const std::string* status = consent.find_string("status");
  rule.id = id ? *id : std::string();
  rule.status = status ? *status : std::string();
  rule.patient = patient;
  rule.kind = rules::kind::optout;
  rule.root.type = rules::effect::deny;
  return rule;
}

// A reference as resource facts name resources: "Type/id" for one of ours (an own-base URL or a
// versioned reference names the resource itself); anything else as written (it names none of ours).
std::string resource_key(const std::string& reference, std::span<const std::string> bases) {
  auto local = fhir::search::local_target_of(reference, bases);
  return local ? local->type + "/" + local->id : reference;
}

// A provision's data references named as resource facts name resources, so that a deny of
// "[base]/Observation/1" or "Observation/1/_history/2" holds for Observation/1 (another server's
// resource stays as written: it is none of ours).
void name_data_as_facts(rules::provision& p, std::span<const std::string> bases) {
  for (auto& d : p.data) d.reference = resource_key(d.reference, bases);
  for (auto& child : p.children) name_data_as_facts(child, bases);
}

// The patient's Consents; nullopt when they cannot be read now (the caller fails closed).
std::optional<std::vector<rules::consent_rule>> load(const context& ctx, const std::string& patient) {
  std::vector<rules::consent_rule> out;
  auto query = fhir::search::parse_query(ctx.search_parameters, "Consent", {{"patient", "Patient/" + patient}});
  if (!query) return std::nullopt;
  auto page = ctx.store.search(store::search_request{*query, max_consents_per_patient, ""});
  if (!page) return std::nullopt;
  for (const auto& entry : page->entries) {
    auto consent = fhir::json::parse(entry.version.json);
    if (!consent) {
      out.push_back(uninterpretable(fhir::json::value{fhir::json::object{}}, patient));
      out.back().status = "active";  // unreadable: assume it stands
      continue;
    }
    auto rule = rules::read_consent(*consent);
    if (rule) name_data_as_facts(rule->root, ctx.settings.own_bases());
    out.push_back(rule ? std::move(*rule) : uninterpretable(*consent, patient));
  }
  return out;
}

void collect_references(const value& v, std::span<const std::string> bases, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& m : v.as_object()) {
      if (m.key == "reference" && m.value.is_string()) out.push_back(resource_key(m.value.as_string(), bases));
      else collect_references(m.value, bases, out);
    }
  } else if (v.is_array()) {
    for (const value& item : v.as_array()) collect_references(item, bases, out);
  }
}

std::vector<rules::code> codings(const value* concept_value) {
  std::vector<rules::code> out;
  const value* list = concept_value && concept_value->is_object() ? concept_value->find("coding") : nullptr;
  if (list && list->is_array())
    for (const value& c : list->as_array()) {
      const std::string* system = c.find_string("system");
      const std::string* code = c.find_string("code");
      if (code) out.push_back({system ? *system : std::string(), *code});
    }
  return out;
}

// The resource's clinical date: when it happened or was recorded, by the usual R4 element names.
std::optional<fhir::epoch_ms> clinical_date(const value& r) {
  for (std::string_view name : {"effectiveDateTime", "occurrenceDateTime", "performedDateTime", "onsetDateTime", "recordedDate",
                                "authoredOn", "issued", "dateAsserted", "date"})
    if (const std::string* text = r.find_string(name))
      if (auto t = fhir::parse_date_time(*text)) return t;
  for (std::string_view name : {"effectivePeriod", "performedPeriod", "period"})
    if (const value* p = r.find(name); p && p->is_object())
      if (const std::string* start = p->find_string("start"))
        if (auto t = fhir::parse_date_time(*start)) return t;
  return std::nullopt;
}

}  // namespace

std::vector<rules::consent_rule> consent_cache::rules_of(const context& ctx, const std::string& patient) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = rules_.find(patient); it != rules_.end()) return it->second;
    generation = generation_;
  }
  auto read = load(ctx, patient);
  if (!read) {
    // The Consents could not be read (the store is busy or failing): hide the record for now, and keep
    // nothing, so the next request tries again (fail closed, P1).
    rules::consent_rule unknown = uninterpretable(fhir::json::value{fhir::json::object{}}, patient);
    unknown.status = "active";
    return {unknown};
  }
  auto loaded = std::move(*read);
  std::lock_guard lock(mutex_);
  if (generation == generation_) {  // no Consent was written meanwhile
    if (rules_.size() >= max_cached_patients) rules_.clear();  // bounded memory; reloaded on demand
    rules_[patient] = loaded;
  }
  return loaded;
}

void consent_cache::invalidate() {
  std::lock_guard lock(mutex_);
  ++generation_;
  rules_.clear();
  ndoo_refreshed_.reset();
}

std::optional<fhir::epoch_ms> consent_cache::ndoo_refreshed(const context& ctx) {
  std::uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    if (ndoo_refreshed_) return *ndoo_refreshed_;
    generation = generation_;
  }
  http::query_params criteria{{"category", std::string(rules::kind_system) + "|" + std::string(rules::to_string(rules::kind::ndoo))},
                              {"_sort", "-_lastUpdated"}};
  auto query = fhir::search::parse_query(ctx.search_parameters, "Consent", criteria, {.strict = true});
  if (!query) return std::nullopt;
  auto newest = ctx.store.search(store::search_request{*query, 1, {}});
  if (!newest) return std::nullopt;  // not cached: the next request reads again
  std::optional<fhir::epoch_ms> refreshed;
  if (!newest->entries.empty()) refreshed = newest->entries.front().version.info.last_updated;
  std::lock_guard lock(mutex_);
  if (generation == generation_) ndoo_refreshed_ = refreshed;
  return refreshed;
}

fhir::result<fhir::done> check_ndoo_freshness(const context& ctx, const auth::caller& caller) {
  if (ctx.settings.ndoo_max_age <= 0 || !ctx.consents) return fhir::done{};
  if (caller.purpose_category != auth::purpose_class::planning && caller.purpose_category != auth::purpose_class::research)
    return fhir::done{};
  auto refreshed = ctx.consents->ndoo_refreshed(ctx);
  if (refreshed && fhir::now_ms() - *refreshed <= ctx.settings.ndoo_max_age) return fhir::done{};
  return fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                     "The national data opt-out has not been refreshed recently enough to serve planning or research requests; "
                     "retry once it has been",
                     "ndoo-stale");
}

bool under_break_glass(const context& ctx, const auth::caller& caller, std::string_view patient) {
  return caller.purpose_category == auth::purpose_class::emergency && !caller.patient_facing() && ctx.break_glass &&
         ctx.break_glass->is_open(caller, patient, fhir::now_ms());
}

rules::requester requester_of(const context& ctx, const auth::caller& caller, std::string_view patient) {
  const auth::claims& token = *caller.token;
  bool emergency = caller.purpose_category == auth::purpose_class::emergency;
  bool break_glass = emergency && under_break_glass(ctx, caller, patient);
  bool as_direct_care = emergency && !break_glass;
  rules::requester who{.purpose = as_direct_care ? std::string("TREAT") : caller.purpose,
                       .purpose_kind = as_direct_care ? rules::purpose_class::direct : to_decision_class(caller.purpose_category),
                       .controller = caller.controller,
                       .organisation = token.org_ods,
                       .practitioner = caller.patient_facing() ? std::string() : token.subject,
                       .user_reference = token.fhir_user,
                       .groups = {},
                       .patient = token.patient,
                       .break_glass = break_glass};
  return who;
}

std::vector<std::string> patients_of(const store::resource_version& version) {
  if (version.info.type == "Patient") return {version.info.id};
  return audit::referenced_patients(version.json);
}

rules::resource_facts facts_of(const context& ctx, const store::resource_version& version) {
  rules::resource_facts facts{.type = version.info.type, .id = version.info.id, .patient_data = ctx.auth->is_patient_data(version.info.type)};
  facts.last_updated = version.info.last_updated;
  auto parsed = fhir::json::parse(version.json);
  if (!parsed) return facts;
  const value& r = *parsed;
  facts.controller = std::string(fhir::data_controller_of(r));
  if (const value* meta = r.find("meta"); meta && meta->is_object())
    if (const value* security = meta->find("security"); security && security->is_array())
      for (const value& s : security->as_array()) {
        const std::string* system = s.find_string("system");
        const std::string* code = s.find_string("code");
        if (code) facts.security.push_back({system ? *system : std::string(), *code});
      }
  for (std::string_view main_code : {"code", "medicationCodeableConcept", "vaccineCode", "type"})
    if (const value* c = r.find(main_code); c && c->is_object()) {
      facts.codes = codings(c);
      break;
    }
  facts.clinical_date = clinical_date(r);
  collect_references(r, ctx.settings.own_bases(), facts.references);
  return facts;
}

namespace {

// A Provenance target ({"reference": "Type/id" or "Type/id/_history/n", or under our base URL}) the
// caller may see. Unreadable or unresolvable targets, another server's among them, count as hidden.
bool target_visible(const context& ctx, const auth::caller& caller, const value& target) {
  const std::string* ref = target.is_object() ? target.find_string("reference") : nullptr;
  auto local = ref ? fhir::search::local_target_of(*ref, ctx.settings.own_bases()) : std::nullopt;
  if (!local) return false;
  const std::string& type = local->type;
  const std::string& id = local->id;
  if (type == "Provenance") return true;  // a chain of Provenance is decided at its end
  const auto& protected_types = ctx.auth->policy().protected_types();
  if (std::find(protected_types.begin(), protected_types.end(), type) != protected_types.end())
    return ctx.auth->allowed(caller, type, auth::operation::read);
  auto current = ctx.store.read(type, id);
  if (current) return decide(ctx, caller, *current).permitted();
  if (current.error().kind() != fhir::error_kind::gone) return false;
  auto live = last_live_version(ctx, type, id);
  return live && decide(ctx, caller, *live).permitted();
}

}  // namespace

rules::decision decide(const context& ctx, const auth::caller& caller, const store::resource_version& version, bool* break_glass_used) {
  if (!ctx.consents) return {rules::verdict::permit, "default", false};
  // AuditEvent and Consent have access rules of their own (privacy officers, consent administrators and
  // the patient, consent.md section 3): a patient's opt-out does not hide the oversight of their record.
  const auto& protected_types = ctx.auth->policy().protected_types();
  if (std::find(protected_types.begin(), protected_types.end(), version.info.type) != protected_types.end())
    return {rules::verdict::permit, "protected-type", false};
  // A Provenance is visible only when everything it is about is (design step 1); a target that cannot
  // be read hides it (fail closed), and one of a protected type needs the caller's access to that type.
  if (version.info.type == "Provenance") {
    auto parsed = fhir::json::parse(version.json);
    const value* targets = parsed && parsed->is_object() ? parsed->find("target") : nullptr;
    if (targets && targets->is_array())
      for (const value& t : targets->as_array())
        if (!target_visible(ctx, caller, t)) return {rules::verdict::deny, "target-hidden", false};
  }
  if (!ctx.auth->is_patient_data(version.info.type)) return {rules::verdict::permit, "not-patient-data", false};
  std::vector<std::string> patients = patients_of(version);
  // Emergency access is reported only for what it lets the caller see: a hidden resource must not be
  // marked (its 404 would differ from a missing one's).
  bool session = break_glass_used && caller.purpose_category == auth::purpose_class::emergency &&
                 std::any_of(patients.begin(), patients.end(), [&](const std::string& p) { return under_break_glass(ctx, caller, p); });
  auto reported = [&](rules::decision d) {
    if (session && d.permitted()) *break_glass_used = true;
    return d;
  };
  // Without a Consent on record the answer is implied consent, unless the caller is the patient (who
  // may have items withheld): no need to read the resource's facts.
  std::vector<std::vector<rules::consent_rule>> consents;
  for (const std::string& patient : patients) consents.push_back(ctx.consents->rules_of(ctx, patient));
  bool none = std::all_of(consents.begin(), consents.end(), [](const auto& c) { return c.empty(); });
  if (none && !caller.patient_facing()) return reported({rules::verdict::permit, "default", false});
  rules::resource_facts facts = facts_of(ctx, version);
  rules::decision_options options{.classify = [&ctx](std::string_view purpose) {
                                    return to_decision_class(ctx.auth->policy().class_of(purpose));
                                  },
                                  .related = {},
                                  .minimal_patient = true};
  if (patients.empty()) return rules::decide(requester_of(ctx, caller, {}), facts, std::string(), {}, fhir::now_ms(), options);
  rules::decision strictest{rules::verdict::permit, "default", false};
  for (std::size_t i = 0; i < patients.size(); ++i) {
    rules::decision d = rules::decide(requester_of(ctx, caller, patients[i]), facts, patients[i], consents[i], fhir::now_ms(), options);
    if (d.outcome == rules::verdict::deny) return d;
    if (d.outcome == rules::verdict::minimal || strictest.basis == "default") strictest = d;
  }
  return reported(strictest);
}

bool show(const context& ctx, const fhir_request& request, store::resource_version& version, bool in_full_only) {
  if (!request.caller) return true;
  rules::decision d = decide(ctx, *request.caller, version, &request.emergency_access);
  if (in_full_only && d.outcome == rules::verdict::minimal) d.outcome = rules::verdict::deny;
  if (request.audit && d.basis.starts_with("Consent/"))
    request.audit->consent_applied({d.basis, d.outcome == rules::verdict::deny ? "deny" : d.overridden ? "override" : "permit",
                                    d.outcome == rules::verdict::deny ? std::size_t{1} : std::size_t{0}});
  if (d.outcome == rules::verdict::deny) {
    if (ctx.metrics) ctx.metrics->record_consent_withheld();
    if (request.audit && ctx.auth->is_patient_data(version.info.type)) request.audit->targeted(patients_of(version));
    return false;
  }
  if (d.outcome == rules::verdict::minimal) version.json = minimal_patient(version.json);
  return true;
}

bool may_change(const context& ctx, const fhir_request& request, std::string_view type, std::string_view id) {
  if (!request.caller) return true;
  auto current = ctx.store.read(type, id);
  return !current || visible(ctx, request, *current);
}

bool visible(const context& ctx, const fhir_request& request, const store::resource_version& version) {
  return !request.caller || decide(ctx, *request.caller, version).permitted();
}

std::optional<store::resource_version> last_live_version(const context& ctx, const std::string& type, const std::string& id) {
  auto history = ctx.store.history(store::history_request{.type = type, .id = id, .count = 10});
  if (!history) return std::nullopt;
  for (auto& version : history->entries)
    if (!version.info.deleted) return std::move(version);
  return std::nullopt;
}

void keep_linked_includes(const std::vector<store::search_entry>& shown_entries, std::vector<store::search_entry>& includes) {
  auto key = [](std::string_view role, const store::search_entry& e) {
    return store::included_from(role, e.version.info.type, e.version.info.id);
  };
  std::set<std::string> shown;  // the matches shown, and the includes kept so far, each in its role
  for (const auto& e : shown_entries) shown.insert(key(store::included_from_match, e));
  std::vector<bool> kept(includes.size(), false);
  // The store names the entries whose links reached each include; an :iterate include is reached from
  // another include, so keeping one may let another through: until nothing changes.
  for (bool grew = true; grew;) {
    grew = false;
    for (std::size_t i = 0; i < includes.size(); ++i) {
      const std::vector<std::string>& from = includes[i].included_by;
      if (kept[i] || std::none_of(from.begin(), from.end(), [&](const std::string& k) { return shown.contains(k); })) continue;
      kept[i] = grew = true;
      shown.insert(key(store::included_from_include, includes[i]));
    }
  }
  std::vector<store::search_entry> out;
  for (std::size_t i = 0; i < includes.size(); ++i)
    if (kept[i]) out.push_back(std::move(includes[i]));
  includes = std::move(out);
}

std::string withheld_notice() {
  return fhir::json::serialize(fhir::to_operation_outcome(std::vector<fhir::issue>{
      fhir::issue{fhir::severity::warning, fhir::issue_type::suppressed, "Items excluded due to confidentiality and/or patient preferences.",
                  {}, "consent-items-withheld"}}));
}

std::string emergency_access_notice() {
  return fhir::json::serialize(fhir::to_operation_outcome(std::vector<fhir::issue>{fhir::issue{
      fhir::severity::warning, fhir::issue_type::informational,
      "Emergency access (break-glass) is in effect for this patient: this access is audited and will be reviewed.", {},
      "break-glass-in-effect"}}));
}

std::string minimal_patient(const std::string& json) {
  auto parsed = fhir::json::parse(json);
  if (!parsed || !parsed->is_object()) return json;
  value out{fhir::json::object{}};
  for (std::string_view keep : {"resourceType", "id"})
    if (const value* v = parsed->find(keep)) out.set(keep, *v);
  value meta{fhir::json::object{}};
  if (const value* old = parsed->find("meta"); old && old->is_object())
    for (std::string_view keep : {"versionId", "lastUpdated"})
      if (const value* v = old->find(keep)) meta.set(keep, *v);
  value redacted{fhir::json::object{}};
  redacted.set("system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue");
  redacted.set("code", "REDACTED");
  redacted.set("display", "redacted");
  meta.set("security", fhir::json::array{std::move(redacted)});
  out.set("meta", std::move(meta));
  for (std::string_view keep : {"identifier", "name", "gender", "birthDate"})
    if (const value* v = parsed->find(keep)) out.set(keep, *v);
  return fhir::json::serialize(out);
}

}  // namespace server::consent
