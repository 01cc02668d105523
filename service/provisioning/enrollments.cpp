#include "provisioning/enrollments.h"

#include "util/error.h"
#include "util/text.h"

namespace provision::service {
namespace {

// Whether an enrollment lets a device register. Evaluates every condition
// (no early return), so a missing, disabled or used enrollment costs the same.
bool usable(const registry::EnrollmentRecord& e, const std::string& template_name) {
  bool enabled = e.status == "ENABLED";
  // A used one only when it may re-provision its device (or an admin reset it).
  bool unused = e.kind == "group" || !e.used_at.has_value() || e.reprovisioning == registry::kReprovisionReplace;
  bool template_ok = !e.template_name || *e.template_name == template_name;
  return enabled & unused & template_ok;
}

}  // namespace

registry::EnrollmentRecord check_enrollment(registry::Registry& registry, const std::string& registration_id,
                                            const std::string& issuer_ca_id, const std::string& template_name) {
  // Both lookups always happen; a missing row is checked as a disabled one.
  auto individual = registry.find_enrollment(registration_id.empty() ? std::string(1, '\0') : registration_id);
  auto group = registry.find_enrollment(issuer_ca_id.empty() ? std::string(1, '\0') : issuer_ca_id);
  registry::EnrollmentRecord missing;
  missing.status = "DISABLED";
  const auto& a = individual ? *individual : missing;
  const auto& b = group && group->kind == "group" ? *group : missing;
  // Both checks always run: `&` on values already computed, not `&&`, so
  // that which one failed does not show in the time taken.
  const bool individual_usable = usable(a, template_name), group_usable = usable(b, template_name);
  const bool individual_ok = individual.has_value() & individual_usable;
  const bool group_ok = (group.has_value() && group->kind == "group") & group_usable;
  if (individual_ok) return a;
  if (group_ok) return b;
  throw RequestError(403, "EnrollmentNotAllowed", "this device has no active enrollment for template " + text::quote(template_name));
}

void mark_enrollment_used(registry::Registry& registry, const registry::EnrollmentRecord& enrollment,
                          const std::string& thing_name, int64_t now, const std::string& template_name) {
  if (enrollment.kind != "individual") return;
  // Another worker used it between our check and now (a shared registry): refused alike.
  if (!registry.use_enrollment(enrollment.registration_id, thing_name, now))
    throw RequestError(403, "EnrollmentNotAllowed", "this device has no active enrollment for template " + text::quote(template_name));
}

}  // namespace provision::service
