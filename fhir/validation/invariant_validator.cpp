#include "fhir/validation/invariant_validator.hpp"

#include <fmt/format.h>

#include "fhir/fhirpath/model.hpp"
#include "fhir/resource.hpp"

namespace fhir::validation {
namespace {

using definitions::element_definition;
using fhirpath::item;

// Constraints enforced elsewhere, so that one fault gives one issue.
bool checked_structurally(const definitions::constraint& c) { return c.key == "ext-1"; }

class walker {
 public:
  walker(const definitions::registry& defs, const constraint_evaluator& evaluator, fhirpath::environment& env,
         std::vector<issue>& issues)
      : defs_(defs), evaluator_(evaluator), model_(defs), env_(env), issues_(issues) {}

  void resource(const item& node, std::string path, const json::value* root_resource) {
    const auto* sd = node.as_node().type->definition;
    if (!sd) return;
    const json::value& json = *node.as_node().value;
    // %resource is the resource itself; %rootResource its container, if it is contained.
    element(node, sd->root(), nullptr, path, json, root_resource ? *root_resource : json);
  }

 private:
  // `definition` is the element's own definition; `type_root` the root of its type's definition, whose
  // constraints apply too (nullptr for backbone elements and resources, which have none beyond their own).
  void element(const item& node, const element_definition& definition, const element_definition* type_root,
               const std::string& path, const json::value& resource, const json::value& root_resource) {
    check(definition, node, path, resource, root_resource);
    if (type_root && type_root != &definition) {
      for (const auto& c : type_root->constraints) {
        if (has_key(definition, c.key)) continue;  // ele-1 is on both
        evaluate(c, node, path, resource, root_resource);
      }
    }
    const element_definition* scope = model_.scope_of(node.as_node());
    if (!scope || !node.as_node().value || !node.as_node().value->is_object()) {
      primitive_children(node, path, resource, root_resource);
      return;
    }
    for (const element_definition* child : scope->children) {
      fhirpath::collection children(&env_.memory());
      model_.children(node, child->name, children);
      std::vector<item> items(children.begin(), children.end());  // the arena is reused below
      for (std::size_t i = 0; i < items.size(); ++i) {
        const item& c = items[i];
        std::string child_path = path + "." + child->name;
        if (child->is_choice) child_path += fmt::format(".ofType({})", c.as_node().type->code);
        if (child->is_repeating()) child_path += fmt::format("[{}]", i);
        if (c.as_node().element == nullptr && c.as_node().value && c.as_node().value->is_object()) {
          // A contained resource or a Bundle entry's resource: its own %resource.
          const bool contained = child->name == "contained";
          resource_child(c, child_path, contained ? &root_resource : nullptr);
          continue;
        }
        const element_definition* child_type_root = nullptr;
        if (const auto* sd = c.as_node().type->definition; sd && child->children.empty() && !child->content_target)
          child_type_root = &sd->root();
        element(c, *child, child_type_root, child_path, resource, root_resource);
      }
    }
  }

  void resource_child(const item& node, const std::string& path, const json::value* container) {
    resource(node, path, container);
  }

  // A primitive's extensions live in its `_name` half.
  void primitive_children(const item& node, const std::string& path, const json::value& resource, const json::value& root_resource) {
    if (!node.as_node().extension) return;
    fhirpath::collection extensions(&env_.memory());
    model_.children(node, "extension", extensions);
    std::vector<item> items(extensions.begin(), extensions.end());
    const auto* extension_sd = defs_.find_type("Extension");
    if (!extension_sd) return;
    for (std::size_t i = 0; i < items.size(); ++i)
      element(items[i], extension_sd->root(), nullptr, fmt::format("{}.extension[{}]", path, i), resource, root_resource);
  }

  static bool has_key(const element_definition& e, const std::string& key) {
    for (const auto& c : e.constraints)
      if (c.key == key) return true;
    return false;
  }

  void check(const element_definition& definition, const item& node, const std::string& path, const json::value& resource,
             const json::value& root_resource) {
    for (const auto& c : definition.constraints) evaluate(c, node, path, resource, root_resource);
  }

  void evaluate(const definitions::constraint& c, const item& node, const std::string& path, const json::value& resource,
                const json::value& root_resource) {
    if (checked_structurally(c)) return;
    evaluator_.evaluate(c, node, path, resource, root_resource, env_, issues_);
  }

  const definitions::registry& defs_;
  const constraint_evaluator& evaluator_;
  fhirpath::model model_;
  fhirpath::environment& env_;
  std::vector<issue>& issues_;
};

}  // namespace

std::vector<issue> invariant_validator::validate(const json::value& resource) const {
  std::vector<issue> issues;
  fhirpath::environment env(defs_);
  env.lenient_as = true;  // as R4's invariants were written (see environment::lenient_as)
  fhirpath::model model(defs_);
  item root = model.resource_node(resource);
  walker w(defs_, evaluator_, env, issues);
  w.resource(root, std::string(resource_type_of(resource)), nullptr);
  return issues;
}

}  // namespace fhir::validation
