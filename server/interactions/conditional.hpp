#pragma once
// Conditional interactions (http.html#ccreate, #cond-update, #cdelete, #cread) and the matching they
// share with transaction Bundles: a search, run inside the write's own unit of work so that nothing can
// be created between the match and the write.

#include <optional>
#include <string>
#include <string_view>

#include "fhir/result.hpp"
#include "fhir/search/search_query.hpp"
#include "server/context.hpp"
#include "server/http/url.hpp"
#include "store/store.hpp"

namespace server::interactions {

// The search of a conditional interaction on `type`: `query` is "identifier=sys|123&active=true" (the
// If-None-Exist header, a conditional reference's or request.url's query part). Strict: an unknown or
// unsupported parameter, or no parameter at all, fails invalid, because an ignored criterion would match
// (and overwrite or delete) more than the client meant.
// The caller must be allowed to search every type the criteria reach (chains, _has). With
// `own_records_only`, only resources of the caller's data controller match: a conditional create, update,
// delete or patch never touches another organisation's records (consent.md section 3).
fhir::result<fhir::search::search_query> conditional_query(const context& ctx, std::string_view type, std::string_view query,
                                                           const auth::caller* caller, bool own_records_only = true);
fhir::result<fhir::search::search_query> conditional_query(const context& ctx, std::string_view type,
                                                           const http::query_params& params, const auth::caller* caller,
                                                           bool own_records_only = true);

// The one resource matching `query` inside `tx`: nullopt when none does; fails precondition_failed (412)
// when several do. `what` names the condition in the diagnostic ("If-None-Exist", "the conditional update").
fhir::result<std::optional<std::string>> single_match(store::transaction& tx, const fhir::search::search_query& query,
                                                      std::string_view what);

// A version ETag (W/"3" or "3"; "*" gives store::preconditions::any_version) from the header or Bundle
// element `name`; fails invalid otherwise.
fhir::result<std::int64_t> parse_version_etag(std::string_view value, std::string_view name);

}  // namespace server::interactions
