#include "fhir/validation/invariant_validator.hpp"

#include <mutex>

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
  walker(const invariant_validator& owner, const definitions::registry& defs, fhirpath::environment& env,
         std::vector<issue>& issues, std::function<const fhirpath::expression*(const definitions::constraint&)> compile)
      : defs_(defs), model_(defs), env_(env), issues_(issues), compile_(std::move(compile)) {
    (void)owner;
  }

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
    if (c.expression.empty() || checked_structurally(c)) return;
    const fhirpath::expression* expression = compile_(c);
    if (!expression) return;
    auto result = expression->evaluate(node, resource, env_, &root_resource);
    if (!result) {
      issues_.push_back(issue{severity::warning, issue_type::processing,
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
    issues_.push_back(issue{c.severity, issue_type::invariant, fmt::format("{}: {} ({})", c.key, c.human, c.expression), path,
                            c.key});
  }

  const definitions::registry& defs_;
  fhirpath::model model_;
  fhirpath::environment& env_;
  std::vector<issue>& issues_;
  std::function<const fhirpath::expression*(const definitions::constraint&)> compile_;
};

}  // namespace

invariant_validator::invariant_validator(const definitions::registry& definitions) : defs_(definitions) {}

const fhirpath::expression* invariant_validator::compiled(const std::string& expression, std::vector<issue>& issues,
                                                          const definitions::constraint& c) const {
  {
    std::shared_lock lock(mutex_);
    if (auto it = cache_.find(expression); it != cache_.end()) return it->second.get();
  }
  auto result = fhirpath::compile(expression, defs_);
  std::unique_ptr<fhirpath::expression> compiled;
  if (result) {
    compiled = std::make_unique<fhirpath::expression>(std::move(*result));
  } else {
    issues.push_back(issue{severity::warning, issue_type::processing,
                           fmt::format("{}: the invariant does not compile: {}", c.key, result.error().summary()), {},
                           "invariant-not-compiled"});
  }
  std::unique_lock lock(mutex_);
  auto [it, inserted] = cache_.emplace(expression, std::move(compiled));
  return it->second.get();
}

std::vector<issue> invariant_validator::validate(const json::value& resource) const {
  std::vector<issue> issues;
  fhirpath::environment env(defs_);
  env.lenient_as = true;  // as R4's invariants were written (see environment::lenient_as)
  fhirpath::model model(defs_);
  item root = model.resource_node(resource);
  walker w(*this, defs_, env, issues, [&](const definitions::constraint& c) { return compiled(c.expression, issues, c); });
  w.resource(root, std::string(resource_type_of(resource)), nullptr);
  return issues;
}

}  // namespace fhir::validation
