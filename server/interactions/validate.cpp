#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "fhir/text.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/negotiation.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

struct validate_parameters {
  fhir::json::value resource;  // null when absent (mode=delete needs none)
  std::vector<std::string> profiles;
  std::string mode;
};

fhir::error bad_request(std::string diagnostics, std::string id) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, std::move(diagnostics), std::move(id));
}

// The body is the resource itself, or a Parameters with `resource`, `profile` and `mode`
// (resource-operation-validate.html); the query may also give profile and mode.
fhir::result<validate_parameters> read_parameters(const fhir_request& request) {
  validate_parameters out;
  for (const auto& [key, value] : request.params) {
    if (key == "profile") out.profiles.push_back(value);
    if (key == "mode") out.mode = value;
  }
  if (request.http.body.empty()) return out;
  if (auto format = check_body_format(request.http.header_value("Content-Type")); !format) return std::move(format).error();
  auto body = fhir::json::parse(request.http.body);
  if (!body) return std::move(body).error();
  if (fhir::resource_type_of(*body) != "Parameters") {
    out.resource = std::move(*body);
    return out;
  }
  fhir::json::value* parameters = body->find("parameter");
  if (parameters && !parameters->is_array()) return bad_request("Parameters.parameter must be an array", "parameters-invalid");
  if (parameters) {
    for (fhir::json::value& p : parameters->as_array()) {
      const std::string* name = p.find_string("name");
      if (!name) return bad_request("Every parameter of $validate needs a name", "parameters-invalid");
      if (*name == "resource") {
        fhir::json::value* r = p.find("resource");
        if (!r || !r->is_object()) return bad_request("The parameter 'resource' must carry a resource", "parameters-invalid");
        out.resource = std::move(*r);
      } else if (*name == "profile") {
        const std::string* url = p.find_string("valueUri");
        if (!url) url = p.find_string("valueCanonical");
        if (!url) return bad_request("The parameter 'profile' must have a valueUri or valueCanonical", "parameters-invalid");
        out.profiles.push_back(*url);
      } else if (*name == "mode") {
        const std::string* mode = p.find_string("valueCode");
        if (!mode) return bad_request("The parameter 'mode' must have a valueCode", "parameters-invalid");
        out.mode = *mode;
      } else {
        return bad_request(fmt::format("$validate has no parameter '{}'", fhir::utf8_prefix(*name, 100)), "parameters-invalid");
      }
    }
  }
  return out;
}

http::response outcome(std::vector<fhir::issue> issues, const fhir_request& request) {
  // An empty OperationOutcome is not valid (issue is 1..*): say that all is well.
  if (issues.empty())
    issues.push_back(fhir::issue{fhir::severity::information, fhir::issue_type::informational,
                                 "No issues were found: the resource is valid", {}, "validation-ok"});
  return json_response(200, fhir::json::serialize(fhir::to_operation_outcome(issues)), request);
}

}  // namespace

// resource-operation-validate.html: validates without storing and answers 200 with an OperationOutcome
// whether or not the resource is valid; 4xx only when the request itself is unusable.
http::response validate(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  const std::string* id = request.path.size() == 3 ? &request.path[1] : nullptr;
  if (id)
    if (auto valid = check_id(ctx, *id); !valid) return error_response(valid.error(), &request);
  auto parameters = read_parameters(request);
  if (!parameters) return error_response(parameters.error(), &request);
  std::string mode = parameters->mode.empty() ? (id ? "update" : "create") : parameters->mode;
  if (mode != "create" && mode != "update" && mode != "delete")
    return error_response(bad_request(fmt::format("Unknown $validate mode '{}' (create, update or delete)", fhir::utf8_prefix(mode, 50)),
                                      "validate-mode-unknown"),
                          &request);
  if (mode != "create" && !id)
    return error_response(bad_request(fmt::format("mode={} needs an instance: POST [type]/[id]/$validate", mode), "validate-mode-needs-id"),
                          &request);

  if (mode == "delete") {
    // Nothing stops a delete here (no referential integrity is enforced), as long as there is something
    // to delete.
    auto current = ctx.store.read(type, *id);
    if (!current) return error_response(current.error(), &request);
    if (!consent::visible(ctx, request, *current)) return error_response(store::not_found_error(type, *id), &request);
    return outcome({fhir::issue{fhir::severity::information, fhir::issue_type::informational,
                                fmt::format("{}/{} may be deleted", type, *id), {}, "validation-ok"}},
                   request);
  }
  if (parameters->resource.is_null())
    return error_response(bad_request("Send the resource to validate, as the body or as the parameter 'resource'", "body-missing"),
                          &request);
  std::string_view body_type = fhir::resource_type_of(parameters->resource);
  if (!body_type.empty() && body_type != type)
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                      fmt::format("The resource is a {}, but the URL is for {}", body_type, type),
                                      "resource-type-mismatch", "resourceType"),
                          &request);

  auto checked = ctx.validator.check(parameters->resource, parameters->profiles);
  if (mode == "update") {
    const std::string* body_id = parameters->resource.find_string("id");
    if (!body_id || *body_id != *id)
      checked.issues.push_back(fhir::issue{fhir::severity::error, fhir::issue_type::invalid,
                                           fmt::format("An update of {}/{} needs a resource with id '{}'", type, *id, *id),
                                           fmt::format("{}.id", type), "id-mismatch"});
  }
  return outcome(std::move(checked.issues), request);
}

}  // namespace server::interactions
