#include "provisioning/bootstrap.h"

#include <cctype>
#include <chrono>

#include "fleet/fleet.h"
#include "hooks/hook.h"
#include "metrics.h"
#include "provisioning/enrollments.h"
#include "provisioning/provisioning_service.h"
#include "provisioning/registration.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/json.h"
#include "util/random.h"
#include "util/text.h"

namespace provision::service {
namespace {

void merge_object(rapidjson::Value& into, const rapidjson::Value& from, rapidjson::Document::AllocatorType& a) {
  if (!into.IsObject() || !from.IsObject()) return;
  for (const auto& m : from.GetObject()) {
    if (into.HasMember(m.name)) into.RemoveMember(m.name);
    rapidjson::Value name(m.name, a), value(m.value, a);
    into.AddMember(name, value, a);
  }
}

void set_string(rapidjson::Document& doc, const char* name, const std::string& value) {
  if (!doc.IsObject()) doc.SetObject();
  if (doc.HasMember(name)) doc.RemoveMember(name);
  doc.AddMember(rapidjson::Value(name, doc.GetAllocator()), json::string_value(value, doc.GetAllocator()), doc.GetAllocator());
}

}  // namespace

std::optional<std::string> normalise_mac(std::string_view text) {
  if (text.size() > 17) return std::nullopt;
  std::string hex;
  char separator = 0;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else if (c == ':' || c == '-' || c == '.') {
      if (separator && separator != c) return std::nullopt;
      separator = c;
    } else {
      return std::nullopt;
    }
  }
  if (hex.size() != 12) return std::nullopt;
  const size_t length = separator == ':' || separator == '-' ? 17 : separator == '.' ? 14 : 12;
  if (text.size() != length) return std::nullopt;
  // The separators must be where their notation puts them.
  std::string expected;
  if (separator == ':' || separator == '-') {
    for (int i = 0; i < 6; ++i) expected += (i ? std::string(1, separator) : "") + std::string(text.substr(i * 3, 2));
  } else if (separator == '.') {
    for (int i = 0; i < 3; ++i) expected += (i ? "." : "") + std::string(text.substr(i * 5, 4));
  } else {
    expected = std::string(text);
  }
  if (expected != text) return std::nullopt;
  std::string out;
  for (int i = 0; i < 6; ++i) out += (i ? ":" : "") + hex.substr(i * 2, 2);
  return out;
}

void unknown_device() { throw RequestError(404, "DeviceNotFound", "no device is enrolled for this MAC address", "mac_address"); }

std::string new_device_secret() { return random_token(32); }

namespace {

// The enrollment and template a MAC bootstraps through, and whether its
// request proves the device (a valid signature by the enrollment's
// bootstrap key). Unknown, disabled, not usable for a bootstrap, or
// unsigned where a key is enrolled: one answer, so that nobody learns
// which MACs exist.
struct Usable {
  registry::EnrollmentRecord enrollment;
  registry::TemplateRecord template_record;
  bool signed_request = false;
};

Usable usable_enrollment(registry::Registry& registry, const BootstrapInput& input) {
  auto enrollment = registry.find_enrollment(input.mac);
  if (!enrollment || enrollment->status != "ENABLED" || enrollment->kind != "individual" || !enrollment->template_name)
    unknown_device();
  auto template_record = registry.find_template(*enrollment->template_name);
  if (!template_record || !template_record->enabled) unknown_device();
  bool signed_request = false;
  if (enrollment->bootstrap_key) {
    if (!input.signature) unknown_device();
    const auto expected = hooks::signature(*enrollment->bootstrap_key, std::to_string(input.signature->timestamp), input.signature->body);
    if (!constant_time_equal(expected, input.signature->value)) unknown_device();
    signed_request = true;
  }
  return {std::move(*enrollment), std::move(*template_record), signed_request};
}

}  // namespace

