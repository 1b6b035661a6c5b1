#pragma once
// A small PNG reader for tests that check screenshots: 8-bit RGB or RGBA, not interlaced (what Chromium
// writes), decoded to RGBA pixels.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fhir::testing {

struct image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgba;  // width * height * 4
  // Pixels whose colour is within `tolerance` of (r, g, b) on every channel.
  std::size_t count(std::uint8_t r, std::uint8_t g, std::uint8_t b, int tolerance = 0) const;
};

// nullopt when the file is not a PNG this reader understands (the reason in `why`).
std::optional<image> read_png(const std::string& path, std::string* why = nullptr);

}  // namespace fhir::testing
