#include "server/cli/fhirpath_command.hpp"

#include <fstream>
#include <sstream>

#include "fhir/definitions/r4.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"

namespace server::cli {
namespace {

using fhir::fhirpath::item;
using fhir::fhirpath::item_kind;

fhir::json::value value_json(const item& i) {
  switch (i.kind()) {
    case item_kind::node: {
      const auto& n = i.as_node();
      if (n.value) return *n.value;
      return n.extension ? fhir::json::value(fhir::json::object{{"_extension", *n.extension}}) : fhir::json::value();
    }
    case item_kind::boolean: return i.as_boolean();
    case item_kind::integer: return fhir::json::value::integer(i.as_integer());
    case item_kind::decimal: return fhir::json::number{i.as_decimal().to_string()};
    case item_kind::quantity: {
      fhir::json::value q = fhir::json::object{};
      q.set("value", fhir::json::number{i.as_quantity().value.to_string()});
      q.set("unit", i.as_quantity().unit);
      return q;
    }
    default: return fhir::fhirpath::to_display_string(i);
  }
}

}  // namespace

int run_fhirpath(const std::string& expression, const std::string& file, std::ostream& out, std::ostream& err) {
  const auto& defs = fhir::definitions::r4();
  fhir::json::value input = fhir::json::object{};
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      err << file << ": cannot read\n";
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = fhir::json::parse(text.str());
    if (!parsed) {
      err << file << ": " << parsed.error().summary() << "\n";
      return 1;
    }
    input = std::move(*parsed);
  }
  fhir::fhirpath::compile_options options;
  options.root_type = std::string(fhir::resource_type_of(input));
  auto compiled = fhir::fhirpath::compile(expression, defs, options);
  if (!compiled) {
    err << compiled.error().summary() << "\n";
    return 1;
  }
  fhir::fhirpath::environment env(defs);
  env.trace = [&err](std::string_view name, const fhir::fhirpath::collection& items) {
    err << "trace " << name << ": " << items.size() << " item(s)\n";
  };
  auto result = compiled->evaluate(input, env);
  if (!result) {
    err << result.error().summary() << "\n";
    return 1;
  }
  fhir::json::array items;
  for (const item& i : *result) {
    fhir::json::value entry = fhir::json::object{};
    entry.set("type", fhir::fhirpath::type_name(i));
    entry.set("value", value_json(i));
    items.push_back(std::move(entry));
  }
  out << fhir::json::serialize_pretty(fhir::json::value(std::move(items))) << "\n";
  return 0;
}

}  // namespace server::cli
