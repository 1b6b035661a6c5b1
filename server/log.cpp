#include "server/log.hpp"

#include <unistd.h>

#include <atomic>

#include "fhir/time.hpp"

namespace server::log {
namespace {
std::atomic<level> current{level::info};

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

void write(level l, std::string_view message) {
  std::string line = fmt::format("{} {} {}\n", fhir::format_instant(fhir::now_ms()), name(l), message);
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
