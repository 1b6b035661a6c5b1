#pragma once
// Minimal thread-safe logging to stderr: one line per event, `2026-11-25T16:13:18.123Z level message`,
// or with --log-format json one JSON object per line (`time`, `level`, `message` and the event's fields,
// e.g. a request's `request_id`), for log shippers. Lines are written with a single write() so
// concurrent lines never interleave.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace server::log {

enum class level { debug, info, warning, error, off };
enum class format { text, json };

// A named value of an event, e.g. {"request_id", "a1b2"}.
using field = std::pair<std::string_view, std::string>;

void set_level(level l);
bool enabled(level l);
void set_format(format f);
void write(level l, std::string_view message, const std::vector<field>& fields = {});
// Parses "text" or "json".
bool parse_format(std::string_view text, format& out);
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
