#include "fhir/validation/invariants.hpp"

#include <fmt/format.h>

namespace fhir::validation {
namespace {

// Enforced by the structural validator, so that one fault gives one issue.
bool checked_structurally(const definitions::constraint& c) { return c.key == "ext-1"; }

constexpr std::string_view ele_1_expression = "hasValue() or (children().count() > id.count())";
bool is_standard_ele_1(const definitions::constraint& c) { return c.key == "ele-1" && c.expression == ele_1_expression; }

bool has_member_besides_id(const json::value* object) {
  if (!object || !object->is_object()) return false;
  for (const json::member& m : object->as_object())
    if (m.key != "id") return true;
  return false;
}

bool has_key(const definitions::element_definition& e, const std::string& key) {
  for (const auto& c : e.constraints)
    if (c.key == key) return true;
  return false;
}

}  // namespace

bool ele_1_holds(const fhirpath::node& n) {
  if (n.value && !n.value->is_object()) return true;  // a primitive with a value
  return has_member_besides_id(n.value) || has_member_besides_id(n.extension);
}

void collect_invariants(const definitions::element_definition& definition, const definitions::element_definition* type_root,
                        const fhirpath::node& node, const std::string& path, const json::value& resource,
                        const json::value& root_resource, std::vector<pending_invariant>& pending, std::vector<issue>& issues) {
  auto take = [&](const definitions::constraint& c) {
    if (c.expression.empty() || checked_structurally(c)) return;
    if (is_standard_ele_1(c)) {
      if (!ele_1_holds(node))
        issues.push_back(issue{c.severity, issue_type::invariant, fmt::format("{}: {} ({})", c.key, c.human, c.expression), path, c.key});
      return;
    }
    pending.push_back(pending_invariant{&c, node, path, &resource, &root_resource});
  };
  for (const auto& c : definition.constraints) take(c);
  if (type_root && type_root != &definition)
    for (const auto& c : type_root->constraints)
      if (!has_key(definition, c.key)) take(c);  // ele-1 is on both
}

void evaluate_invariants(const std::vector<pending_invariant>& pending, const constraint_evaluator& evaluator,
                         fhirpath::environment& env, std::vector<issue>& issues) {
  for (const pending_invariant& p : pending)
    evaluator.evaluate(*p.constraint, fhirpath::item::of_node(p.node), p.path, *p.resource, *p.root_resource, env, issues);
}

}  // namespace fhir::validation
