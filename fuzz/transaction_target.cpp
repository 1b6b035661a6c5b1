// Fuzz target: a Bundle POSTed to the base URL (transaction or batch), through the whole application.

#include <string>

#include "fuzz/fuzz_application.hpp"
#include "fuzz/targets.hpp"

namespace fhir::fuzz {

void transaction_target(std::string_view input) {
  server::http::request request{.method = "POST",
                                .target = "/fhir",
                                .headers = {{"Content-Type", "application/fhir+json"},
                                            {"Prefer", "return=representation"}},
                                .body = std::string(input),
                                .remote_address = "127.0.0.1"};
  unsigned status = handle(request);
  if (status >= 500 && status != 503) __builtin_trap();  // a hostile bundle is the caller's error, not ours
}

}  // namespace fhir::fuzz
