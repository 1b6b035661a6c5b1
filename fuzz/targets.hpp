#pragma once
// The fuzz targets: each takes one input and drives one part of the server with it. A target returns
// normally for every input, however hostile; a crash, a sanitizer report, a leak or a hang is a finding.
//
// The same functions run under libFuzzer (fuzz/libfuzzer_entry.cpp, clang, `fuzz/run.sh`) and, in the
// ordinary test build, under fuzz/replay.cpp, which feeds them the seeds and every input that ever
// crashed one (fuzz/regressions/<target>/), so a fixed bug stays fixed under g++ and its sanitizers too.

#include <string_view>

namespace fhir::fuzz {

// JSON parsing and full validation (structure, invariants, UK Core and our default profiles) of a
// resource, as every write runs it.
void resource_target(std::string_view input);
// FHIRPath: the first line is an expression, the rest a resource to evaluate it on (a Patient if the
// rest is not JSON). Compiled loosely and, when the resource has a type, strictly for that type.
void fhirpath_target(std::string_view input);
// The search query parser: "Type?name=value&..." (or "?..." for a system search), percent-decoded as the
// server decodes URLs, parsed for the type.
void search_query_target(std::string_view input);
// Raw bytes written to the real HTTP transport (in-process, on loopback) in front of the application:
// request line, headers, body, pipelined requests, whatever the input holds.
void http_target(std::string_view input);
// The input POSTed to the base URL as a Bundle (transactions, batches): the transaction processor with
// its reference rewriting, conditional references and rollbacks, and the batch processor.
void transaction_target(std::string_view input);

struct target {
  std::string_view name;
  void (*run)(std::string_view input);
};

inline constexpr target targets[] = {
    {"resource", resource_target},         {"fhirpath", fhirpath_target},
    {"search_query", search_query_target}, {"http", http_target},
    {"transaction", transaction_target},
};

}  // namespace fhir::fuzz
