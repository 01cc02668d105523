// PublishEnrollment: a factory identity adds an enrollment over MQTT, one
// acknowledgement per message: the fleet's CreateEnrollment, as the admin API
// does it. Publishing the same enrollment again is harmless: it never
// changes its status, metadata or use.
#include "fleet/enrollments.h"
#include "protocol/payloads.h"
#include "provisioning/provisioning_service.h"
#include "util/json.h"

namespace provision::service {

Reply ProvisioningService::publish_enrollment(const IncomingRequest& request, registry::Registry& registry) {
  if (request.identity != protocol::Identity::Factory)
    throw RequestError(403, "NotAuthorized", "only a factory identity may publish enrollments");
  auto doc = protocol::decode_request(request.topic.format, request.payload, protocol::kEnrollmentRequestSchema);
  fleet::Context context;
  context.actor = {"factory:" + request.certificate_id, request.source_address};
  fleet::EnrollmentRequest enrollment;
  enrollment.registration_id = *json::string_member(doc, "registrationId");
  enrollment.kind = json::string_member(doc, "kind").value_or("individual");
  enrollment.template_name = json::string_member(doc, "templateName");
  enrollment.bootstrap_key = json::string_member(doc, "bootstrapKey");
  auto published = fleet::create_enrollment(registry, context, enrollment);
  const auto& stored = published.record;
  const bool created = published.created;

  rapidjson::Document reply(rapidjson::kObjectType);
  auto& a = reply.GetAllocator();
  reply.AddMember("registrationId", json::string_value(stored.registration_id, a), a);
  reply.AddMember("created", created, a);
  reply.AddMember("status", json::string_value(stored.status, a), a);
  reply.AddMember("used", stored.used_at.has_value(), a);
  return Reply{true, protocol::encode(reply, request.topic.format), {}};
}

}  // namespace provision::service
