#pragma once
// Reading fixed-width numbers out of binary files the tests inspect (PNG chunks, SQLite's log header).

#include <cstdint>

namespace fhir::testing {

// The 32-bit big-endian number at p.
inline std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

}  // namespace fhir::testing
