// fhirpath-bench: evaluations per second of typical FHIRPath expressions over realistic resources, on
// one thread, and heap allocations per evaluation after warm-up. bench/fhirpath.sh runs it next to the
// reference JavaScript implementation with the same expressions and resources.
//
//   fhirpath-bench PATIENT.json OBSERVATION.json [SECONDS_PER_ROUND=1] [ROUNDS=5]
//   fhirpath-bench --scenarios     prints the scenarios as JSON (for the JavaScript side)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <new>
#include <sstream>
#include <vector>

#include "fhir/definitions/r4.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"

// Every heap allocation in the process is counted, to show that warmed-up evaluations make none.
static std::atomic<std::size_t> allocations{0};
void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::aligned_alloc(static_cast<std::size_t>(a), (n + static_cast<std::size_t>(a) - 1) / static_cast<std::size_t>(a) * static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

fhir::json::value load(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  auto v = fhir::json::parse(s.str());
  if (!v) {
    std::cerr << path << ": " << v.error().summary() << "\n";
    std::exit(1);
  }
  return std::move(*v);
}

struct scenario {
  std::string name;
  std::string expression;
  const fhir::json::value* resource;
};

}  // namespace

int main(int argc, char** argv) {
  bool list = argc > 1 && std::string(argv[1]) == "--scenarios";
  if (argc < 3 && !list) {
    std::cerr << "usage: fhirpath-bench PATIENT.json OBSERVATION.json [SECONDS_PER_ROUND] [ROUNDS]\n";
    return 2;
  }
  double seconds = argc > 3 ? std::atof(argv[3]) : 1.0;
  int rounds = argc > 4 ? std::atoi(argv[4]) : 5;
  const auto& defs = fhir::definitions::r4();
  fhir::json::value patient = list ? fhir::json::value() : load(argv[1]);
  fhir::json::value observation = list ? fhir::json::value() : load(argv[2]);

  // The search expression of Observation.code: the clinical-code SearchParameter shared by many types.
  std::string code_expression;
  for (const auto& sp : defs.search_parameters())
    if (const std::string* id = sp.find_string("id"); id && *id == "clinical-code") code_expression = *sp.find_string("expression");

  std::vector<scenario> scenarios = {
      {"name.where(use='official').given.first()", "Patient.name.where(use='official').given.first()", &patient},
      {"value.ofType(Quantity).value > 100", "Observation.value.ofType(Quantity).value > 100", &observation},
      {"ele-1 over every element", "descendants().all(hasValue() or (children().count() > id.count()))", &patient},
      {"search expression of Observation.code", code_expression, &observation},
  };

  if (list) {
    fhir::json::array out;
    for (const auto& s : scenarios) {
      fhir::json::value o = fhir::json::object{};
      o.set("name", s.name);
      o.set("expression", s.expression);
      o.set("resource", s.resource == &patient ? "patient" : "observation");
      out.push_back(std::move(o));
    }
    std::cout << fhir::json::serialize(fhir::json::value(std::move(out))) << "\n";
    return 0;
  }

  fhir::fhirpath::environment env(defs);
  std::printf("%-42s %14s %12s\n", "expression", "evals/s", "allocs/eval");
  // FHIRPATH_BENCH_ONLY=N runs only scenario N (0-based), for profiling.
  const char* only = std::getenv("FHIRPATH_BENCH_ONLY");
  for (std::size_t index = 0; index < scenarios.size(); ++index) {
    const auto& s = scenarios[index];
    if (only && std::to_string(index) != only) continue;
    auto compiled = fhir::fhirpath::compile(s.expression, defs);
    if (!compiled) {
      std::cerr << s.name << ": " << compiled.error().summary() << "\n";
      return 1;
    }
    for (int i = 0; i < 1000; ++i) (void)compiled->evaluate(*s.resource, env);  // warm the arena
    // FHIRPATH_BENCH_ITERATIONS=N: exactly N more evaluations, then stop (for callgrind: Ir / N).
    if (const char* n = std::getenv("FHIRPATH_BENCH_ITERATIONS")) {
      for (int i = 0, end = std::atoi(n); i < end; ++i) (void)compiled->evaluate(*s.resource, env);
      continue;
    }
    std::size_t before = allocations.load();
    constexpr int counted = 10000;
    for (int i = 0; i < counted; ++i) (void)compiled->evaluate(*s.resource, env);
    double allocs = static_cast<double>(allocations.load() - before) / counted;

    std::vector<double> rates;
    for (int r = 0; r < rounds; ++r) {
      auto start = std::chrono::steady_clock::now();
      std::size_t n = 0;
      double elapsed = 0;
      while (elapsed < seconds) {
        for (int i = 0; i < 1000; ++i) (void)compiled->evaluate(*s.resource, env);
        n += 1000;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      rates.push_back(static_cast<double>(n) / elapsed);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%-42s %14.0f %12.3f\n", s.name.c_str(), rates[rates.size() / 2], allocs);
  }
  return 0;
}
