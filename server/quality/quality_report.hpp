#pragma once
// The data-quality report (GET [base]/$data-quality) as a FHIR Parameters resource, from the stored
// counts (store::quality_count). One `organization` parameter per source organisation, with parts:
//   code                 the ODS code of the data controller ("none": writes without one)
//   lastFeed, stale      the latest write received (valueInstant) and whether it is older than the
//                        stale-feed age (valueBoolean)
//   accepted, rejected   writes that passed and failed validation (valueInteger)
//   nhsNumberInvalid, bindingNotFollowed, missingReference, duplicate, unchecked   (valueInteger)
//   type (repeated)      part: name, accepted, rejected, issues
//   day (repeated)       part: date (valueDate), accepted, rejected: the series a chart draws
//   issue (repeated)     the most frequent validation issues, most frequent first; part: severity,
//                        code (the message id), path (the element, without indexes), count, example
// and `generated` (valueInstant) and `since` (valueDate) at the top. Documented in docs/operations.md.

#include <optional>
#include <string>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/time.hpp"
#include "store/store.hpp"

namespace server::quality {

struct report_options {
  std::int64_t since_day = 0;
  fhir::epoch_ms now = 0;
  fhir::epoch_ms stale_after = 0;  // a feed silent for longer is stale
  std::size_t top_issues = 10;
};

// `last_feeds`: each organisation's latest write whatever its day (an organisation silent through the
// whole period is listed, with its last feed, as stale).
fhir::json::value quality_report(const std::vector<store::quality_count>& counts,
                                 const std::vector<std::pair<std::string, fhir::epoch_ms>>& last_feeds, const report_options& options);

}  // namespace server::quality
