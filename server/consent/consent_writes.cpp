#include "server/consent/consent_writes.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/consent/consent_rule.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "fhir/search/search_query.hpp"
#include "server/context.hpp"
#include "server/http/url.hpp"

namespace server::consent {
namespace {

using fhir::json::value;
namespace rules = fhir::consent;

fhir::error refused(std::string diagnostics, std::string id, std::string expression = "Consent.status") {
  return fhir::error(fhir::error_kind::unprocessable, fhir::issue_type::business_rule, std::move(diagnostics), std::move(id),
                     std::move(expression));
}

// Statuses move forward only (the history keeps every step).
bool may_move(std::string_view from, std::string_view to) {
  if (from == to) return true;
  if (from == "draft" || from == "proposed") return true;
  if (from == "active") return to == "inactive" || to == "entered-in-error";
  if (from == "rejected" || from == "inactive") return to == "entered-in-error";
  return false;  // entered-in-error is final
}

// The Consent without what a status change may touch (status, and meta and narrative, which the server
// and clients rewrite): two versions equal on this differ by status only.
std::string without_status(value consent) {
  if (consent.is_object())
    for (std::string_view member : {"status", "meta", "text"}) consent.erase(member);
  return fhir::json::serialize(consent);
}

fhir::result<rules::consent_rule> rule_of(const store::resource_version& version, value& parsed) {
  auto json = fhir::json::parse(version.json);
  if (!json) return std::move(json).error();
  parsed = std::move(*json);
  return rules::read_consent(parsed);
}

// Another active opt-out of the same patient, in the unit (so two racing writes cannot both pass).
fhir::result<bool> another_active_optout(const context& ctx, store::transaction& unit, const rules::consent_rule& rule) {
  http::query_params criteria{{"patient", "Patient/" + rule.patient},
                              {"status", "active"},
                              {"category", std::string(rules::kind_system) + "|" + std::string(rules::to_string(rules::kind::optout))}};
  auto query = fhir::search::parse_query(ctx.search_parameters, "Consent", criteria, {.strict = true});
  if (!query) return std::move(query).error();
  auto ids = unit.match(*query, 2);
  if (!ids) return std::move(ids).error();
  return std::any_of(ids->begin(), ids->end(), [&](const std::string& id) { return id != rule.id; });
}

// Provenance of a status change: what changed (the new version, the old one as its revision source),
// who (the caller, for their organisation) and when.
value status_change_provenance(const auth::caller& caller, const store::version_info& info, std::string_view from,
                               std::string_view to) {
  auto coding = [](std::string_view system, std::string_view code) {
    value c{fhir::json::object{}};
    c.set("system", system);
    c.set("code", code);
    return c;
  };
  auto reference = [](std::string text) {
    value r{fhir::json::object{}};
    r.set("reference", std::move(text));
    return r;
  };
  value p{fhir::json::object{}};
  p.set("resourceType", "Provenance");
  p.set("target", fhir::json::array{reference(fmt::format("Consent/{}/_history/{}", info.id, info.version))});
  p.set("recorded", fhir::format_instant(info.last_updated));
  value activity{fhir::json::object{}};
  activity.set("coding", fhir::json::array{coding("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "UPDATE")});
  activity.set("text", fmt::format("Consent status changed from {} to {}", from, to));
  p.set("activity", std::move(activity));
  value agent{fhir::json::object{}};
  value type{fhir::json::object{}};
  type.set("coding", fhir::json::array{coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author")});
  agent.set("type", std::move(type));
  const auth::claims& token = *caller.token;
  value who{fhir::json::object{}};
  if (!token.fhir_user.empty()) who.set("reference", token.fhir_user);
  value identifier{fhir::json::object{}};
  identifier.set("system", caller.patient_facing() ? "https://shared-care-record.github.io/fhir/Id/patient-login"
                                                   : "https://fhir.nhs.uk/Id/sds-user-id");
  identifier.set("value", token.subject);
  who.set("identifier", std::move(identifier));
  agent.set("who", std::move(who));
  if (!caller.controller.empty()) {
    value organisation{fhir::json::object{}};
    value ods{fhir::json::object{}};
    ods.set("system", rules::ods_system);
    ods.set("value", caller.controller);
    organisation.set("identifier", std::move(ods));
    agent.set("onBehalfOf", std::move(organisation));
  }
  p.set("agent", fhir::json::array{std::move(agent)});
  if (info.version > 1) {
    value source{fhir::json::object{}};
    source.set("role", "revision");
    source.set("what", reference(fmt::format("Consent/{}/_history/{}", info.id, info.version - 1)));
    p.set("entity", fhir::json::array{std::move(source)});
  }
  if (!caller.controller.empty()) {
    value meta{fhir::json::object{}};
    meta.set("tag", fhir::json::array{coding(fhir::data_controller_system, caller.controller)});
    p.set("meta", std::move(meta));
  }
  return p;
}

fhir::result<fhir::done> check_one(const context& ctx, const auth::caller& caller, store::transaction& unit,
                                   const store::version_info& info) {
  auto current = unit.read_version(info.type, info.id, info.version);
  if (!current) return std::move(current).error();
  value parsed;
  auto rule = rule_of(*current, parsed);
  if (!rule) return std::move(rule).error();  // the validator refused these already; never stored half-read

  std::optional<rules::consent_rule> before;
  value before_json;
  if (info.version > 1 && !info.created) {
    auto previous = unit.read_version(info.type, info.id, info.version - 1);
    if (previous) {
      auto old = rule_of(*previous, before_json);
      // A stored Consent that cannot be read is enforced as a deny (fail closed): it is not overwritten
      // as if it were new.
      if (!old) return refused("The stored Consent cannot be interpreted; record a new one", "consent-stored-unreadable", "Consent");
      before = std::move(*old);
    } else if (previous.error().kind() != fhir::error_kind::gone) {
      return std::move(previous).error();
    }
  }

  if (caller.patient_facing()) {
    // A patient raises their own objection, and may withdraw it; nothing else.
    if (rule->kind != rules::kind::art21_objection || rule->patient != caller.token->patient) return auth::forbidden();
    if (!before && rule->status != "proposed")
      return refused("An objection raised by the patient is 'proposed' until a consent administrator decides it",
                     "consent-objection-proposed");
    if (before && !(rule->status == "inactive" || rule->status == before->status))
      return refused("A patient may withdraw their objection (status inactive); deciding it is the consent administrator's",
                     "consent-objection-decision");
  }
  if (before) {
    if (without_status(before_json) != without_status(parsed))
      return refused("A Consent changes by its status only: record a new Consent for a different rule", "consent-change-not-status",
                     "Consent");
    if (!may_move(before->status, rule->status))
      return refused(fmt::format("A Consent's status cannot move from {} to {}", before->status, rule->status),
                     "consent-status-transition");
  }
  if (rule->status == "active" && rule->kind == rules::kind::optout) {
    auto clash = another_active_optout(ctx, unit, *rule);
    if (!clash) return std::move(clash).error();
    if (*clash)
      return refused(fmt::format("Patient/{} already has an active opt-out; change its status instead of adding another", rule->patient),
                     "consent-optout-exists");
  }
  if (before && before->status != rule->status) {
    auto written = unit.create(unit.prepare(status_change_provenance(caller, current->info, before->status, rule->status)), {});
    if (!written) return std::move(written).error();
  }
  return fhir::done{};
}

}  // namespace

fhir::result<fhir::done> check_consent_writes(const context& ctx, const auth::caller& caller, store::transaction& unit,
                                              const std::vector<store::audited_write>& written) {
  for (const store::audited_write& w : written) {
    if (w.info.type != "Consent" || w.info.deleted) continue;
    if (auto checked = check_one(ctx, caller, unit, w.info); !checked) return checked;
  }
  return fhir::done{};
}

}  // namespace server::consent
