#pragma once
// Loads the FHIR JSON files of a directory into the store at start-up (`fhir-server --load DIR`).
//
// Each *.json file (recursively, in name order) holds a resource or a Bundle. The resources of batch,
// transaction and collection Bundles are loaded one by one (not atomically: this is a seeding tool, not
// transaction processing); other Bundles are stored as resources. Every resource must have an id and is
// written with update, so loading again is idempotent: a resource whose content is unchanged gets no new
// version. Each file is validated first; the first invalid file or resource without an id stops the load
// with an error naming it (resources of earlier files stay loaded).

#include <cstddef>
#include <filesystem>

#include "fhir/result.hpp"
#include "server/context.hpp"

namespace server {

struct load_summary {
  std::size_t files = 0;
  std::size_t created = 0;
  std::size_t updated = 0;
  std::size_t unchanged = 0;
};

fhir::result<load_summary> load_directory(const context& ctx, const std::filesystem::path& directory);

}  // namespace server
