#include "fleet/fleet.h"

#include "registry/models.h"
#include "util/json.h"

namespace provision::service::fleet {

const char* action::for_certificate_status(const std::string& status) {
  if (status == registry::kRevoked) return kRevokeCertificate;
  if (status == registry::kActive) return kActivateCertificate;
  return kDeactivateCertificate;
}

void audit(registry::Registry& registry, const Actor& actor, const char* action, const std::string& subject,
           const std::string& detail) {
  registry.audit({0, 0, actor.name, action, subject, "ok", actor.source, detail});
}

std::string detail(const std::vector<std::pair<std::string, std::string>>& fields) {
  rapidjson::Document doc(rapidjson::kObjectType);
  for (const auto& [k, v] : fields)
    doc.AddMember(json::string_value(k, doc.GetAllocator()), json::string_value(v, doc.GetAllocator()), doc.GetAllocator());
  return json::stringify(doc);
}

void not_found(const std::string& what) { throw RequestError(404, "NotFound", what + " does not exist"); }
void conflict(const std::string& message, const std::string& field) { throw RequestError(409, "Conflict", message, field); }
void invalid_field(const std::string& field, const std::string& message) {
  throw RequestError(400, "InvalidField", field + ": " + message, field);
}

}  // namespace provision::service::fleet
