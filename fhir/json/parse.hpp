#pragma once
// Parses JSON text (RFC 8259, UTF-8) into a json::value with Boost.JSON's SAX parser.
//
// Syntax errors, comments, invalid UTF-8, trailing content and nesting deeper than `max_depth` fail with an
// error of kind `invalid` whose diagnostics give the line and column. FHIR's own JSON rules (no nulls, no
// empty values, no duplicate keys) are checked afterwards by fhir/validation/json_rules.hpp, which can
// name the offending element as a FHIRPath expression.

#include <cstddef>
#include <string_view>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::json {

struct parse_options {
  // Deep enough for any real resource (nested Questionnaire items, Bundles of resources with contained
  // resources); shallow enough that recursive walks over a parsed tree cannot exhaust a thread's stack.
  std::size_t max_depth = 256;
  // A bound on the values (of any kind) in one document: each costs ~40 bytes of memory, so a 16 MB body
  // of `[0,0,0,...]` would otherwise become ~300 MB. Two million is far beyond any single resource.
  std::size_t max_values = 2'000'000;
};

result<value> parse(std::string_view text, const parse_options& options = {});

}  // namespace fhir::json
