// Fuzz target: the FHIRPath lexer, parser, static checks and evaluator.

#include <optional>

#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/parse.hpp"
#include "fuzz/targets.hpp"
#include "profiles/definition_set.hpp"

namespace fhir::fuzz {

namespace {

const json::value& default_resource() {
  static const json::value patient = *json::parse(R"({"resourceType":"Patient","id":"p1",
    "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],
    "name":[{"use":"official","family":"Smith","given":["Jane","Ann"]}],"gender":"female",
    "birthDate":"1970-01-25","active":true,"deceasedBoolean":false,
    "extension":[{"url":"http://example.org/x","valueDecimal":1.50}],
    "contact":[{"telecom":[{"system":"phone","value":"0123"}]}]})");
  return patient;
}

void evaluate(const fhirpath::expression& expression, const json::value& resource) {
  const auto& definitions = profiles::r4_uk_core();
  fhirpath::environment env(definitions);
  env.set_string("greeting", "hello");
  (void)expression.evaluate(resource, env);
}

}  // namespace

void fhirpath_target(std::string_view input) {
  const auto& definitions = profiles::r4_uk_core();
  std::size_t line_end = input.find('\n');
  std::string_view text = input.substr(0, line_end);
  std::optional<json::value> parsed;
  if (line_end != std::string_view::npos) {
    auto document = json::parse(input.substr(line_end + 1));
    if (document && document->is_object()) parsed = std::move(*document);
  }
  const json::value& resource = parsed ? *parsed : default_resource();

  if (auto loose = fhirpath::compile(text, definitions)) evaluate(*loose, resource);
  if (const std::string* type = resource.find_string("resourceType")) {
    if (definitions.find_type(*type)) {
      if (auto strict = fhirpath::compile(text, definitions, {.root_type = *type, .strict = true, .check_ordered_functions = true}))
        evaluate(*strict, resource);
    }
  }
}

}  // namespace fhir::fuzz
