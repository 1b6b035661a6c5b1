#pragma once
// Server-assigned resource ids: random UUIDs (version 4) from the kernel's CSPRNG, so ids reveal neither
// how many resources exist nor when they were made, and cannot be guessed.

#include <cstdint>
#include <string>

namespace store {

// A lowercase UUID such as "3f2b1c9e-4d5a-4e6f-8a7b-0c1d2e3f4a5b" (36 characters, a valid FHIR id).
std::string new_resource_id();

// A UUID version 7 (RFC 9562): 48 bits of `unix_ms`, then 74 random bits. Ids made later sort later,
// so an index on them grows at its end; for records whose time is not a secret (audit records).
std::string new_time_ordered_id(std::int64_t unix_ms);

}  // namespace store
