// validation-bench: validations per second (one thread) of resources read from files, with the same
// validator the server runs on every write, and the share of a validation each stage takes.
//
//   validation-bench FILE.json... [--seconds S] [--rounds R]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "fhir/validation/structural_validator.hpp"

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <typename F>
double rate(F&& f, double seconds, int rounds) {
  std::vector<double> rates;
  for (int r = 0; r < rounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    std::size_t n = 0;
    double elapsed = 0;
    while (elapsed < seconds) {
      for (int i = 0; i < 100; ++i) f();
      n += 100;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    rates.push_back(static_cast<double>(n) / elapsed);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  double seconds = 1;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else files.push_back(a);
  }
  const auto& defs = fhir::definitions::r4();
  fhir::validation::resource_validator validator(defs);
  std::printf("%-48s %12s %12s %12s %8s\n", "file", "parse/s", "structure/s", "validate/s", "issues");
  for (const auto& file : files) {
    std::string text = read(file);
    auto parsed = fhir::json::parse(text);
    if (!parsed) {
      std::cerr << file << ": " << parsed.error().summary() << "\n";
      return 1;
    }
    std::size_t issues = validator.validate(*parsed).size();
    double parse = rate([&] { (void)fhir::json::parse(text); }, seconds, rounds);
    double structure = rate([&] { (void)fhir::validation::validate_structure(defs, *parsed); }, seconds, rounds);
    double full = rate([&] { (void)validator.validate(*parsed); }, seconds, rounds);
    std::string name = file.substr(file.find_last_of('/') + 1);
    std::printf("%-48s %12.0f %12.0f %12.0f %8zu\n", name.c_str(), parse, structure, full, issues);
  }
  return 0;
}
