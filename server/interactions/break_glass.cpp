// POST Patient/[id]/$break-glass (consent.md section 1): an entitled clinician declares an emergency for
// one patient. The body is a Parameters with `reasonCode` (valueCode: unconscious | life-threat |
// cannot-communicate | other) and `reasonText` (valueString, 10-500 characters); nothing else.
//
// The caller must act with an emergency purpose (ETREAT) their token allows, with a break-glass
// entitled role (access_policy::break_glass_entitled), else the uniform 403. A Security Alert
// AuditEvent flagged for review is written durably first (503 if it cannot be), then the session opens
// for (user, role, controller, patient). The answer is the same whether or not the patient exists or
// has Consents, so declaring reveals nothing.

#include <algorithm>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "fhir/text.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/break_glass.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/negotiation.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

constexpr std::string_view reason_codes[] = {"unconscious", "life-threat", "cannot-communicate", "other"};
constexpr std::size_t min_reason_text = 10;
constexpr std::size_t max_reason_text = 500;

struct declaration {
  std::string reason_code;
  std::string reason_text;
};

fhir::error bad_declaration(std::string diagnostics, std::string expression) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, std::move(diagnostics), "break-glass-invalid",
                     std::move(expression));
}

fhir::result<declaration> read_declaration(const fhir_request& request) {
  if (auto format = check_body_format(request.http.header_value("Content-Type")); !format) return std::move(format).error();
  auto body = fhir::json::parse(request.http.body);
  if (!body) return std::move(body).error();
  if (!body->is_object() || fhir::resource_type_of(*body) != "Parameters")
    return bad_declaration("The body of $break-glass must be a Parameters resource", "");
  for (const auto& [name, member] : body->as_object())
    if (name != "resourceType" && name != "id" && name != "meta" && name != "parameter")
      return bad_declaration(fmt::format("Unexpected element '{}' in the $break-glass Parameters", fhir::utf8_prefix(name, 100)),
                             fmt::format("Parameters.{}", fhir::utf8_prefix(name, 100)));
  const fhir::json::value* parameters = body->find("parameter");
  if (!parameters || !parameters->is_array())
    return bad_declaration("$break-glass needs the parameters reasonCode and reasonText", "Parameters.parameter");
  declaration out;
  bool has_code = false, has_text = false;
  const auto& list = parameters->as_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string where = fmt::format("Parameters.parameter[{}]", i);
    const fhir::json::value& p = list[i];
    const std::string* name = p.is_object() ? p.find_string("name") : nullptr;
    if (!name) return bad_declaration("Every parameter needs a name", where);
    std::string_view value_member = *name == "reasonCode" ? "valueCode" : *name == "reasonText" ? "valueString" : "";
    if (value_member.empty())
      return bad_declaration(fmt::format("Unknown parameter '{}': $break-glass takes reasonCode and reasonText", fhir::utf8_prefix(*name, 100)),
                             where);
    bool& seen = *name == "reasonCode" ? has_code : has_text;
    if (seen) return bad_declaration(fmt::format("The parameter '{}' is given twice", *name), where);
    seen = true;
    for (const auto& [member, _] : p.as_object())
      if (member != "name" && member != value_member)
        return bad_declaration(fmt::format("The parameter '{}' takes {} only", *name, value_member), fmt::format("{}.{}", where, member));
    const std::string* v = p.find_string(value_member);
    if (!v) return bad_declaration(fmt::format("The parameter '{}' needs a {}", *name, value_member), where);
    if (*name == "reasonCode") {
      if (std::find(std::begin(reason_codes), std::end(reason_codes), *v) == std::end(reason_codes))
        return bad_declaration(fmt::format("reasonCode '{}' is not one of unconscious, life-threat, cannot-communicate, other",
                                           fhir::utf8_prefix(*v, 100)),
                               where + ".valueCode");
      out.reason_code = *v;
    } else {
      std::size_t length = fhir::utf8_length(*v);
      if (length < min_reason_text || length > max_reason_text)
        return bad_declaration(fmt::format("reasonText must be {} to {} characters (it has {})", min_reason_text, max_reason_text, length),
                               where + ".valueString");
      out.reason_text = *v;
    }
  }
  if (!has_code) return bad_declaration("$break-glass needs the parameter reasonCode", "Parameters.parameter");
  if (!has_text) return bad_declaration("$break-glass needs the parameter reasonText", "Parameters.parameter");
  return out;
}

std::string session_parameters(std::string_view patient, fhir::epoch_ms end) {
  using fhir::json::value;
  value out{fhir::json::object{}};
  out.set("resourceType", "Parameters");
  auto parameter = [](std::string_view name, std::string_view member, value v) {
    value p{fhir::json::object{}};
    p.set("name", name);
    p.set(member, std::move(v));
    return p;
  };
  value reference{fhir::json::object{}};
  reference.set("reference", fmt::format("Patient/{}", patient));
  out.set("parameter", fhir::json::array{parameter("patient", "valueReference", std::move(reference)),
                                         parameter("sessionEnd", "valueInstant", value(fhir::format_instant(end)))});
  return fhir::json::serialize(out);
}

}  // namespace

http::response break_glass(const context& ctx, const fhir_request& request) {
  if (request.path[0] != "Patient")
    return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                      "$break-glass is defined on Patient only: POST Patient/[id]/$break-glass", "route-not-found"),
                          &request);
  const auth::caller& caller = *request.caller;
  bool entitled = !caller.patient_facing() && caller.purpose_category == auth::purpose_class::emergency &&
                  ctx.auth->policy().break_glass_entitled(*caller.token);
  if (!entitled) return error_response(auth::forbidden(), &request);
  const std::string& patient = request.path[1];
  if (auto id = check_id(ctx, patient); !id) return error_response(id.error(), &request);
  auto declared = read_declaration(request);
  if (!declared) return error_response(declared.error(), &request);

  fhir::epoch_ms now = fhir::now_ms();
  fhir::epoch_ms end = now + ctx.break_glass->length();
  if (request.audit) {
    auto alerted = request.audit->security_alert(
        {.patient = patient, .reason_code = declared->reason_code, .reason_text = declared->reason_text, .session_end = end});
    if (!alerted) {
      auto unavailable = error_response(fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                                                    "The emergency access could not be audited, so it was not opened; retry",
                                                    "audit-unavailable"),
                                        &request);
      unavailable.set_header("Retry-After", "1");
      return unavailable;
    }
  }
  end = ctx.break_glass->open(caller, patient, now);
  request.emergency_access = true;
  return json_response(200, session_parameters(patient, end), request);
}

}  // namespace server::interactions
