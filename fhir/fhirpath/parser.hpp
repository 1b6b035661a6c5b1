#pragma once
// FHIRPath lexer and parser (FHIRPath N1 grammar, plus the delimited identifiers, comments and literals
// of the R4 suite). Produces an ast; function names are resolved to their definitions by the compiler.
//
// Precedence, loosest first: implies; or xor; and; in contains; = ~ != !~; < > <= >=; |; is as;
// + - &; * / div mod; unary + -; then . and [].

#include <string_view>

#include "fhir/fhirpath/ast.hpp"
#include "fhir/result.hpp"

namespace fhir::fhirpath {

// Parses `text`. Fails with kind invalid; the diagnostic gives the line, column and what was expected.
result<ast> parse(std::string_view text);

}  // namespace fhir::fhirpath
