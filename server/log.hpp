#pragma once
// Minimal thread-safe logging to stderr: one line per event, `2026-11-25T16:13:18.123Z level message`.
// Lines are written with a single write() so concurrent lines never interleave.

#include <string_view>

#include <fmt/format.h>

namespace server::log {

enum class level { debug, info, warning, error, off };

void set_level(level l);
bool enabled(level l);
void write(level l, std::string_view message);
// Parses "debug", "info", "warning", "error" or "off".
bool parse_level(std::string_view text, level& out);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::debug)) write(level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::info)) write(level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::warning)) write(level::warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::error)) write(level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace server::log
