#include "fhir/definitions/package_reader.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <zlib.h>

#include "fhir/json/parse.hpp"

namespace fhir::definitions {
namespace {

namespace fs = std::filesystem;

// A package is definitions, not data: anything larger is a mistake or an attack.
constexpr std::size_t max_unpacked_bytes = 512u << 20;

error package_error(std::string why) {
  return error(error_kind::invalid, issue_type::invalid, std::move(why), "package-unreadable");
}

bool is_kept_type(std::string_view type) {
  static constexpr std::array<std::string_view, 6> kept = {"StructureDefinition", "ValueSet", "CodeSystem",
                                                           "SearchParameter", "CompartmentDefinition", "OperationDefinition"};
  return std::find(kept.begin(), kept.end(), type) != kept.end();
}

bool is_metadata(std::string_view file_name) { return file_name == "package.json" || file_name == ".index.json"; }

// Parses one file's text; keeps it when it is a resource of a kept type.
result<done> take(std::string file, std::string_view text, std::vector<package_resource>& out) {
  auto parsed = json::parse(text);
  if (!parsed) return package_error(fmt::format("{}: not valid JSON: {}", file, parsed.error().summary()));
  const std::string* type = parsed->find_string("resourceType");
  if (type && is_kept_type(*type)) out.push_back(package_resource{std::move(file), std::move(*parsed)});
  return done{};
}

result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return package_error(fmt::format("{}: cannot be read", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

result<std::string> gunzip(std::string_view compressed, const std::string& name) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return package_error(fmt::format("{}: cannot start gzip", name));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  std::array<char, 1 << 16> buffer{};
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buffer.data());
    z.avail_out = static_cast<uInt>(buffer.size());
    status = inflate(&z, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&z);
      return package_error(fmt::format("{}: not a valid gzip file ({})", name, z.msg ? z.msg : "corrupt data"));
    }
    out.append(buffer.data(), buffer.size() - z.avail_out);
    if (out.size() > max_unpacked_bytes) {
      inflateEnd(&z);
      return package_error(fmt::format("{}: unpacks to more than {} MB", name, max_unpacked_bytes >> 20));
    }
    if (status == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      return package_error(fmt::format("{}: the gzip data is truncated", name));
    }
  }
  inflateEnd(&z);
  return out;
}

std::string_view field(std::string_view header, std::size_t offset, std::size_t length) {
  std::string_view f = header.substr(offset, length);
  return f.substr(0, f.find('\0'));
}

std::optional<std::size_t> octal(std::string_view f) {
  std::size_t n = 0;
  bool any = false;
  for (char c : f) {
    if (c == ' ' || c == '\0') {
      if (any) break;
      continue;
    }
    if (c < '0' || c > '7') return std::nullopt;
    n = n * 8 + static_cast<std::size_t>(c - '0');
    any = true;
  }
  return n;
}

// The `path` record of a pax extended header ("<length> path=<value>\n" records).
std::string pax_path(std::string_view records) {
  while (!records.empty()) {
    auto space = records.find(' ');
    if (space == std::string_view::npos) break;
    std::size_t length = 0;
    for (char c : records.substr(0, space)) length = length * 10 + static_cast<std::size_t>(c - '0');
    if (length == 0 || length > records.size()) break;
    std::string_view record = records.substr(space + 1, length - space - 2);  // without the newline
    if (record.starts_with("path=")) return std::string(record.substr(5));
    records = records.substr(length);
  }
  return {};
}

// Walks a ustar/pax/GNU tar archive; calls `on_file(name, content)` for each regular file.
template <typename OnFile>
result<done> untar(std::string_view archive, const std::string& name, OnFile on_file) {
  std::string long_name;
  std::size_t offset = 0;
  while (offset + 512 <= archive.size()) {
    std::string_view header = archive.substr(offset, 512);
    if (header.find_first_not_of('\0') == std::string_view::npos) break;  // end-of-archive blocks
    auto size = octal(field(header, 124, 12));
    if (!size) return package_error(fmt::format("{}: corrupt tar header at byte {}", name, offset));
    char type = header[156];
    std::string path = long_name.empty() ? std::string(field(header, 0, 100)) : std::move(long_name);
    long_name.clear();
    if (std::string_view prefix = field(header, 345, 155); !prefix.empty() && field(header, 257, 5) == "ustar" &&
                                                         path == field(header, 0, 100))
      path = std::string(prefix) + "/" + path;
    offset += 512;
    if (offset + *size > archive.size()) return package_error(fmt::format("{}: truncated tar entry {}", name, path));
    std::string_view content = archive.substr(offset, *size);
    offset += (*size + 511) / 512 * 512;
    if (type == 'L') {
      long_name = std::string(content.substr(0, content.find('\0')));
    } else if (type == 'x') {
      long_name = pax_path(content);
    } else if (type == '0' || type == '\0') {
      if (auto taken = on_file(path, content); !taken) return taken;
    }
  }
  return done{};
}

result<done> read_tarball(const fs::path& location, std::vector<package_resource>& out) {
  auto compressed = read_file(location);
  if (!compressed) return std::move(compressed).error();
  auto archive = gunzip(*compressed, location.string());
  if (!archive) return std::move(archive).error();
  return untar(*archive, location.string(), [&](const std::string& path, std::string_view content) -> result<done> {
    // npm layout: package/<resource>.json; subfolders (example/, other/, openapi/) are not definitions.
    std::string_view p = path;
    if (p.starts_with("./")) p.remove_prefix(2);
    if (!p.starts_with("package/")) return done{};
    std::string_view file = p.substr(8);
    if (file.find('/') != std::string_view::npos || !file.ends_with(".json") || is_metadata(file)) return done{};
    return take(std::string(p), content, out);
  });
}

result<done> read_directory(const fs::path& location, std::vector<package_resource>& out) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(location, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path& p = it->path();
    if (it->is_directory() && (p.filename() == "example" || p.filename() == "examples")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && p.extension() == ".json" && !is_metadata(p.filename().string())) files.push_back(p);
  }
  if (ec) return package_error(fmt::format("{}: cannot be listed: {}", location.string(), ec.message()));
  std::sort(files.begin(), files.end());  // a stable order whatever the file system's
  for (const fs::path& p : files) {
    auto text = read_file(p);
    if (!text) return std::move(text).error();
    if (auto taken = take(p.string(), *text, out); !taken) return taken;
  }
  return done{};
}

}  // namespace

result<std::vector<package_resource>> read_package(const std::filesystem::path& location) {
  std::vector<package_resource> out;
  std::error_code ec;
  if (fs::is_directory(location, ec)) {
    if (auto read = read_directory(location, out); !read) return std::move(read).error();
  } else if (fs::is_regular_file(location, ec)) {
    if (auto read = read_tarball(location, out); !read) return std::move(read).error();
  } else {
    return package_error(fmt::format("{}: no such package (expected a directory or a .tgz file)", location.string()));
  }
  return out;
}

}  // namespace fhir::definitions
