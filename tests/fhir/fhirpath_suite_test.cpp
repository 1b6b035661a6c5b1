// The official FHIRPath R4 test suite (../shared/fhirpath/tests-fhir-r4.json), run test by test.
// Tests listed in fhirpath_exceptions.txt (with the reason each is wrong or out of scope) are reported
// but not counted as failures; every other test must pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "fhir/definitions/r4.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/resource.hpp"
#include "tests/support/test_data.hpp"

using namespace fhir;

namespace {

std::map<std::string, std::string> load_exceptions() {
  std::map<std::string, std::string> out;
  std::ifstream in(fhir::testing::source_dir() / "tests" / "fhir" / "fhirpath_exceptions.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

std::string str(const json::value& v, std::string_view key) {
  const std::string* s = v.find_string(key);
  return s ? *s : std::string();
}

// Does `actual` match the expected output {type, value}?
bool output_matches(const fhirpath::item& actual, const std::string& type, const std::string& value) {
  using fhirpath::item_kind;
  std::string text = fhirpath::to_display_string(actual);
  std::string actual_type = fhirpath::type_name(actual);  // "FHIR.code", "System.String"
  auto decimal_equal = [](std::string_view a, std::string_view b, bool same_scale) {
    auto x = fhirpath::decimal::parse(a), y = fhirpath::decimal::parse(b);
    return x && y && *x == *y && (!same_scale || x->scale() == y->scale());
  };
  auto quantity_equal = [&](std::string_view expected) {
    if (actual.kind() != item_kind::quantity) return false;
    auto space = expected.find(' ');
    std::string_view unit = expected.substr(space + 1);
    if (unit.size() >= 2 && unit.front() == '\'') unit = unit.substr(1, unit.size() - 2);
    return decimal_equal(expected.substr(0, space), actual.as_quantity().value.to_string(), type.empty()) &&
           unit == actual.as_quantity().unit;
  };
  auto system_or_fhir = [&](std::string_view system, std::initializer_list<std::string_view> fhir_types) {
    if (actual_type == "System." + std::string(system)) return true;
    for (auto t : fhir_types)
      if (actual_type == "FHIR." + std::string(t)) return true;
    return false;
  };
  if (type.empty()) {  // untyped outputs (boundary functions): compare the value, decimals with their scale
    if (value.starts_with('@')) return text == value.substr(value.starts_with("@T") ? 2 : 1);
    if (actual.kind() == item_kind::quantity) return quantity_equal(value);
    if (actual.kind() == item_kind::decimal) return decimal_equal(text, value, true);
    return text == value;
  }
  if (type == "boolean") return system_or_fhir("Boolean", {"boolean"}) && text == value;
  if (type == "integer") return system_or_fhir("Integer", {"integer", "positiveInt", "unsignedInt"}) && text == value;
  if (type == "decimal") return system_or_fhir("Decimal", {"decimal"}) && decimal_equal(text, value, false);
  if (type == "Quantity") return quantity_equal(value);
  if (type == "date" || type == "dateTime" || type == "time") {
    bool type_ok = system_or_fhir(type == "date" ? "Date" : type == "dateTime" ? "DateTime" : "Time",
                                  {type, type == "dateTime" ? "instant" : type});
    std::string expected = value.substr(value.starts_with("@T") ? 2 : 1);
    return type_ok && text == expected;
  }
  if (type == "string") return system_or_fhir("String", {"string"}) && text == value;
  return actual_type == "FHIR." + type && text == value;  // code, id, uri, ...
}

struct outcome {
  bool passed;
  std::string detail;
};

outcome run_test(const json::value& test, const std::filesystem::path& input_dir, std::map<std::string, json::value>& inputs,
                 fhirpath::environment& env) {
  std::string expression = str(test, "expression");
  std::string invalid = str(test, "expression.invalid");
  std::string input_name = str(test, "inputJson");
  bool strict = str(test, "mode") == "strict" || str(test, "expression.mode") == "strict";

  json::value empty_input = json::object{};
  const json::value* input = &empty_input;
  if (!input_name.empty()) {
    auto it = inputs.find(input_name);
    if (it == inputs.end()) {
      std::ifstream in(input_dir / input_name);
      if (!in) return {false, "input file " + input_name + " is not available"};
      std::stringstream s;
      s << in.rdbuf();
      auto parsed = json::parse(s.str());
      if (!parsed) return {false, "input file " + input_name + " does not parse"};
      it = inputs.emplace(input_name, std::move(*parsed)).first;
    }
    input = &it->second;
  }

  fhirpath::compile_options options;
  if (!input_name.empty()) options.root_type = std::string(resource_type_of(*input));
  options.strict = strict;
  options.check_ordered_functions = str(test, "checkOrderedFunctions") == "true";
  auto compiled = fhirpath::compile(expression, definitions::r4(), options);
  if (!compiled) {
    if (!invalid.empty() && (invalid != "syntax" || compiled.error().issues()[0].message_id == "fhirpath-syntax")) return {true, {}};
    return {false, "compile: " + compiled.error().summary()};
  }
  if (invalid == "syntax") return {false, "expected a syntax error"};
  auto result = compiled->evaluate(*input, env);
  if (!result) {
    if (!invalid.empty()) return {true, {}};
    return {false, "evaluate: " + result.error().summary()};
  }
  if (!invalid.empty()) return {false, "expected a " + invalid + " error, got a result"};

  std::vector<fhirpath::item> actual(result->begin(), result->end());
  if (str(test, "predicate") == "true") {
    bool b = !actual.empty() && !(actual.size() == 1 && actual[0].kind() == fhirpath::item_kind::boolean && !actual[0].as_boolean());
    actual = {fhirpath::item::of_boolean(b)};
  }
  const json::value* outputs = test.find("outputs");
  std::vector<std::pair<std::string, std::string>> expected;
  if (outputs)
    for (const json::value& o : outputs->as_array()) expected.emplace_back(str(o, "type"), str(o, "value"));

  std::ostringstream got;
  for (const auto& a : actual) got << fhirpath::type_name(a) << ":" << fhirpath::to_display_string(a) << " ";
  if (actual.size() != expected.size()) return {false, "got [" + got.str() + "], expected " + std::to_string(expected.size()) + " items"};
  bool ordered = str(test, "ordered") != "false";
  std::vector<bool> used(actual.size(), false);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    bool found = false;
    for (std::size_t j = ordered ? i : 0; j < (ordered ? i + 1 : actual.size()) && !found; ++j) {
      if (!used[j] && output_matches(actual[j], expected[i].first, expected[i].second)) used[j] = found = true;
    }
    if (!found) return {false, "got [" + got.str() + "], expected " + expected[i].first + ":" + expected[i].second + " at " + std::to_string(i)};
  }
  return {true, {}};
}

}  // namespace

TEST_CASE("the official FHIRPath R4 test suite passes", "[fhir][fhirpath][suite]") {
  auto dir = fhir::testing::shared_data("fhirpath");
  if (!dir) return;
  auto suite = json::parse(fhir::testing::read_file(*dir / "tests-fhir-r4.json"));
  REQUIRE(suite.ok());
  auto exceptions = load_exceptions();
  std::map<std::string, json::value> inputs;
  fhirpath::environment env(definitions::r4());

  int passed = 0, failed = 0, excepted = 0, total = 0;
  std::ostringstream failures;
  for (const json::value& group : suite->find("groups")->as_array()) {
    for (const json::value& test : group.find("tests")->as_array()) {
      ++total;
      std::string name = str(test, "name");
      outcome o = run_test(test, *dir / "input", inputs, env);
      if (o.passed) {
        ++passed;
        if (exceptions.count(name)) WARN("listed as an exception but passes: " << name);
        continue;
      }
      if (exceptions.count(name)) {
        ++excepted;
        continue;
      }
      ++failed;
      failures << str(group, "name") << "/" << name << ": " << str(test, "expression") << "\n    " << o.detail << "\n";
    }
  }
  std::cout << "FHIRPath R4 suite: " << passed << " passed, " << failed << " failed, " << excepted
            << " listed exceptions (of " << total << " tests)\n";
  CHECK(total == 935);
  INFO(failures.str());
  CHECK(failed == 0);
}
