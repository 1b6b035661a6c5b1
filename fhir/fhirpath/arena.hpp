#pragma once
// A bump allocator for one evaluation's temporary collections and strings. reset() rewinds it but keeps
// its blocks, so after the first evaluations warm it up, evaluating allocates nothing from the heap.
// Not thread-safe: one arena per evaluating thread (it lives in the evaluation environment).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace fhir::fhirpath {

class arena {
 public:
  explicit arena(std::size_t block_size = 64 * 1024) : block_size_(block_size) {}
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;

  // Makes all memory reusable; everything allocated before is invalid afterwards.
  void reset() {
    current_ = 0;
    offset_ = 0;
  }

  // `bytes` of memory aligned to `alignment` (a power of two), valid until reset().
  void* allocate(std::size_t bytes, std::size_t alignment) {
    if (current_ < blocks_.size()) {
      block& b = blocks_[current_];
      std::size_t start = (offset_ + alignment - 1) & ~(alignment - 1);
      if (start + bytes <= b.size) {
        offset_ = start + bytes;
        return b.data.get() + start;
      }
    }
    return allocate_slow(bytes, alignment);
  }

  // Copies `text` into the arena.
  std::string_view copy(std::string_view text) {
    if (text.empty()) return {};
    char* p = static_cast<char*>(allocate(text.size(), 1));
    std::memcpy(p, text.data(), text.size());
    return {p, text.size()};
  }

 private:
  // The current block cannot take the request: try the following blocks (kept from earlier
  // evaluations), adding a new one at the end when none can.
  void* allocate_slow(std::size_t bytes, std::size_t alignment) {
    for (;;) {
      if (current_ >= blocks_.size()) {
        std::size_t size = std::max(block_size_, bytes + alignment);
        blocks_.push_back(block{std::make_unique_for_overwrite<std::byte[]>(size), size});  // no zeroing
      }
      block& b = blocks_[current_];
      std::size_t start = (offset_ + alignment - 1) & ~(alignment - 1);
      if (start + bytes <= b.size) {
        offset_ = start + bytes;
        return b.data.get() + start;
      }
      ++current_;
      offset_ = 0;
    }
  }

  struct block {
    std::unique_ptr<std::byte[]> data;
    std::size_t size;
  };
  std::vector<block> blocks_;
  std::size_t current_ = 0, offset_ = 0;
  std::size_t block_size_;
};

}  // namespace fhir::fhirpath
