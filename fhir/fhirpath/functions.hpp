#pragma once
// The FHIRPath function library, in groups (one source file each). find_function() looks across them.

#include <span>

#include "fhir/fhirpath/evaluator.hpp"

namespace fhir::fhirpath {

std::span<const function_definition> collection_functions();  // existence, filtering, subsetting, combining, tree, aggregates
std::span<const function_definition> conversion_functions();  // iif, toX, convertsToX, boundaries, precision
std::span<const function_definition> string_functions();      // strings and maths
std::span<const function_definition> fhir_functions();        // extension, resolve, hasValue, conformsTo, memberOf, ...

}  // namespace fhir::fhirpath
