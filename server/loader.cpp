#include "server/loader.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "fhir/json/parse.hpp"

namespace server {
namespace {

fhir::error load_error(const std::filesystem::path& file, std::string why) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, fmt::format("{}: {}", file.string(), why),
                     "load-failed");
}

// True when `resource` has the same content as the stored version (ignoring versionId and lastUpdated).
bool unchanged(fhir::json::value resource, const store::resource_version& stored) {
  fhir::stamp_version(resource, stored.info.id, stored.info.version, stored.info.last_updated);
  return fhir::json::serialize(resource) == stored.json;
}

fhir::result<fhir::done> load_resource(const context& ctx, const std::filesystem::path& file, fhir::json::value resource,
                                       load_summary& summary) {
  std::string type(fhir::resource_type_of(resource));
  std::string id(fhir::id_of(resource));
  // Without an id every start would create the resource again.
  if (id.empty()) return load_error(file, fmt::format("a {} has no id; resources to load need one", type));
  if (auto current = ctx.store.read(type, id); current && unchanged(resource, *current)) {
    ++summary.unchanged;
    return fhir::done{};
  }
  auto written = ctx.store.update(std::move(resource), {});
  if (!written) return std::move(written).error();
  ++(written->created ? summary.created : summary.updated);
  return fhir::done{};
}

std::string describe(const std::vector<fhir::issue>& issues) {
  std::string out;
  for (const auto& i : issues) {
    if (i.severity != fhir::severity::error && i.severity != fhir::severity::fatal) continue;
    out += fmt::format("\n  {}: {}", i.expression.empty() ? "(resource)" : i.expression, i.diagnostics);
  }
  return out;
}

fhir::result<fhir::done> load_file(const context& ctx, const std::filesystem::path& file, load_summary& summary) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = fhir::json::parse(text.str());
  if (!parsed) return load_error(file, parsed.error().summary());
  auto issues = ctx.validator.validate(*parsed);
  if (fhir::has_errors(issues)) return load_error(file, "invalid resource:" + describe(issues));

  fhir::json::value& root = *parsed;
  const std::string* bundle_type = fhir::resource_type_of(root) == "Bundle" ? root.find_string("type") : nullptr;
  bool unpack = bundle_type && (*bundle_type == "batch" || *bundle_type == "transaction" || *bundle_type == "collection");
  if (!unpack) return load_resource(ctx, file, std::move(root), summary);
  if (fhir::json::value* entries = root.find("entry")) {
    for (fhir::json::value& entry : entries->as_array()) {
      fhir::json::value* resource = entry.find("resource");
      if (!resource) continue;
      if (auto loaded = load_resource(ctx, file, std::move(*resource), summary); !loaded) return loaded;
    }
  }
  return fhir::done{};
}

}  // namespace

fhir::result<load_summary> load_directory(const context& ctx, const std::filesystem::path& directory) {
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec)) return load_error(directory, "not a directory");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  if (ec) return load_error(directory, ec.message());
  std::sort(files.begin(), files.end());

  load_summary summary;
  for (const auto& file : files) {
    if (auto loaded = load_file(ctx, file, summary); !loaded) return std::move(loaded).error();
    ++summary.files;
  }
  return summary;
}

}  // namespace server
