#include "store/store.hpp"

namespace store {
namespace {

// The request thread's innermost audit hook and write check. Units of work are submitted synchronously from the thread
// that serves the request, so the hook outlives every unit that captures it.
thread_local const audit_hook* innermost = nullptr;
thread_local const write_check* innermost_check = nullptr;

}  // namespace

scoped_audit::scoped_audit(audit_hook hook) : hook_(std::move(hook)), outer_(innermost) { innermost = &hook_; }

scoped_audit::~scoped_audit() { innermost = outer_; }

const audit_hook* scoped_audit::current() { return innermost; }

scoped_write_check::scoped_write_check(write_check check) : check_(std::move(check)), outer_(innermost_check) { innermost_check = &check_; }

scoped_write_check::~scoped_write_check() { innermost_check = outer_; }

const write_check* scoped_write_check::current() { return innermost_check; }

}  // namespace store
