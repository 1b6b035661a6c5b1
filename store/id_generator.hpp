#pragma once
// Server-assigned resource ids: random UUIDs (version 4) from the kernel's CSPRNG, so ids reveal neither
// how many resources exist nor when they were made, and cannot be guessed.

#include <string>

namespace store {

// A lowercase UUID such as "3f2b1c9e-4d5a-4e6f-8a7b-0c1d2e3f4a5b" (36 characters, a valid FHIR id).
std::string new_resource_id();

}  // namespace store
