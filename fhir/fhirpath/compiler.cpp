// compile(): parsing, function resolution, argument checks and the static (type-aware) checks; and the
// public evaluation entry points.

#include <fmt/format.h>

#include "fhir/fhirpath/evaluator.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/parser.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"

namespace fhir::fhirpath {

struct compiled_expression {
  std::string text;
  fhirpath::ast ast;
  fhirpath::model model;
};

namespace {

using definitions::element_definition;

class compile_error : public std::exception {
 public:
  compile_error(std::uint32_t position, std::string message) : position(position), message(std::move(message)) {}
  std::uint32_t position;
  std::string message;
};

// A type argument of is()/as()/ofType() is written like a path: T, or NS.T.
type_specifier type_from_argument(const ast& tree, std::int32_t index) {
  const ast_node& n = tree.nodes[static_cast<std::size_t>(index)];
  if (n.kind != node_kind::member) throw compile_error(n.position, "expected a type name");
  if (n.input < 0) return type_specifier{"", n.name};
  const ast_node& ns = tree.nodes[static_cast<std::size_t>(n.input)];
  if (ns.kind != node_kind::member || ns.input >= 0) throw compile_error(n.position, "expected a type name");
  return type_specifier{ns.name, n.name};
}

void resolve_type(type_specifier& type, const definitions::registry& definitions) {
  if (type.namespace_name != "System") type.fhir_type = definitions.find_type_info(type.name);
}

void resolve_names(ast& tree, const definitions::registry& definitions) {
  for (ast_node& n : tree.nodes) {
    if (n.kind == node_kind::member) n.name_id = definitions.name_id(n.name);
    if (n.kind == node_kind::type_is || n.kind == node_kind::type_as) resolve_type(n.type, definitions);
    if (n.kind != node_kind::function) continue;
    const function_definition* f = find_function(n.name);
    if (!f) throw compile_error(n.position, fmt::format("unknown function '{}'", n.name));
    int count = static_cast<int>(n.args.size());
    if (count < f->min_args || count > f->max_args) {
      std::string expected = f->min_args == f->max_args ? std::to_string(f->min_args)
                                                       : fmt::format("{} to {}", f->min_args, f->max_args);
      throw compile_error(n.position, fmt::format("{}() takes {} argument{}, not {}", n.name, expected,
                                                  f->max_args == 1 ? "" : "s", count));
    }
    n.function = f;
    if (f->type_argument) {
      n.type = type_from_argument(tree, n.args[0]);
      resolve_type(n.type, definitions);
    }
  }
}

// Static types, as far as they can be known: the FHIR types an expression can produce.
struct static_type {
  bool known = false;  // false: anything (no checks downstream)
  struct fhir_type {
    std::string_view code;
    const element_definition* element;
  };
  std::vector<fhir_type> types;
  std::string_view system;  // a System type of a literal or operator result, when known
  bool unordered = false;
};

class checker {
 public:
  checker(const ast& tree, const model& m, const compile_options& options) : tree_(tree), model_(m), options_(options) {}

  void run() {
    static_type root;
    root.known = true;
    root.types.push_back({options_.root_type, nullptr});
    scope_ = root;
    at_root_ = true;
    infer(tree_.root, root);
  }

 private:
  static_type infer(std::int32_t index, const static_type& input) {
    const ast_node& n = tree_.nodes[static_cast<std::size_t>(index)];
    switch (n.kind) {
      case node_kind::literal: {
        static_type t;
        if (!n.empty_literal) t.system = literal_system_type(n.value);
        return t;
      }
      case node_kind::member: return member(n, n.input >= 0 ? infer(n.input, input) : input, n.input < 0);
      case node_kind::function: return function(n, n.input >= 0 ? infer(n.input, input) : input);
      case node_kind::indexer: {
        static_type in = n.input >= 0 ? infer(n.input, input) : input;
        infer(n.args[0], scope_);
        ordered_check(in, n, "an indexer");
        in.unordered = false;
        return in;
      }
      case node_kind::this_value: return this_type_;
      case node_kind::type_is: infer(n.args[0], input); return with_system("Boolean");
      case node_kind::type_as: {
        infer(n.args[0], input);
        return of_type(n.type);
      }
      case node_kind::binary: {
        static_type a = infer(n.args[0], input), b = infer(n.args[1], input);
        if (n.op == binary_op::union_) {
          if (!a.known || !b.known) return {};
          a.types.insert(a.types.end(), b.types.begin(), b.types.end());
          return a;
        }
        return {};
      }
      case node_kind::unary_minus:
      case node_kind::unary_plus: infer(n.args[0], input); return {};
      default: return {};
    }
  }

  static std::string_view literal_system_type(const item& v) {
    switch (v.kind()) {
      case item_kind::boolean: return "Boolean";
      case item_kind::integer: return "Integer";
      case item_kind::decimal: return "Decimal";
      case item_kind::string: return "String";
      case item_kind::quantity: return "Quantity";
      default: return {};
    }
  }

