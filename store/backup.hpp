#pragma once
// Online backup of a store's database file while a server writes to it (SQLite's backup API), and the
// check that makes a copy worth restoring. SQLite is private to store/: callers see only this.
//
// The copy is one consistent snapshot: every page is copied in a single read transaction (in WAL mode a
// reader blocks no writer), so the backup never restarts because the server committed meanwhile. It is
// written next to the target as TARGET.partial, checked with PRAGMA integrity_check, synced, and only
// then given the name TARGET (a hard link, which never replaces a file, then the partial name removed):
// a crash or a failed check never leaves a half-written file under the name. The read trail beside the
// database (TARGET-read-audit: the audit records of requests that wrote nothing) is copied the same way
// and named first, so a backup whose database has its name is complete.

#include <cstdint>
#include <string>

#include "fhir/result.hpp"

namespace store {

struct backup_report {
  std::int64_t pages = 0;
  std::int64_t bytes = 0;
  double seconds = 0;
};

// Copies the database at `from` (which may be in use by a running server) to `to`, and its read trail
// beside it; neither target may exist.
// Fails (fault) when the source cannot be read, the target cannot be written, or the copy fails its
// integrity check; the targets are then left absent.
fhir::result<backup_report> backup_database(const std::string& from, const std::string& to);

}  // namespace store
