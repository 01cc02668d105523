#include "fleet/enrollments.h"

#include "util/clock.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::fleet {
namespace {

registry::EnrollmentRecord existing(registry::Registry& registry, const std::string& id) {
  auto e = registry.find_enrollment(id);
  if (!e) not_found("enrollment " + text::quote(id));
  return *e;
}

void check_reprovisioning(const std::optional<std::string>& value) {
  if (value && *value != registry::kReprovisionNever && *value != registry::kReprovisionReplace)
    invalid_field("reprovisioning", "must be never or replace");
}

bool valid_registration_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

void check_bootstrap_key(const std::optional<std::string>& key) {
  if (!key) return;
  bool printable = key->size() >= 32 && key->size() <= 128;
  for (char c : *key) printable = printable && c > ' ' && c < 0x7f;
  if (!printable) invalid_field("bootstrapKey", "must be 32 to 128 printable ASCII characters (no spaces)");
}

}  // namespace

PublishedEnrollment create_enrollment(registry::Registry& registry, const Context& context, const EnrollmentRequest& request) {
  if (!valid_registration_id(request.registration_id))
    invalid_field("registrationId", "must be 1 to 128 letters, digits, ':', '.', '_' or '-'");
  if (request.kind != "individual" && request.kind != "group") invalid_field("kind", "must be individual or group");
  check_reprovisioning(request.reprovisioning);
  check_bootstrap_key(request.bootstrap_key);
  registry::EnrollmentRecord record;
  record.registration_id = request.registration_id;
  record.kind = request.kind;
  record.template_name = request.template_name;
  record.reprovisioning = request.reprovisioning.value_or(registry::kReprovisionNever);
  record.bootstrap_key = request.bootstrap_key;
  record.created_at = unix_now();
  record.created_by = context.actor.name;
  auto tx = registry.begin();
  if (record.template_name && !registry.find_template(*record.template_name))
    invalid_field("templateName", "no template " + text::quote(*record.template_name));
  PublishedEnrollment published;
  published.created = registry.upsert_enrollment(record);
  if (published.created) audit(registry, context.actor, action::kCreateEnrollment, record.registration_id, detail({{"kind", record.kind}}));
  published.record = existing(registry, record.registration_id);
  tx.commit();
  return published;
}

registry::EnrollmentRecord activate_enrollment(registry::Registry& registry, const Context& context, const std::string& id,
                                               const Activation& activation) {
  check_reprovisioning(activation.reprovisioning);
  std::optional<std::string> configuration;
  if (activation.configuration) {
    auto parsed = json::try_parse(*activation.configuration, nullptr);
    if (!parsed || !parsed->IsObject()) invalid_field("configuration", "must be a JSON object");
    configuration = json::stringify(*parsed);
  }
  auto tx = registry.begin();
  auto e = existing(registry, id);
  if (activation.attributes) e.attributes = *activation.attributes;
  if (configuration) e.configuration = *configuration;
  if (activation.broker) {
    if (!registry.find_broker(*activation.broker)) invalid_field("broker", "no broker " + text::quote(*activation.broker));
    e.broker = *activation.broker;
  }
  if (activation.reprovisioning) e.reprovisioning = *activation.reprovisioning;
  e.status = "ENABLED";
  e.activated_at = unix_now();
  registry.update_enrollment(e);
  audit(registry, context.actor, action::kActivateEnrollment, e.registration_id, detail({{"broker", e.broker.value_or("")}}));
  tx.commit();
  return e;
}

registry::EnrollmentRecord disable_enrollment(registry::Registry& registry, const Context& context, const std::string& id) {
  auto tx = registry.begin();
  auto e = existing(registry, id);
  e.status = "DISABLED";
  registry.update_enrollment(e);
  audit(registry, context.actor, action::kDisableEnrollment, e.registration_id);
  tx.commit();
  return e;
}

registry::EnrollmentRecord reset_enrollment(registry::Registry& registry, const Context& context, const std::string& id) {
  auto tx = registry.begin();
  auto e = existing(registry, id);
  if (e.kind != "individual") conflict("enrollment " + text::quote(e.registration_id) + " is a group enrollment; it is never used up");
  bool was_used = e.used_at.has_value();
  e.used_at.reset();
  registry.update_enrollment(e);
  audit(registry, context.actor, action::kResetEnrollment, e.registration_id, was_used ? R"({"wasUsed":true})" : R"({"wasUsed":false})");
  tx.commit();
  return e;
}

void delete_enrollment(registry::Registry& registry, const Context& context, const std::string& id) {
  auto tx = registry.begin();
  if (!registry.delete_enrollment(id)) not_found("enrollment " + text::quote(id));
  audit(registry, context.actor, action::kDeleteEnrollment, id);
  tx.commit();
}

}  // namespace provision::service::fleet
