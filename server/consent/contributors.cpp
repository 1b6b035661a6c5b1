#include "server/consent/contributors.hpp"

#include <algorithm>

#include "server/consent/consent_enforcement.hpp"
#include "server/http/url.hpp"

namespace server::consent {
namespace {

// Contributor pages read per clause before giving up (a clause with only hidden contributors among the
// first this many is treated as unsatisfied: fail closed).
constexpr int max_pages = 5;
constexpr std::size_t page_size = 50;

// Whether `type` has a visible resource matching `criteria`.
bool any_visible(const context& ctx, const fhir_request& request, const std::string& type, const http::query_params& criteria) {
  auto query = fhir::search::parse_query(ctx.search_parameters, type, criteria, {.strict = true, .terminology = &ctx.validator.terminology()});
  if (!query) return false;  // a clause that cannot be restated is not trusted
  std::string token;
  for (int page = 0; page < max_pages; ++page) {
    auto found = ctx.store.search(store::search_request{*query, page_size, token});
    if (!found) return false;
    for (const store::search_entry& e : found->entries)
      if (e.mode == store::search_mode::match && visible(ctx, request, e.version)) return true;
    if (found->next_token.empty()) return false;
    token = found->next_token;
  }
  return false;
}

// `subject:Patient.identifier` -> `identifier`: the chain after its first hop.
std::string after_first_hop(const std::string& name) {
  std::size_t dot = name.find('.');
  return dot == std::string::npos ? std::string() : name.substr(dot + 1);
}

// `_has:Observation:subject:code:text` -> `code:text`: the parameter the referring resource must meet.
std::string has_final_parameter(const std::string& name) {
  std::size_t at = 0;
  for (int colons = 0; colons < 3 && at != std::string::npos; ++colons) at = name.find(':', at + 1);
  return at == std::string::npos ? std::string() : name.substr(at + 1);
}

bool clause_holds_visibly(const context& ctx, const fhir_request& request, const fhir::search::clause& c,
                          const store::resource_version& match) {
  const std::string& type = match.info.type;
  const std::string& id = match.info.id;
  if (c.has) {
    std::string final_parameter = has_final_parameter(c.name);
    if (final_parameter.empty()) return false;
    return any_visible(ctx, request, c.has->source_type,
                       {{c.has->reference->code, type + "/" + id}, {final_parameter, c.raw_value}});
  }
  const fhir::search::chain_link& first = c.chain.front();
  std::string rest = after_first_hop(c.name);
  if (rest.empty()) return false;
  for (const std::string& target : first.target_types) {
    // Reference data (a Practitioner, an Organization) is visible to whoever may search it: no need to look.
    if (!ctx.auth->is_patient_data(target)) return true;
    if (any_visible(ctx, request, target, {{"_has:" + type + ":" + first.parameter->code + ":_id", id}, {rest, c.raw_value}}))
      return true;
  }
  return false;
}

}  // namespace

bool contributors_visible(const context& ctx, const fhir_request& request, const fhir::search::search_query& query,
                          const store::resource_version& match) {
  if (!request.caller) return true;
  for (const fhir::search::clause& c : query.clauses) {
    if (c.chain.empty() && !c.has) continue;
    if (!clause_holds_visibly(ctx, request, c, match)) return false;
  }
  return true;
}

}  // namespace server::consent
