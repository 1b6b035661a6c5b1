#include "server/interactions/conditional.hpp"

#include <charconv>

#include <fmt/format.h>

#include "fhir/resource.hpp"
#include "fhir/text.hpp"
#include "server/access_gate.hpp"

namespace server::interactions {

fhir::result<fhir::search::search_query> conditional_query(const context& ctx, std::string_view type, std::string_view query,
                                                           const auth::caller* caller, bool own_records_only) {
  auto target = http::parse_target("/?" + std::string(query));
  if (!target)
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                       fmt::format("'{}' is not a valid search query", fhir::utf8_prefix(query, 200)), "conditional-query-invalid");
  return conditional_query(ctx, type, target->params, caller, own_records_only);
}

fhir::result<fhir::search::search_query> conditional_query(const context& ctx, std::string_view type,
                                                           const http::query_params& params, const auth::caller* caller,
                                                           bool own_records_only) {
  std::string controller = own_records_only && caller ? caller->controller : std::string();
  http::query_params criteria = params;
  if (!controller.empty()) criteria.emplace_back("_tag", std::string(fhir::data_controller_system) + "|" + std::string(controller));
  auto parsed = fhir::search::parse_query(ctx.search_parameters, type, criteria,
                                          {.strict = true, .terminology = &ctx.validator.terminology(),
                                           .local_bases = ctx.settings.own_bases()});
  if (!parsed) return parsed;
  if (caller)
    if (auto allowed = check_query_reach(ctx, *caller, *parsed); !allowed) return std::move(allowed).error();
  if (parsed->clauses.size() <= (controller.empty() ? 0u : 1u))  // the caller's own criteria, not only the controller's
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                       fmt::format("A conditional {} needs search criteria; '{}' has none", type,
                                   fhir::utf8_prefix(http::encode_query(params), 200)),
                       "conditional-query-empty");
  return parsed;
}

fhir::result<std::optional<std::string>> single_match(store::transaction& tx, const fhir::search::search_query& query,
                                                      std::string_view what) {
  auto ids = tx.match(query, 2);
  if (!ids) return std::move(ids).error();
  if (ids->empty()) return std::optional<std::string>();
  if (ids->size() > 1)
    return fhir::error(fhir::error_kind::precondition_failed, fhir::issue_type::multiple_matches,
                       fmt::format("{} matches more than one {}; make the criteria select one resource", what,
                                   query.types.empty() ? std::string("resource") : query.types.front()),
                       "conditional-multiple-matches");
  return std::optional<std::string>(std::move(ids->front()));
}

fhir::result<std::int64_t> parse_version_etag(std::string_view value, std::string_view name) {
  std::string_view v = value;
  if (v == "*") return store::preconditions::any_version;
  if (v.starts_with("W/")) v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  std::int64_t version = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
  if (ec != std::errc() || end != v.data() + v.size() || version < 1)
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                       fmt::format("{} '{}' is not a version ETag such as W/\"3\"", name, fhir::utf8_prefix(value, 100)),
                       "etag-invalid");
  return version;
}

}  // namespace server::interactions
