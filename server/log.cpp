#include "server/log.hpp"

#include <unistd.h>

#include <atomic>

#include "fhir/json/serialize.hpp"
#include "fhir/time.hpp"

namespace server::log {
namespace {
std::atomic<level> current{level::info};
std::atomic<format> current_format{format::text};

std::string_view name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warning: return "warning";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "?";
}
}  // namespace

void set_level(level l) { current.store(l, std::memory_order_relaxed); }
bool enabled(level l) { return l >= current.load(std::memory_order_relaxed) && l != level::off; }

void set_format(format f) { current_format.store(f, std::memory_order_relaxed); }

bool parse_format(std::string_view text, format& out) {
  if (text == "text") out = format::text;
  else if (text == "json") out = format::json;
  else return false;
  return true;
}

void write(level l, std::string_view message, const std::vector<field>& fields) {
  std::string line;
  if (current_format.load(std::memory_order_relaxed) == format::json) {
    line = R"({"time":")" + fhir::format_instant(fhir::now_ms()) + R"(","level":")" + std::string(name(l)) + R"(","message":)";
    fhir::json::append_quoted(line, message);
    for (const auto& [key, value] : fields) {
      line += ',';
      fhir::json::append_quoted(line, key);
      line += ':';
      fhir::json::append_quoted(line, value);
    }
    line += "}\n";
  } else {
    line = fmt::format("{} {} {}", fhir::format_instant(fhir::now_ms()), name(l), message);
    for (const auto& [key, value] : fields) line += fmt::format(" {}={}", key, value);
    line += '\n';
  }
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool parse_level(std::string_view text, level& out) {
  for (level l : {level::debug, level::info, level::warning, level::error, level::off}) {
    if (text == name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

}  // namespace server::log
