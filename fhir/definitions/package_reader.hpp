#pragma once
// Reads the conformance resources of a FHIR package, as implementation guides publish them:
//  - an npm package tarball (`.tgz`: gzip + tar), whose resources are the JSON files of `package/`
//    (package.json and .index.json are metadata; `package/example/` and other subfolders hold examples
//    and are skipped);
//  - or a directory, searched recursively for `*.json` files, skipping `example`/`examples` folders.
// Only the resource types a registry keeps are returned: StructureDefinition, ValueSet, CodeSystem,
// SearchParameter, CompartmentDefinition, OperationDefinition.

#include <filesystem>
#include <string>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::definitions {

struct package_resource {
  std::string file;  // where it came from, for messages: "package/StructureDefinition-x.json"
  json::value resource;
};

// Fails (kind invalid) when the location cannot be read, the archive is corrupt, or a file that should
// hold a resource is not JSON; the message names the file.
result<std::vector<package_resource>> read_package(const std::filesystem::path& location);

}  // namespace fhir::definitions
