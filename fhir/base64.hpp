#pragma once
// Base64 (RFC 4648): the standard alphabet, or the URL-safe one ('-' and '_') when `url`.

#include <optional>
#include <string>
#include <string_view>

namespace fhir {

std::string base64_encode(std::string_view data, bool url = false);
// The URL-safe alphabet without padding, as JOSE (RFC 7515 section 2) writes binary data.
std::string base64url_encode(std::string_view data);
// nullopt when `text` has a character outside the alphabet; decoding stops at the first '='.
std::optional<std::string> base64_decode(std::string_view text, bool url = false);

}  // namespace fhir
