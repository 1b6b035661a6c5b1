#include "store/id_generator.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

namespace store {

namespace {

// Bytes from the kernel's CSPRNG, read 4 KiB at a time per thread so that most ids cost no system call
// (ids are made for every create, request and audit record). Each byte is used once, by one thread.
// (A process that forked without exec would share the rest of its pool: the server never does.)
struct random_pool {
  std::array<std::uint8_t, 4096> bytes{};
  std::size_t used = 4096;

  void refill() {
    std::size_t filled = 0;
    while (filled < bytes.size()) {
      ssize_t n = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("getrandom failed");
      }
      filled += static_cast<std::size_t>(n);
    }
    used = 0;
  }
};

std::array<std::uint8_t, 16> random_bytes() {
  thread_local random_pool pool;
  if (pool.used + 16 > pool.bytes.size()) pool.refill();
  std::array<std::uint8_t, 16> out{};
  std::copy_n(pool.bytes.begin() + static_cast<std::ptrdiff_t>(pool.used), 16, out.begin());
  std::fill_n(pool.bytes.begin() + static_cast<std::ptrdiff_t>(pool.used), 16, std::uint8_t{0});  // used once
  pool.used += 16;
  return out;
}

std::string uuid_text(std::array<std::uint8_t, 16>& bytes, unsigned version) {
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | (version << 4));
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 9562 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[bytes[i] >> 4]);
    out.push_back(hex[bytes[i] & 0x0F]);
  }
  return out;
}

}  // namespace

std::string new_resource_id() {
  auto bytes = random_bytes();
  return uuid_text(bytes, 4);
}

std::string new_time_ordered_id(std::int64_t unix_ms) {
  auto bytes = random_bytes();
  for (int i = 0; i < 6; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(unix_ms) >> (40 - 8 * i));
  return uuid_text(bytes, 7);
}

}  // namespace store
