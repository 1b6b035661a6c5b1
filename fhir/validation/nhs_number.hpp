#pragma once
// NHS numbers: ten digits, the last a Modulus 11 check digit over the first nine (weights 10 down to 2;
// a check value of 11 means 0, and 10 means the number cannot exist). See the NHS Data Dictionary,
// "NHS NUMBER".

#include <string_view>

namespace fhir::validation {

inline constexpr std::string_view nhs_number_system = "https://fhir.nhs.uk/Id/nhs-number";

constexpr bool is_valid_nhs_number(std::string_view s) {
  if (s.size() != 10) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 10; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  for (std::size_t i = 0; i < 9; ++i) sum += (s[i] - '0') * static_cast<int>(10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check != 10 && check == s[9] - '0';
}

}  // namespace fhir::validation
