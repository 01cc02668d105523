// PublishEnrollment: a factory identity adds an enrollment over MQTT, one
// acknowledgement per message. Publishing the same enrollment again is
// harmless: it never changes its status, metadata or use.
#include "protocol/payloads.h"
#include "provisioning/provisioning_service.h"
#include "util/clock.h"
#include "util/json.h"

namespace provision::service {

Reply ProvisioningService::publish_enrollment(const IncomingRequest& request, registry::Registry& registry) {
  if (request.identity != "factory")
    throw RequestError(403, "NotAuthorized", "only a factory identity may publish enrollments");
  auto doc = protocol::decode_request(request.topic.format, request.payload, protocol::kEnrollmentRequestSchema);
  registry::EnrollmentRecord record;
  record.registration_id = *json::string_member(doc, "registrationId");
  record.kind = json::string_member(doc, "kind").value_or("individual");
  record.template_name = json::string_member(doc, "templateName");
  record.created_by = "factory:" + request.claim_certificate_id;
  record.created_at = unix_now();

  auto tx = registry.begin();
  bool created = registry.upsert_enrollment(record);
  auto stored = *registry.find_enrollment(record.registration_id);
  if (created) registry.audit({0, 0, record.created_by, "PublishEnrollment", record.registration_id, "ok", request.source_address, "{}"});
  tx.commit();

  rapidjson::Document reply(rapidjson::kObjectType);
  auto& a = reply.GetAllocator();
  reply.AddMember("registrationId", json::string_value(stored.registration_id, a), a);
  reply.AddMember("created", created, a);
  reply.AddMember("status", json::string_value(stored.status, a), a);
  reply.AddMember("used", stored.used_at.has_value(), a);
  return Reply{true, protocol::encode(reply, request.topic.format), {}};
}

}  // namespace provision::service
