#pragma once
// Splits the text of a Bundle into its entries without parsing it, so that a large batch or transaction
// is parsed one entry at a time: only one entry's tree exists at once, not the whole Bundle's (a 50 MB
// transaction would otherwise need several times its size in memory).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace server::bundle {

struct bundle_text {
  std::string skeleton;                  // the Bundle with "entry":[] (parse it for resourceType, type, ...)
  std::vector<std::string_view> entries;  // each element of Bundle.entry, as text (views into the input)
};

// nullopt when the text is not shaped like a JSON object (the caller then parses it whole, which reports
// the syntax error properly). Each piece is still parsed, and so checked, by the real parser.
// At most `max_entries` + 1 entries are split off (enough to tell that there are too many).
std::optional<bundle_text> split_bundle(std::string_view text, std::size_t max_entries);

}  // namespace server::bundle