  static static_type with_system(std::string_view name) {
    static_type t;
    t.system = name;
    return t;
  }

  static_type of_type(const type_specifier& type) {
    if (type.namespace_name == "System" || !model_.is_known_type(type.name)) return {};
    static_type t;
    t.known = true;
    t.types.push_back({type.name, nullptr});
    return t;
  }

  static_type member(const ast_node& n, const static_type& input, bool leading) {
    bool was_root = at_root_ && leading;
    at_root_ = false;
    if (!input.known) return {};
    static_type out;
    out.known = true;
    for (const auto& t : input.types) {
      // A resource type name filters the focus: "Patient.name".
      if (!n.name.empty() && n.name.front() >= 'A' && n.name.front() <= 'Z' && model_.definitions().is_resource_type(t.code) &&
          t.element == nullptr && model_.derives_from(t.code, n.name)) {
        out.types.push_back(t);
        continue;
      }
      const element_definition* scope = model_.scope_of(node{nullptr, nullptr, model_.definitions().find_type_info(t.code), t.element});
      if (!scope) continue;
      if (const element_definition* child = scope->child(n.name)) {
        add_child_types(*child, out);
        continue;
      }
      // valueQuantity is the JSON name of value[x]: never a FHIRPath element name.
      if (const auto* p = scope->properties.find(n.name); p && p->element->is_choice)
        throw compile_error(n.position, fmt::format("'{}' is not an element of {}: use {}.ofType({})", n.name, t.code,
                                                    p->element->name, p->type ? p->type->code : ""));
    }
    if (out.types.empty() && options_.strict) {
      std::string_view context = input.types.empty() ? std::string_view("(unknown)") : input.types.front().code;
      if (was_root && model_.is_known_type(n.name))
        throw compile_error(n.position, fmt::format("'{}' does not match the type of the context, {}", n.name, context));
      throw compile_error(n.position, fmt::format("'{}' is not an element of {}", n.name, context));
    }
    return out;
  }

  void add_child_types(const element_definition& child, static_type& out) {
    if (child.types.empty()) {
      out.types.push_back({child.content_target ? std::string_view("BackboneElement") : std::string_view("BackboneElement"), &child});
      return;
    }
    for (const auto& type : child.types) {
      if (type.code == "Resource" || type.code == "DomainResource") {
        out.known = false;  // any resource: nothing more to check
        return;
      }
      out.types.push_back({type.code, child.types.size() == 1 ? &child : nullptr});
    }
  }

  static_type function(const ast_node& n, const static_type& input) {
    std::string_view name = n.name;
    // Lambdas see $this as the input's items; other arguments see the enclosing scope.
    bool lambda = name == "where" || name == "select" || name == "all" || name == "exists" || name == "repeat" ||
                  name == "aggregate" || name == "sort" || name == "iif";
    static_type saved_this = this_type_, saved_scope = scope_;
    if (lambda) {
      this_type_ = input;
      this_type_.unordered = false;
    }
    for (std::size_t a = 0; a < n.args.size(); ++a) {
      if (n.function && n.function->type_argument) break;
      if (name == "trace" && a == 1) this_type_ = input;
      static_type arg = infer(n.args[a], lambda ? input : scope_);
      if (name == "iif" && a == 0 && options_.strict && !arg.system.empty() && arg.system != "Boolean")
        throw compile_error(n.position, fmt::format("the criterion of iif() must be a Boolean, not a {}", arg.system));
    }
    this_type_ = saved_this;
    scope_ = saved_scope;

    if (name == "first" || name == "last" || name == "tail" || name == "skip" || name == "take" || name == "single")
      ordered_check(input, n, name);
    if (name == "where" || name == "first" || name == "last" || name == "tail" || name == "skip" || name == "take" ||
        name == "single" || name == "distinct" || name == "trace" || name == "intersect" || name == "exclude") {
      static_type out = input;
      if (name != "where" && name != "distinct" && name != "trace") out.unordered = false;
      return out;
    }
    if (name == "ofType" || name == "as") return of_type(n.type);
    if (name == "extension") {
      static_type t;
      t.known = true;
      t.types.push_back({"Extension", nullptr});
      return t;
    }
    if (name == "children" || name == "descendants") {
      static_type t;
      t.unordered = true;
      return t;
    }
    static_type unknown;
    return unknown;
  }

  void ordered_check(const static_type& input, const ast_node& n, std::string_view what) {
    if (options_.strict && options_.check_ordered_functions && input.unordered)
      throw compile_error(n.position, fmt::format("{} needs an ordered collection, but children()/descendants() are unordered", what));
  }

