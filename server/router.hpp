#pragma once
// Maps an HTTP request to a FHIR interaction: parses the target, checks the base path and the response
// format, matches the path against the route table, and calls the interaction. Unknown paths give 404,
// unknown resource types 404, a known path with another method 405 (with Allow).
//
// The route table is also the source of truth for the CapabilityStatement: supported_interactions()
// lists exactly what is routed.

#include <string>
#include <string_view>
#include <vector>

#include "server/context.hpp"
#include "server/http/message.hpp"
#include "server/interactions/interactions.hpp"

namespace server {

namespace audit {
class request_audit;
}

// An interaction the server supports, for the CapabilityStatement.
struct supported_interaction {
  std::string_view code;  // "read", "history-system", ...; operations start with '$': "$validate"
  bool system_level;      // rest.interaction (true) or rest.resource.interaction (false)
};

class router {
 public:
  router();

  // Thread-safe (the table is immutable once built). Authenticates the caller from the request's
  // headers (every interaction but the CapabilityStatement needs it).
  http::response handle(const context& ctx, const http::request& request) const;
  // The same, on behalf of a caller already authenticated (batch entries, a transaction's reads).
  http::response handle_as(const context& ctx, const http::request& request, const auth::caller& caller) const;

  std::vector<supported_interaction> supported_interactions() const;

  // The base path segment every FHIR URL starts with: /fhir/...
  static constexpr std::string_view base_segment = "fhir";

 private:
  struct method_binding {
    std::string_view method;
    std::string_view interaction_code;
    interactions::interaction handler;
    bool answers_file = false;  // its answer is an NDJSON file (a bulk download), not FHIR JSON
  };
  struct route {
    std::vector<std::string> pattern;  // literal segments, or "{type}", "{id}", "{vid}"
    std::vector<method_binding> methods;
  };

  // `interaction` (when given) is set to the matched route's interaction code.
  http::response dispatch(const context& ctx, const http::request& request, const auth::caller* caller,
                          std::string_view* interaction = nullptr) const;
  http::response serve(const context& ctx, const http::request& request, const auth::caller* caller,
                       audit::request_audit* audit, std::string_view* interaction) const;
  void add(std::string_view pattern, std::vector<method_binding> methods);
  const route* match(const std::vector<std::string>& path) const;

  std::vector<route> routes_;
};

}  // namespace server
