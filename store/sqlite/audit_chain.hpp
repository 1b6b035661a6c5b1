#pragma once
// The hash chain over the audit trail (schema version 3): appending a link inside the writer's
// transaction, and checking the whole chain.

#include <cstdint>
#include <string_view>

#include "store/sqlite/database.hpp"
#include "store/store.hpp"

namespace store::sqlite {

// Chains the AuditEvent version `vid` whose stored body is `body` after the current last link.
void append_audit_link(database& db, std::int64_t vid, std::string_view body);

// Recomputes every link in order; also checks that every AuditEvent version (type `audit_type_id`)
// is in the chain, so a row inserted around the server is found too.
audit_check verify_audit_chain(database& db, std::int64_t audit_type_id);

}  // namespace store::sqlite
