#include "fhir/validation/constraint_evaluator.hpp"

#include <mutex>

#include <fmt/format.h>

namespace fhir::validation {

const fhirpath::expression* constraint_evaluator::compiled(const std::string& text, std::string* why) const {
  {
    std::shared_lock lock(mutex_);
    if (auto it = cache_.find(text); it != cache_.end()) {
      if (why) *why = it->second.error;
      return it->second.expression.get();
    }
  }
  entry e;
  if (auto result = fhirpath::compile(text, defs_)) e.expression = std::make_unique<fhirpath::expression>(std::move(*result));
  else e.error = result.error().summary();
  std::unique_lock lock(mutex_);
  auto [it, inserted] = cache_.emplace(text, std::move(e));
  if (why) *why = it->second.error;
  return it->second.expression.get();
}

void constraint_evaluator::evaluate(const definitions::constraint& c, const fhirpath::item& node, const std::string& path,
                                    const json::value& resource, const json::value& root_resource,
                                    fhirpath::environment& env, std::vector<issue>& issues) const {
  if (c.expression.empty()) return;
  std::string why;
  const fhirpath::expression* expression = compiled(c.expression, &why);
  if (!expression) {
    issues.push_back(issue{severity::warning, issue_type::processing,
                           fmt::format("{}: the invariant does not compile: {}", c.key, why), path, "invariant-not-compiled"});
    return;
  }
  auto result = expression->evaluate(node, resource, env, &root_resource);
  if (!result) {
    issues.push_back(issue{severity::warning, issue_type::processing,
                           fmt::format("{}: the invariant could not be evaluated: {}", c.key, result.error().summary()), path,
                           "invariant-not-evaluated"});
    return;
  }
  // The invariant holds when the expression is true; an empty result does not fail it.
  bool failed = result->size() == 1 && (*result)[0].kind() == fhirpath::item_kind::boolean && !(*result)[0].as_boolean();
  if (!failed && result->size() == 1 && (*result)[0].kind() == fhirpath::item_kind::node) {
    const auto& n = (*result)[0].as_node();
    failed = n.value && n.value->is_bool() && !n.value->as_bool();
  }
  if (!failed) return;
  issues.push_back(issue{c.severity, issue_type::invariant, fmt::format("{}: {} ({})", c.key, c.human, c.expression), path, c.key});
}

}  // namespace fhir::validation
