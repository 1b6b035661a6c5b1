#include "tests/support/test_data.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

namespace fhir::testing {

std::filesystem::path source_dir() { return FHIR_SOURCE_DIR; }

std::optional<std::filesystem::path> shared_data(const std::string& relative) {
  const char* override_dir = std::getenv("FHIR_SHARED_DIR");
  std::filesystem::path dir = std::filesystem::path(override_dir ? override_dir : FHIR_SHARED_DIR) / relative;
  if (std::filesystem::is_directory(dir)) return dir;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") FAIL("reference data missing in CI: " << dir.string());
  WARN("skipped: reference data not found at " << dir.string());
  return std::nullopt;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::filesystem::path> json_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".json") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace fhir::testing