BootstrapResult ProvisioningService::bootstrap_device(registry::Registry& registry, const BootstrapInput& input) {
  std::map<std::string, std::string> parameters{{"MacAddress", input.mac}, {"SerialNumber", input.mac}};
  if (!input.firmware_version.empty()) parameters["FirmwareVersion"] = input.firmware_version;
  if (!input.hardware_version.empty()) parameters["HardwareVersion"] = input.hardware_version;

  // 1. A template's http or exec pre-provisioning hook, when the device
  // registers: outside any transaction (it may take seconds), before
  // anything is written. Its "no" gets the answer an unknown MAC gets.
  std::optional<std::string> hook_broker;
  bool hook_approved = false;
  {
    std::optional<hooks::HookConfig> hook;
    std::string template_name;
    {
      auto read = registry.begin();
      auto usable = usable_enrollment(registry, input);
      template_name = *usable.enrollment.template_name;
      const bool registered = usable.enrollment.thing_name && registry.find_device_credential(*usable.enrollment.thing_name);
      if (usable.template_record.hook && !registered) {
        auto config = hooks::parse_hook(*usable.template_record.hook);
        if (config.type != hooks::HookConfig::Type::Enrollment) hook = std::move(config);
      }
    }  // read only: rolled back
    if (hook) {
      const char* type = hook->type == hooks::HookConfig::Type::Http ? "http" : "exec";
      const auto started = std::chrono::steady_clock::now();
      auto observe = [&] {
        metrics().observe("provision_hook_duration_seconds", {{"type", type}},
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      };
      hooks::HookDecision decision;
      try {
        decision = hooks::run(*hook, hooks::HookInput{"", "", "", template_name, input.mac, parameters});
      } catch (const RequestError& e) {
        observe();
        registry.audit({0, unix_now(), "bootstrap:" + input.mac, "BootstrapDevice", input.mac, e.code, input.source,
                        fleet::detail({{"template", template_name}, {"reason", e.what()}})});
        if (e.code == "HookDenied") unknown_device();
        throw;
      }
      observe();
      for (const auto& [k, v] : decision.parameter_overrides) parameters[k] = v;
      parameters["MacAddress"] = parameters["SerialNumber"] = input.mac;  // the device's own, whatever the hook said
      hook_broker = decision.broker;
      hook_approved = true;
    }
  }

  // 2. Everything else, in one transaction (the enrollment is read again:
  // it may have changed while the hook ran).
  const int64_t now = unix_now();
  auto tx = registry.begin();
  auto usable = usable_enrollment(registry, input);
  auto& enrollment = usable.enrollment;
  auto& template_record = usable.template_record;
  const std::string template_name = *enrollment.template_name;
  if (usable.signed_request &&
      !registry.remember_bootstrap_signature(sha256_hex(input.signature->value), input.signature->timestamp + kSignatureWindowSeconds + 1))
    throw RequestError(401, "ReplayedRequest", "this signed request was accepted once already; sign every request anew");
  templates::CertificateFacts facts;
  facts.registration_id = input.mac;
  auto evaluation = evaluate_template(registry, template_name, std::nullopt, parameters, facts);
  auto& plan = evaluation.plan;
  if (!plan.thing) throw RequestError(400, "InvalidTemplate", "template " + text::quote(template_name) + " has no AWS::IoT::Thing resource");
  for (const auto& [k, v] : enrollment.attributes) plan.thing->attributes[k] = v;
  if (!enrollment.attributes.empty()) plan.thing->has_attributes = true;
  if (!input.hardware_version.empty() && !plan.thing->attributes.count("hardware_version")) {
    plan.thing->attributes["hardware_version"] = input.hardware_version;
    plan.thing->has_attributes = true;
  }
  {
    auto configuration = json::parse(enrollment.configuration, "enrollment configuration");
    merge_object(plan.device_configuration, configuration, plan.device_configuration.GetAllocator());
  }
  BootstrapResult result;
  result.signed_request = usable.signed_request;
  result.broker = assign_broker(registry, template_record, plan.thing->name, enrollment.broker, hook_broker);
  if (result.broker) {
    set_string(plan.device_configuration, "brokerName", result.broker->name);
    set_string(plan.device_configuration, "brokerEndpoint", result.broker->endpoint);
  }
  if (enrollment.thing_name && *enrollment.thing_name != plan.thing->name)
    throw RequestError(409, "ResourceConflict",
                       "enrollment " + text::quote(input.mac) + " registered thing " + text::quote(*enrollment.thing_name) +
                           "; its template now names " + text::quote(plan.thing->name));

  auto credential = enrollment.used_at ? registry.find_device_credential(plan.thing->name) : std::nullopt;
  std::string secret;
  rapidjson::Document detail(rapidjson::kObjectType);
  auto& a = detail.GetAllocator();
  detail.AddMember("template", json::string_value(template_name, a), a);
  detail.AddMember("templateVersion", evaluation.version, a);
  detail.AddMember("mac", json::string_value(input.mac, a), a);
  if (!credential) {
    // The first call: registered as RegisterThing registers, with a password credential.
    mark_enrollment_used(registry, enrollment, plan.thing->name, now, template_name);
    std::vector<std::string> policies;
    apply_plan(registry, plan, template_name, "", template_record.reprovisioning == registry::kReprovisionReplace || hook_approved,
               &policies);
    registry::DeviceCredentialRecord record;
    record.thing_name = plan.thing->name;
    record.device_uuid = random_uuid();
    secret = new_device_secret();
    record.secret_hash = sha256_hex(secret);
    record.issued_at = now;
    record.last_seen_at = now;
    record.created_at = now;
    record.policies = policies;
    registry.insert_device_credential(record);
    result.device_uuid = record.device_uuid;
    result.secret = secret;
    result.registered = true;
    registry.audit({0, now, "bootstrap:" + input.mac, "BootstrapDevice", plan.thing->name, "ok", input.source, json::stringify(detail)});
  } else {
    result.device_uuid = credential->device_uuid;
    if (credential->status != registry::kActive) unknown_device();
    if (!credential->first_connected_at || usable.signed_request) {
      // Not connected yet, or a request the device's bootstrap key signed:
      // a new secret (only hashes are kept), the old one stops working.
      secret = new_device_secret();
      registry.set_device_secret(plan.thing->name, sha256_hex(secret), now);
      result.secret = secret;
      detail.AddMember("secretReissued", true, a);
      if (usable.signed_request) detail.AddMember("signed", true, a);
      registry.audit({0, now, "bootstrap:" + input.mac, "BootstrapDevice", plan.thing->name, "ok", input.source, json::stringify(detail)});
    }
    registry.touch_device_credential(plan.thing->name, now);
  }
  if (input.csr_pem) {
    // A device that holds a key: a certificate for its thing, with its
    // credential's policies, unless the thing has an active one already.
    bool has_active = false;
    for (const auto& c : registry.certificates_of_thing(plan.thing->name)) has_active = has_active || c.status == registry::kActive;
    if (!has_active) {
      auto [certificate, ca_id] = issue_for_csr(*input.csr_pem, "bootstrap");
      registry::CertificateRecord record = issued_certificate_record(certificate, ca_id, now);
      registry.insert_certificate(record);
      registry.activate_certificate(record.id, plan.thing->name, registry::kActive);
      const auto credential_now = registry.find_device_credential(plan.thing->name);
      for (const auto& policy : credential_now->policies) registry.attach_policy(record.id, policy);
      registry.audit({0, now, "bootstrap:" + input.mac, "BootstrapCertificate", plan.thing->name, "ok", input.source,
                      "{\"certificateId\":\"" + record.id + "\"}"});
      result.certificate_id = record.id;
      result.certificate_pem = record.pem;
      result.ca_pem = fleet_ca()->certificate().to_pem();
    }
  }
  tx.commit();
  result.thing_name = plan.thing->name;
  result.device_configuration.CopyFrom(plan.device_configuration, result.device_configuration.GetAllocator());
  return result;
}

}  // namespace provision::service
