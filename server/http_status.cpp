#include "server/http_status.hpp"

namespace server {

unsigned http_status_of(fhir::error_kind kind) {
  switch (kind) {
    case fhir::error_kind::invalid: return 400;
    case fhir::error_kind::unprocessable: return 422;
    case fhir::error_kind::not_found: return 404;
    case fhir::error_kind::gone: return 410;
    case fhir::error_kind::conflict: return 409;
    case fhir::error_kind::precondition_failed: return 412;
    case fhir::error_kind::method_not_allowed: return 405;
    case fhir::error_kind::not_acceptable: return 406;
    case fhir::error_kind::unsupported_media_type: return 415;
    case fhir::error_kind::too_large: return 413;
    case fhir::error_kind::not_supported: return 501;
    case fhir::error_kind::unauthenticated: return 401;
    case fhir::error_kind::forbidden: return 403;
    case fhir::error_kind::busy: return 503;
    case fhir::error_kind::fault: return 500;
  }
  return 500;
}

}  // namespace server