  const ast& tree_;
  const model& model_;
  const compile_options& options_;
  static_type this_type_;
  static_type scope_;
  bool at_root_ = false;
};

std::string describe_position(std::string_view text, std::uint32_t position) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < position && i < text.size(); ++i) {
    if (text[i] == '\n') ++line, column = 1;
    else ++column;
  }
  return fmt::format("line {}, column {}", line, column);
}

// Literal strings and units point into their node's literal_text: bound once the tree has its final home.
void bind_literals(ast& tree) {
  for (ast_node& n : tree.nodes) {
    if (n.kind != node_kind::literal || n.empty_literal) continue;
    if (n.value.kind() == item_kind::string) n.value = item::of_string(n.literal_text);
    if (n.value.kind() == item_kind::quantity) n.value = item::of_quantity(quantity{n.value.as_quantity().value, n.literal_text});
  }
}

}  // namespace

result<expression> compile(std::string_view text, const definitions::registry& definitions, const compile_options& options) {
  auto parsed = parse(text);
  if (!parsed) return std::move(parsed).error();
  auto impl = std::make_shared<compiled_expression>(compiled_expression{std::string(text), std::move(*parsed), model(definitions)});
  try {
    resolve_names(impl->ast, definitions);
    if (!options.root_type.empty()) checker(impl->ast, impl->model, options).run();
  } catch (const compile_error& e) {
    return error(error_kind::invalid, issue_type::invalid,
                 fmt::format("FHIRPath error at {}: {}", describe_position(text, e.position), e.message), "fhirpath-semantic");
  }
  bind_literals(impl->ast);
  expression out;
  out.impl_ = std::move(impl);
  return out;
}

const std::string& expression::text() const { return impl_->text; }

namespace {

result<collection> run(const compiled_expression& impl, const item& focus, const item& resource, const item& root,
                       environment& env) {
  evaluator ev(impl.ast, impl.model, env, resource, root, focus);
  try {
    collection input(&env.memory());
    input.push_back(focus);
    return ev.run(input);
  } catch (const evaluation_error& e) {
    return error(error_kind::invalid, issue_type::processing, fmt::format("FHIRPath evaluation error: {}", e.what()),
                 "fhirpath-evaluation");
  }
}

}  // namespace

result<collection> expression::evaluate(const json::value& resource, environment& env) const {
  env.memory().reset();
  item root = impl_->model.resource_node(resource);
  return run(*impl_, root, root, root, env);
}

result<collection> expression::evaluate(const item& focus, const json::value& resource, environment& env,
                                        const json::value* root_resource) const {
  env.memory().reset();
  item resource_item = impl_->model.resource_node(resource);
  item root_item = root_resource && root_resource != &resource ? impl_->model.resource_node(*root_resource) : resource_item;
  return run(*impl_, focus, resource_item, root_item, env);
}

void environment::set_string(const std::string& name, std::string value) {
  strings_.push_back(std::make_unique<std::string>(std::move(value)));
  variables_[name] = {item::of_string(*strings_.back())};
}

void environment::set_items(const std::string& name, std::vector<item> items) { variables_[name] = std::move(items); }

const std::vector<item>* environment::variable(std::string_view name) const {
  auto it = variables_.find(name);
  return it == variables_.end() ? nullptr : &it->second;
}

std::string type_name(const item& i) {
  switch (i.kind()) {
    case item_kind::node: return fmt::format("FHIR.{}", i.as_node().type->code);
    case item_kind::boolean: return "System.Boolean";
    case item_kind::integer: return "System.Integer";
    case item_kind::decimal: return "System.Decimal";
    case item_kind::string: return "System.String";
    case item_kind::quantity: return "System.Quantity";
    case item_kind::type_info: return "System.TypeInfo";
    case item_kind::temporal:
      switch (i.as_temporal().kind) {
        case temporal_kind::date: return "System.Date";
        case temporal_kind::date_time: return "System.DateTime";
        case temporal_kind::time: return "System.Time";
      }
  }
  return "System.Any";
}

std::string to_display_string(const item& i) {
  switch (i.kind()) {
    case item_kind::node: {
      const node& n = i.as_node();
      if (!n.value) return n.extension ? json::serialize(*n.extension) : std::string();
      if (n.value->is_string()) return n.value->as_string();
      if (n.value->is_number()) return n.value->as_number().text;
      return json::serialize(*n.value);
    }
    case item_kind::boolean: return i.as_boolean() ? "true" : "false";
    case item_kind::integer: return std::to_string(i.as_integer());
    case item_kind::decimal: return i.as_decimal().to_string();
    case item_kind::string: return std::string(i.as_string());
    case item_kind::temporal: return i.as_temporal().to_string();
    case item_kind::quantity: return fmt::format("{} '{}'", i.as_quantity().value.to_string(), i.as_quantity().unit);
    case item_kind::type_info: return fmt::format("{}.{}", i.as_type().namespace_name, i.as_type().name);
  }
  return {};
}

}  // namespace fhir::fhirpath
