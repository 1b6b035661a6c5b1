#pragma once
// FHIRPath Patch (fhirpatch.html): a Parameters resource whose `operation` parameters add, insert,
// delete, replace and move elements located by FHIRPath expressions. The definitions decide whether a
// child repeats (add appends to a list) and which JSON name a choice value takes (add "value" with a
// valueQuantity gives "valueQuantity"). Fails naming the operation: invalid for a malformed Parameters
// or expression, unprocessable when an operation cannot apply (a path that matches several elements, an
// index out of range).

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::patch {

result<json::value> apply_fhirpath_patch(const json::value& resource, const json::value& parameters,
                                         const definitions::registry& definitions);

}  // namespace fhir::patch
