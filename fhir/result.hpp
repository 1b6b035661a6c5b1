#pragma once
// result<T>: a value or a fhir::error. A small stand-in for std::expected (C++23), which the project's
// C++20 toolchain lacks.

#include <cassert>
#include <utility>
#include <variant>

#include "fhir/outcome.hpp"

namespace fhir {

template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(fhir::error e) : v_(std::in_place_index<1>, std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const fhir::error& error() const& { assert(!ok()); return std::get<1>(v_); }
  fhir::error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, fhir::error> v_;
};

// For operations that produce nothing but may fail.
struct done {};

}  // namespace fhir
