#include "fhir/validation/invariant_validator.hpp"

#include <charconv>

#include <fmt/format.h>

#include "fhir/fhirpath/model.hpp"
#include "fhir/resource.hpp"

namespace fhir::validation {
namespace {

using definitions::element_definition;
using fhirpath::item;

// Constraints enforced elsewhere, so that one fault gives one issue.
bool checked_structurally(const definitions::constraint& c) { return c.key == "ext-1"; }

// ele-1, on every element of every type: "All FHIR elements must have a @value or children". Evaluated
// natively when the definition states it in its standard form: a node passes when it has a primitive
// value, or any child besides its id (in JSON: any member but "id", of the object or of a primitive's
// `_name` half). tests/fhir/invariant_validator_test.cpp checks this agrees with the FHIRPath.
constexpr std::string_view ele_1_expression = "hasValue() or (children().count() > id.count())";
bool is_standard_ele_1(const definitions::constraint& c) { return c.key == "ele-1" && c.expression == ele_1_expression; }

bool has_member_besides_id(const json::value* object) {
  if (!object || !object->is_object()) return false;
  for (const json::member& m : object->as_object())
    if (m.key != "id") return true;
  return false;
}

bool ele_1_holds(const fhirpath::node& n) {
  if (n.value && !n.value->is_object()) return true;  // a primitive with a value
  return has_member_besides_id(n.value) || has_member_besides_id(n.extension);
}

class walker {
 public:
  walker(const definitions::registry& defs, const constraint_evaluator& evaluator, fhirpath::environment& env,
         std::vector<issue>& issues)
      : defs_(defs), evaluator_(evaluator), model_(defs), env_(env), issues_(issues), extension_type_(defs.find_type("Extension")) {}

  void nested_resource(const item& node, const json::value* root_resource) {
    const auto* sd = node.as_node().type->definition;
    if (!sd) return;
    const json::value& json = *node.as_node().value;
    // %resource is the resource itself; %rootResource its container, if it is contained.
    element(node, sd->root(), nullptr, json, root_resource ? *root_resource : json);
  }

  std::string& path() { return path_; }

 private:
  // `definition` is the element's own definition; `type_root` the root of its type's definition, whose
  // constraints apply too (nullptr for backbone elements and resources, which have none beyond their own).
  // path_ names the node; children append their segment and restore it.
  void element(const item& node, const element_definition& definition, const element_definition* type_root,
               const json::value& resource, const json::value& root_resource) {
    for (const auto& c : definition.constraints) evaluate(c, node, resource, root_resource);
    if (type_root && type_root != &definition) {
      for (const auto& c : type_root->constraints) {
        if (has_key(definition, c.key)) continue;  // ele-1 is on both
        evaluate(c, node, resource, root_resource);
      }
    }
    const element_definition* scope = model_.scope_of(node.as_node());
    if (!scope || !node.as_node().value || !node.as_node().value->is_object()) {
      primitive_children(node, resource, root_resource);
      return;
    }
    const std::size_t path_length = path_.size();
    for (const element_definition* child : scope->children) {
      // The children are copied out of the arena (each evaluation reuses it) onto a stack shared by the
      // whole walk, so that no allocation happens per element.
      const std::size_t base = stack_.size();
      {
        fhirpath::collection children(&env_.memory());
        model_.children(node, child->name, child->name_id, children);
        if (children.empty()) continue;
        stack_.insert(stack_.end(), children.begin(), children.end());
      }
      const std::size_t count = stack_.size() - base;
      for (std::size_t i = 0; i < count; ++i) {
        const item c = stack_[base + i];
        path_.push_back('.');
        path_.append(child->name);
        if (child->is_choice) {
          path_.append(".ofType(");
          path_.append(c.as_node().type->code);
          path_.push_back(')');
        }
        if (child->is_repeating()) append_index(i);
        if (c.as_node().element == nullptr && c.as_node().value && c.as_node().value->is_object()) {
          // A contained resource or a Bundle entry's resource: its own %resource.
          const bool contained = child->name == "contained";
          nested_resource(c, contained ? &root_resource : nullptr);
        } else {
          const element_definition* child_type_root = nullptr;
          if (const auto* sd = c.as_node().type->definition; sd && child->children.empty() && !child->content_target)
            child_type_root = &sd->root();
          element(c, *child, child_type_root, resource, root_resource);
        }
        path_.resize(path_length);
      }
      stack_.erase(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
    }
  }

  // A primitive's extensions live in its `_name` half.
  void primitive_children(const item& node, const json::value& resource, const json::value& root_resource) {
    if (!node.as_node().extension || !extension_type_) return;
    const std::size_t base = stack_.size();
    {
      fhirpath::collection extensions(&env_.memory());
      model_.children(node, "extension", extensions);
      stack_.insert(stack_.end(), extensions.begin(), extensions.end());
    }
    const std::size_t count = stack_.size() - base, path_length = path_.size();
    for (std::size_t i = 0; i < count; ++i) {
      const item c = stack_[base + i];
      path_.append(".extension");
      append_index(i);
      element(c, extension_type_->root(), nullptr, resource, root_resource);
      path_.resize(path_length);
    }
    stack_.erase(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
  }

  void append_index(std::size_t i) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, i);
    path_.push_back('[');
    path_.append(digits, end);
    path_.push_back(']');
  }

  static bool has_key(const element_definition& e, const std::string& key) {
    for (const auto& c : e.constraints)
      if (c.key == key) return true;
    return false;
  }

  void evaluate(const definitions::constraint& c, const item& node, const json::value& resource, const json::value& root_resource) {
    if (checked_structurally(c)) return;
    if (is_standard_ele_1(c)) {
      if (!ele_1_holds(node.as_node()))
        issues_.push_back(issue{c.severity, issue_type::invariant, fmt::format("{}: {} ({})", c.key, c.human, c.expression), path_, c.key});
      return;
    }
    evaluator_.evaluate(c, node, path_, resource, root_resource, env_, issues_);
  }

  const definitions::registry& defs_;
  const constraint_evaluator& evaluator_;
  fhirpath::model model_;
  fhirpath::environment& env_;
  std::vector<issue>& issues_;
  const definitions::structure_definition* extension_type_;
  std::string path_;
  std::vector<item> stack_;
};

}  // namespace

std::vector<issue> invariant_validator::validate(const json::value& resource) const {
  std::vector<issue> issues;
  fhirpath::environment env(defs_);
  env.lenient_as = true;  // as R4's invariants were written (see environment::lenient_as)
  fhirpath::model model(defs_);
  item root = model.resource_node(resource);
  walker w(defs_, evaluator_, env, issues);
  w.path().assign(resource_type_of(resource));
  w.nested_resource(root, nullptr);
  return issues;
}

}  // namespace fhir::validation
