#pragma once
// The operators' dashboard (GET /dashboard): its page, style sheet and script, embedded in the binary
// (no external assets).

#include <string_view>

namespace server::dashboard {

std::string_view page();
std::string_view style();
std::string_view script();

}  // namespace server::dashboard
