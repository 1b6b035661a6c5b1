#pragma once
// A FHIRPath collection: a sequence of items in the evaluation's arena. Most intermediate collections
// hold a single item, so one item is stored inline; larger collections grow into the arena. Items are
// trivially copyable and the arena owns all memory, so copying is a memcpy and destruction is free.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fhir/fhirpath/arena.hpp"
#include "fhir/fhirpath/value.hpp"

namespace fhir::fhirpath {

class collection {
 public:
  using value_type = item;
  using iterator = item*;
  using const_iterator = const item*;

  explicit collection(fhirpath::arena* memory) : memory_(memory) {}
  // A copy of `other` in `memory`.
  collection(const collection& other, fhirpath::arena* memory) : memory_(memory) { insert(end(), other.begin(), other.end()); }
  collection(const collection& other) : collection(other, other.memory_) {}
  collection(collection&& other) noexcept : memory_(other.memory_) { take(other); }
  collection& operator=(const collection& other) {
    if (this != &other) {
      size_ = 0;
      insert(end(), other.begin(), other.end());
    }
    return *this;
  }
  collection& operator=(collection&& other) noexcept {
    if (this != &other) {
      if (other.memory_ == memory_) {
        take(other);
      } else {
        size_ = 0;
        insert(end(), other.begin(), other.end());
      }
    }
    return *this;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  item* begin() { return data_; }
  item* end() { return data_ + size_; }
  const item* begin() const { return data_; }
  const item* end() const { return data_ + size_; }
  item& operator[](std::size_t i) { return data_[i]; }
  const item& operator[](std::size_t i) const { return data_[i]; }
  const item& front() const { return data_[0]; }
  const item& back() const { return data_[size_ - 1]; }
  fhirpath::arena* memory() const { return memory_; }

  void reserve(std::size_t n) {
    if (n > capacity_) grow(n);
  }
  void push_back(const item& i) {
    if (size_ == capacity_) grow(capacity_ * 2);
    data_[size_++] = i;
  }
  void clear() { size_ = 0; }
  // Appends [first, last) (only at the end).
  void insert(item* position, const item* first, const item* last) {
    (void)position;
    std::size_t n = static_cast<std::size_t>(last - first);
    if (size_ + n > capacity_) grow(std::max<std::size_t>(size_ + n, std::size_t{capacity_} * 2));
    if (n) std::memcpy(static_cast<void*>(data_ + size_), first, n * sizeof(item));
    size_ += static_cast<std::uint32_t>(n);
  }

 private:
  void grow(std::size_t n) {
    auto* fresh = static_cast<item*>(memory_->allocate(n * sizeof(item), alignof(item)));
    if (size_) std::memcpy(static_cast<void*>(fresh), data_, size_ * sizeof(item));
    data_ = fresh;
    capacity_ = static_cast<std::uint32_t>(n);
  }

  // Moves other's items here: its arena buffer is shared, its inline item copied.
  void take(collection& other) {
    if (other.data_ == other.inline_slot()) {
      data_ = inline_slot();
      capacity_ = 1;
      if (other.size_) std::memcpy(static_cast<void*>(inline_storage_), other.inline_storage_, sizeof(item));
    } else {
      data_ = other.data_;
      capacity_ = other.capacity_;
    }
    size_ = other.size_;
    other.data_ = other.inline_slot();
    other.size_ = 0;
    other.capacity_ = 1;
  }

  item* inline_slot() { return reinterpret_cast<item*>(inline_storage_); }
  const item* inline_slot() const { return reinterpret_cast<const item*>(inline_storage_); }

  fhirpath::arena* memory_;
  item* data_ = inline_slot();
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = 1;
  // Raw storage for one item: left uninitialised until used (constructing a collection is on every
  // evaluation step, and items are trivially copyable).
  alignas(item) unsigned char inline_storage_[sizeof(item)];
};

static_assert(std::is_trivially_copyable_v<item>, "items are copied with memcpy");

}  // namespace fhir::fhirpath
