// Fuzz target: a search URL, decoded as the server decodes request targets and parsed for its type.

#include <string>

#include "fhir/search/search_parameters.hpp"
#include "fhir/search/search_query.hpp"
#include "fhir/terminology/terminology_service.hpp"
#include "fuzz/targets.hpp"
#include "profiles/definition_set.hpp"
#include "server/http/url.hpp"

namespace fhir::fuzz {

void search_query_target(std::string_view input) {
  static const search::search_parameters parameters(profiles::r4_uk_core());
  static const terminology::terminology_service terminology(profiles::r4_uk_core());

  auto target = server::http::parse_target("/" + std::string(input));
  if (!target) return;
  // "Patient?..." searches one type; "?..." is a system search. Unknown types are the router's 404.
  std::string type = target->segments.empty() ? "" : target->segments.front();
  if (!type.empty() && !profiles::r4_uk_core().find_type(type)) return;
  for (bool strict : {false, true}) {
    auto query = search::parse_query(parameters, type, target->params, {.strict = strict, .terminology = &terminology});
    if (!query && query.error().issues().empty()) __builtin_trap();  // a failure always says why
  }
}

}  // namespace fhir::fuzz
