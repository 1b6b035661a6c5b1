#include "server/bulk/export_refilter.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "store/id_generator.hpp"

namespace server::bulk {
namespace {

fhir::error io_failed(const std::string& what, const std::string& path) {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)),
                     "export-write-failed");
}

// The patients of the Consents written after `since` (all of them: any status change counts).
fhir::result<std::unordered_set<std::string>> patients_with_new_consents(const context& ctx, fhir::epoch_ms since) {
  auto query = fhir::search::parse_query(ctx.search_parameters, "Consent", {{"_lastUpdated", "gt" + fhir::format_instant(since)}},
                                         {.strict = true});
  if (!query) return std::move(query).error();
  std::unordered_set<std::string> patients;
  std::string token;
  do {
    auto page = ctx.store.search(store::search_request{*query, 500, token});
    if (!page) return std::move(page).error();
    for (const store::search_entry& entry : page->entries)
      for (std::string& patient : consent::patients_of(entry.version)) patients.insert(std::move(patient));
    token = std::move(page->next_token);
  } while (!token.empty());
  return patients;
}

// A line of an export file as the stored version it was written from.
std::optional<store::resource_version> version_of(const std::string& type, const std::string& line) {
  auto parsed = fhir::json::parse(line);
  if (!parsed) return std::nullopt;
  store::resource_version version{.info = {.type = type}, .json = line};
  if (const std::string* id = parsed->find_string("id")) version.info.id = *id;
  if (const fhir::json::value* meta = parsed->find("meta"); meta && meta->is_object()) {
    if (const std::string* v = meta->find_string("versionId")) version.info.version = std::atoll(v->c_str());
    if (const std::string* t = meta->find_string("lastUpdated")) version.info.last_updated = fhir::parse_date_time(*t).value_or(0);
  }
  return version;
}

}  // namespace

fhir::result<std::string> current_view(const context& ctx, const export_job& job, const export_file& file) {
  std::string path = job.directory() + "/" + file.name;
  if (!ctx.consents) return path;
  auto changed = patients_with_new_consents(ctx, job.status().transaction_time);
  if (!changed) return std::move(changed).error();
  if (changed->empty()) return path;

  std::ifstream in(path);
  if (!in) return io_failed("read", path);
  // A copy per download (two downloads at once must not share one), removed with the job's directory.
  std::string filtered = path + "." + store::new_resource_id() + ".filtered";
  int fd = ::open(filtered.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_failed("create", filtered);
  std::FILE* out = ::fdopen(fd, "wb");
  if (!out) {
    ::close(fd);
    return io_failed("create", filtered);
  }
  bool ok = true;
  for (std::string line; ok && std::getline(in, line);) {
    // Only the lines of patients with a changed Consent are parsed and decided again.
    std::optional<store::resource_version> version;
    bool concerned = false;
    if (file.type == "Patient") {
      version = version_of(file.type, line);
      concerned = !version || changed->contains(version->info.id);
    } else {
      for (const std::string& p : consent::patients_of(store::resource_version{.info = {.type = file.type}, .json = line}))
        concerned = concerned || changed->contains(p);
      if (concerned) version = version_of(file.type, line);
    }
    if (concerned) {
      if (!version) continue;
      fhir::consent::decision d = consent::decide(ctx, job.owner(), *version);
      if (d.outcome == fhir::consent::verdict::deny) continue;
      if (d.outcome == fhir::consent::verdict::minimal) line = consent::minimal_patient(version->json);
    }
    ok = std::fwrite(line.data(), 1, line.size(), out) == line.size() && std::fputc('\n', out) != EOF;
  }
  ok = std::fclose(out) == 0 && ok;
  if (!ok) {
    ::unlink(filtered.c_str());
    return io_failed("write", filtered);
  }
  return filtered;
}

}  // namespace server::bulk
