#pragma once
// The audit record of one request, collected while it is served and written when it ends: by the
// request's own unit of work when it writes (store::scoped_audit, same transaction), otherwise after the
// interaction, in the writer's next group commit, and the response waits for that commit (its `after`
// completion) before it is sent. A request whose record cannot be written is answered 503 (consent.md
// section 4: no unaudited access).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/json/value.hpp"
#include "server/audit/audit_event.hpp"
#include "server/context.hpp"
#include "server/http/message.hpp"
#include "store/store.hpp"

namespace server {
struct fhir_request;
}

namespace server::audit {

class request_audit {
 public:
  request_audit(const context& ctx, const http::request& request);

  // The request's id: the client's X-Request-Id when usable, else one made here.
  const std::string& request_id() const { return facts_.request_id; }

  void authenticated(const auth::caller& caller);
  // The caller set by authenticated() of a request that may write (not GET or HEAD), or null.
  const auth::caller* caller() const { return caller_ ? &*caller_ : nullptr; }
  // The routed interaction; the patients the request names (Patient/[id]/..., patient=, subject=Patient/).
  void routed(std::string_view interaction, const fhir_request& request);
  // A resource sent back (read, search and history entries, $everything); its patients are noted.
  void returned(const store::version_info& info, std::string_view body);
  // Many resources returned at once (a bulk export file): the first of them, how many in all, and the
  // patients whose data they are.
  void returned_many(const std::vector<resource_ref>& first, std::size_t count, const std::vector<std::string>& patients);

  // Patients whose data the request reached but did not return (hidden by Consent): the privacy
  // officer finds the attempt by patient.
  void targeted(const std::vector<std::string>& patients);

  // A Consent decided what the request returned (or hid); repeated decisions by one Consent add up.
  void consent_applied(consent_decision decision);

  // A declared emergency: its Security Alert is written now, as a record of its own and durably, so
  // no break-glass session opens without it (the request's own record follows as usual).
  fhir::result<fhir::done> security_alert(emergency_override alert);

  // The AuditEvent of a unit of work that wrote `written` (success: it commits with them).
  std::optional<store::audit_record> for_writes(const std::vector<store::audited_write>& written);

  // Writes the record unless the request's writes already did, and echoes X-Request-Id. The response
  // comes back at once with `after` set: it must not be sent before that completes, and becomes 503
  // when the record cannot be written.
  http::response finish(http::response response);

 private:
  void note_patient(std::string id);
  void note_resource(resource_ref ref);
  store::audit_record record();

  const context& ctx_;
  std::optional<auth::caller> caller_;  // a copy: the router's may end before this record does
  audit_facts facts_;
  bool recorded_in_unit_ = false;
};

// The Patient ids a resource's JSON refers to ("reference": "Patient/1", also absolute and versioned).
std::vector<std::string> referenced_patients(std::string_view body);

}  // namespace server::audit
