#pragma once
// The one place where an error kind becomes an HTTP status.

#include "fhir/outcome.hpp"

namespace server {

unsigned http_status_of(fhir::error_kind kind);

}  // namespace server
