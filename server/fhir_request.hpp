#pragma once
// A request as interactions see it: the HTTP request plus what the router already worked out.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/auth/authenticator.hpp"
#include "server/http/message.hpp"
#include "server/http/url.hpp"
#include "server/negotiation.hpp"

namespace server {

namespace audit {
class request_audit;
}

struct fhir_request {
  const http::request& http;
  std::vector<std::string> path;  // segments after the base: {"Patient", "123", "_history", "2"}
  http::query_params params;
  bool pretty = false;
  prefer_return prefer = prefer_return::representation;
  // The authenticated caller (set by the router for every interaction but the CapabilityStatement).
  const auth::caller* caller = nullptr;
  // The request's audit record, to which interactions add what they return (null when audit is off).
  audit::request_audit* audit = nullptr;
  // Set by consent enforcement when a break-glass session decided something this request touched: the
  // response then says so (X-Break-Glass header, and a warning in search Bundles). Mutable because the
  // request is otherwise read-only to interactions; one request is served by one thread.
  mutable bool emergency_access = false;

  // The first value of a query parameter, or nullopt.
  std::optional<std::string_view> param(std::string_view name) const {
    for (const auto& [key, value] : params)
      if (key == name) return std::string_view(value);
    return std::nullopt;
  }
};

}  // namespace server
