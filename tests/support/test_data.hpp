#pragma once
// Locating test inputs: the repository's own files, and the read-only reference material in ../shared.
//
// Reference data is optional on a developer machine (the tests that need it are skipped with a message)
// but mandatory in CI: when the environment variable CI is "true" and the data is missing, the test fails.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fhir::testing {

std::filesystem::path source_dir();

// ../shared/<relative>, or nullopt when absent and not in CI (the caller should then skip). In CI a missing
// directory fails the current test.
std::optional<std::filesystem::path> shared_data(const std::string& relative);

std::string read_file(const std::filesystem::path& path);

// The *.json files directly inside `dir`, sorted by name.
std::vector<std::filesystem::path> json_files(const std::filesystem::path& dir);

}  // namespace fhir::testing
