#pragma once
// fhir-server token and fhir-server jwks: a minimal identity provider for tests, examples and trying the
// server with curl (docs/authentication.md).

#include <ostream>

#include "server/cli/options.hpp"

namespace server::cli {

int run_token(const token_options& options, std::ostream& out, std::ostream& err);
int run_jwks(const token_options& options, std::ostream& out, std::ostream& err);

}  // namespace server::cli
