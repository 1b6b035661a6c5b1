#pragma once
// FHIRPath environments for the validators, reused across validations. An environment owns an arena that
// takes a few evaluations to warm up; creating one per validation (or per extension validated) cost more
// than the evaluations themselves. A walker leases one for its lifetime; a nested walk (an extension
// checked against its definition, conformsTo()) leases another, since every evaluation rewinds its
// environment's arena. Thread-safe.

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/fhirpath.hpp"

namespace fhir::validation {

class environment_pool {
 public:
  // `configure` sets up each new environment (hooks such as memberOf).
  environment_pool(const definitions::registry& definitions, std::function<void(fhirpath::environment&)> configure)
      : defs_(definitions), configure_(std::move(configure)) {}

  class lease {
   public:
    lease(environment_pool& pool, std::unique_ptr<fhirpath::environment> env) : pool_(&pool), env_(std::move(env)) {}
    lease(lease&&) noexcept = default;
    lease& operator=(lease&&) noexcept = default;
    ~lease() {
      if (env_) pool_->release(std::move(env_));
    }
    fhirpath::environment& operator*() const { return *env_; }
    fhirpath::environment* operator->() const { return env_.get(); }

   private:
    environment_pool* pool_;
    std::unique_ptr<fhirpath::environment> env_;
  };

  lease acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto env = std::move(free_.back());
        free_.pop_back();
        return lease(*this, std::move(env));
      }
    }
    auto env = std::make_unique<fhirpath::environment>(defs_);
    if (configure_) configure_(*env);
    return lease(*this, std::move(env));
  }

 private:
  void release(std::unique_ptr<fhirpath::environment> env) {
    std::lock_guard lock(mutex_);
    if (free_.size() < 64) free_.push_back(std::move(env));
  }

  const definitions::registry& defs_;
  std::function<void(fhirpath::environment&)> configure_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<fhirpath::environment>> free_;
};

}  // namespace fhir::validation
