#include "tests/support/png.hpp"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "tests/support/bytes.hpp"

namespace fhir::testing {
namespace {

std::optional<image> fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return std::nullopt;
}

int paeth(int a, int b, int c) {
  int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

}  // namespace

std::size_t image::count(std::uint8_t r, std::uint8_t g, std::uint8_t b, int tolerance) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 3 < rgba.size(); i += 4)
    if (std::abs(rgba[i] - r) <= tolerance && std::abs(rgba[i + 1] - g) <= tolerance && std::abs(rgba[i + 2] - b) <= tolerance) ++n;
  return n;
}

std::optional<image> read_png(const std::string& path, std::string* why) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < 8 || data.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return fail(why, "not a PNG signature");
  image out;
  int channels = 0;
  std::string compressed;
  for (std::size_t at = 8; at + 12 <= data.size();) {
    std::uint32_t length = be32(p + at);
    std::string type = data.substr(at + 4, 4);
    if (at + 12 + length > data.size()) return fail(why, "truncated chunk");
    const unsigned char* body = p + at + 8;
    if (type == "IHDR") {
      if (length < 13) return fail(why, "short image header");
      out.width = be32(body);
      out.height = be32(body + 4);
      int depth = body[8], colour = body[9], interlace = body[12];
      if (depth != 8 || interlace != 0 || (colour != 2 && colour != 6)) return fail(why, "not 8-bit RGB/RGBA without interlace");
      channels = colour == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed.append(reinterpret_cast<const char*>(body), length);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  if (!channels || out.width == 0 || out.height == 0) return fail(why, "no image header");
  std::size_t stride = std::size_t(out.width) * channels;
  std::vector<unsigned char> raw((stride + 1) * out.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()) != Z_OK || raw_size != raw.size())
    return fail(why, "image data does not inflate to its size");
  std::vector<unsigned char> previous(stride, 0), row(stride);
  out.rgba.resize(std::size_t(out.width) * out.height * 4);
  for (std::uint32_t y = 0; y < out.height; ++y) {
    const unsigned char* line = raw.data() + y * (stride + 1);
    int filter = line[0];
    for (std::size_t x = 0; x < stride; ++x) {
      int a = x >= std::size_t(channels) ? row[x - channels] : 0, b = previous[x], c = x >= std::size_t(channels) ? previous[x - channels] : 0;
      int v = line[1 + x];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: v += paeth(a, b, c); break;
        default: return fail(why, "unknown row filter");
      }
      row[x] = static_cast<unsigned char>(v);
    }
    for (std::uint32_t x = 0; x < out.width; ++x) {
      unsigned char* px = &out.rgba[(std::size_t(y) * out.width + x) * 4];
      for (int k = 0; k < 3; ++k) px[k] = row[x * channels + k];
      px[3] = channels == 4 ? row[x * channels + 3] : 255;
    }
    previous.swap(row);
  }
  return out;
}

}  // namespace fhir::testing
