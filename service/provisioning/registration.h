#pragma once
// Registration through a template, shared by RegisterThing (MQTT), the
// admin API's programmatic registration and its dry run: evaluate the
// template, decide what happens to the thing, apply it.
#include <map>
#include <optional>
#include <string>

#include "pki/certificate.h"
#include "registry/registry.h"
#include "templates/template.h"
#include "util/error.h"

namespace provision::service {

// The registry row of a certificate this service just issued from `ca_id`:
// PENDING_ACTIVATION until a registration attaches it to a thing.
registry::CertificateRecord issued_certificate_record(const pki::Certificate& certificate, const std::string& ca_id,
                                                      int64_t now);

// What happens to the thing a plan names.
struct ThingChange {
  enum class Action { Create, Update, Keep } action = Action::Create;
  registry::ThingRecord record;     // the thing as it will be
  std::vector<std::string> groups;  // its thing groups as they will be
};

// Decides (without writing) what a plan does to the thing, applying
// OverrideSettings when it exists (with `existing_groups`). Throws
// RequestError(409, "ResourceConflict") when an override says FAIL.
ThingChange decide_thing(const templates::ThingPlan& plan, const std::optional<registry::ThingRecord>& existing,
                         const std::vector<std::string>& existing_groups = {});
std::string_view action_name(ThingChange::Action action);

// The certificates other registrations attached to a thing that still work
// or can be re-enabled (ACTIVE or INACTIVE), except `certificate_id`.
std::vector<std::string> registered_certificates(registry::Registry& registry, const std::string& thing_name,
                                                 const std::string& certificate_id = "");

// Applies a plan for a certificate, inside the caller's transaction: the
// thing, the certificate attached with the plan's status, the policies
// (named ones must exist; inline ones are stored as "<template>-<logical id>").
//
// A thing another device registered (it has registered_certificates) is
// taken over only when `may_reprovision` (the template allows
// re-provisioning, a pre-provisioning hook approved this registration, or a
// device's own enrollment registers its own thing again): its earlier
// certificates are then revoked, and returned. Otherwise RequestError(409,
// "ReprovisioningNotAllowed"), and nothing is written.
//
// A password device (HTTP bootstrap) has no certificate: `certificate_id`
// is empty, nothing is attached, and the policies' names are put in
// `*policies` (for its credential).
std::vector<std::string> apply_plan(registry::Registry& registry, const templates::Plan& plan,
                                    const std::string& template_name, const std::string& certificate_id,
                                    bool may_reprovision, std::vector<std::string>* policies = nullptr);
// The refusal apply_plan throws for a thing that is not free to take over.
RequestError reprovisioning_refused(const std::string& thing_name, const std::string& template_name);

}  // namespace provision::service
