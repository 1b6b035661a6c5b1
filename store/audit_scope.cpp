#include "store/store.hpp"

namespace store {
namespace {

// The request thread's innermost audit hook. Units of work are submitted synchronously from the thread
// that serves the request, so the hook outlives every unit that captures it.
thread_local const audit_hook* innermost = nullptr;

}  // namespace

scoped_audit::scoped_audit(audit_hook hook) : hook_(std::move(hook)), outer_(innermost) { innermost = &hook_; }

scoped_audit::~scoped_audit() { innermost = outer_; }

const audit_hook* scoped_audit::current() { return innermost; }

}  // namespace store
