#pragma once
// Holds a store's single writer busy (store/sqlite/write_queue.hpp) so that the writes queued meanwhile
// share one group-commit batch: the way to test what one job of a batch does to the others.

#include <chrono>
#include <future>
#include <thread>

#include "store/store.hpp"

namespace fhir::testing {

// Returns once the writer is inside a unit of work that lasts `duration`; join the thread before the
// store goes.
inline std::thread hold_writer(store::store& s, std::chrono::milliseconds duration) {
  std::promise<void> holding;
  std::future<void> held = holding.get_future();
  std::thread busy([&s, duration, holding = std::move(holding)]() mutable {
    (void)s.transact([&](store::transaction&) -> fhir::result<fhir::done> {
      holding.set_value();
      std::this_thread::sleep_for(duration);
      return fhir::done{};
    });
  });
  held.wait();
  return busy;
}

}  // namespace fhir::testing
