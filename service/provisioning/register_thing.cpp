// RegisterThing: the ownership token proves the device holds a certificate
// this service issued to the same claim; the template decides the thing, its
// policies and the device configuration; everything is applied in one
// transaction, so a failure anywhere leaves nothing behind.
#include <chrono>

#include "provisioning/assignment.h"
#include "provisioning/enrollments.h"
#include "hooks/hook.h"
#include "metrics.h"
#include "pki/certificate.h"
#include "provisioning/ownership_token.h"
#include "provisioning/registration.h"
#include "protocol/payloads.h"
#include "provisioning/provisioning_service.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/fault.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service {
namespace {

// A valid token: the certificate it is bound to (PENDING_ACTIVATION) and,
// for a token issued before registry schema 5, its hash in ownership_tokens.
struct CheckedToken {
  registry::CertificateRecord certificate;
  std::optional<std::string> older_token_hash;
};

// Checks a token inside the registration's transaction (redeem_token()
// marks it used in the same one, so that two workers racing on the same
// token cannot both use it).
CheckedToken check_token(const std::string& token, const IncomingRequest& request, registry::Registry& registry,
                         int64_t now) {
  const auto invalid = [] {
    return RequestError(400, "InvalidCertificateOwnershipToken",
                        "certificateOwnershipToken is not valid: it was never issued, or its certificate was removed");
  };
  const std::string hash = sha256_hex(token);
  std::optional<registry::CertificateRecord> certificate;
  std::optional<registry::OwnershipTokenRecord> older;  // issued before registry schema 5
  int64_t expires_at = 0;
  std::optional<int64_t> used_at;
  std::string claim;
  if (auto id = certificate_named_by(token)) {
    certificate = registry.find_certificate(*id);
    if (!certificate || !certificate->token_hash || !constant_time_equal(*certificate->token_hash, hash)) throw invalid();
    expires_at = certificate->token_expires_at.value_or(0);
    used_at = certificate->token_used_at;
    claim = certificate->claim_certificate_id.value_or("");
  } else {
    older = registry.find_token(hash);
    if (!older) throw invalid();
    expires_at = older->expires_at;
    used_at = older->used_at;
    claim = older->claim_certificate_id;
  }
  if (used_at) throw RequestError(400, "CertificateOwnershipTokenUsed", "certificateOwnershipToken was already used");
  if (expires_at < now) throw RequestError(400, "CertificateOwnershipTokenExpired", "certificateOwnershipToken expired");
  if (claim != request.certificate_id)
    throw RequestError(403, "CertificateOwnershipTokenNotOwned",
                       "certificateOwnershipToken was issued to another claim certificate");
  if (older) {
    certificate = registry.find_certificate(older->certificate_id);
    if (!certificate)
      throw RequestError(400, "InvalidCertificateOwnershipToken", "the certificate of this token no longer exists");
  }
  if (certificate->status != registry::kPendingActivation)
    throw RequestError(409, "CertificateAlreadyRegistered", "the certificate of this token is " + certificate->status);
  return CheckedToken{std::move(*certificate), older ? std::optional<std::string>(older->token_hash) : std::nullopt};
}

// What identifies a registration request for a retry: the template and the
// parameters the device sent (in name order).
std::string request_digest(const std::string& template_name, const std::map<std::string, std::string>& parameters) {
  std::string text = template_name;
  for (const auto& [name, value] : parameters) text += '\0' + name + '\0' + value;
  return sha256_hex(text);
}

// A retry of a registration that was committed but whose reply never
// reached the device (the worker died, the connection dropped): the same
// token, from the same claim, with the same template and parameters, for a
// certificate that is still ACTIVE. It gets the reply the registration made,
// as its audit entry keeps it; nothing is written again.
std::optional<Reply> answer_again(const std::string& token, const IncomingRequest& request, registry::Registry& registry,
                                  const std::string& digest) {
  auto id = certificate_named_by(token);
  if (!id) return std::nullopt;
  auto certificate = registry.find_certificate(*id);
  if (!certificate || !certificate->token_hash || !certificate->token_used_at || !certificate->thing_name ||
      certificate->status != registry::kActive || certificate->claim_certificate_id.value_or("") != request.certificate_id ||
      !constant_time_equal(*certificate->token_hash, sha256_hex(token)))
    return std::nullopt;
  registry::AuditFilter filter;
  filter.action = "RegisterThing";
  filter.subject = *certificate->thing_name;
  filter.limit = 20;
  for (const auto& entry : registry.audit_entries(filter)) {
    auto detail = json::try_parse(entry.detail, nullptr);
    if (!detail || !detail->IsObject() || json::string_member(*detail, "certificateId") != certificate->id) continue;
    if (json::string_member(*detail, "requestDigest") != digest) return std::nullopt;
    auto configuration = detail->FindMember("deviceConfiguration");
    if (configuration == detail->MemberEnd() || !configuration->value.IsObject()) return std::nullopt;
    protocol::RegisterThingReply reply{*certificate->thing_name, &configuration->value};
    return Reply{true, protocol::encode_register_thing_reply(reply, request.topic.format), {}};
  }
  return std::nullopt;
}

void redeem_token(const CheckedToken& token, registry::Registry& registry, int64_t now) {
  const bool redeemed = token.older_token_hash ? registry.mark_token_used(*token.older_token_hash, now)
                                               : registry.mark_certificate_token_used(token.certificate.id, now);
  // Another worker redeemed it between our check and now (a shared registry).
  if (!redeemed) throw RequestError(400, "CertificateOwnershipTokenUsed", "certificateOwnershipToken was already used");
}

// Merges `extra`'s top-level keys into `target` (an object); extra wins.
void merge_object(rapidjson::Document& target, const rapidjson::Value& extra) {
  if (!extra.IsObject()) return;
  if (!target.IsObject()) target.SetObject();
  auto& a = target.GetAllocator();
  for (const auto& m : extra.GetObject()) {
    rapidjson::Value value;
    value.CopyFrom(m.value, a);
    auto existing = target.FindMember(m.name);
    if (existing != target.MemberEnd()) existing->value = value;
    else target.AddMember(rapidjson::Value(m.name, a), value, a);
  }
}

// Whether a registration through `enrollment` registers its own device's
// thing again: for an individual enrollment, the thing it registered before
// (check_enrollment let it be used again: its policy is replace, or an admin
// reset it); for a group enrollment whose policy is replace, a thing whose
// certificates were all obtained with this same factory certificate.
bool enrollment_owns_thing(registry::Registry& registry, const registry::EnrollmentRecord& enrollment,
                           const std::string& thing_name, const IncomingRequest& request) {
  if (enrollment.kind == "individual") return enrollment.thing_name == thing_name;
  if (enrollment.reprovisioning != registry::kReprovisionReplace || request.identity != protocol::Identity::Enrollment) return false;
  for (const auto& c : registry.certificates_of_thing(thing_name))
    if ((c.status == registry::kActive || c.status == registry::kInactive) &&
        c.claim_certificate_id != request.certificate_id)
      return false;
  return true;
}

void set_string(rapidjson::Document& doc, const char* name, const std::string& value) {
  rapidjson::Value v = json::string_value(value, doc.GetAllocator());
  auto existing = doc.FindMember(name);
  if (existing != doc.MemberEnd()) existing->value = v;
  else doc.AddMember(rapidjson::StringRef(name), v, doc.GetAllocator());
}

}  // namespace

// The thing name of a registration through an enrollment must follow from
// its registration id (and what a trusted hook said), never from parameters
// the device chose: the template is evaluated once more without them, and
// must name the same thing. An individual enrollment that registered a thing
// before stays bound to that thing.
void ProvisioningService::check_thing_name_bound(registry::Registry& registry, const std::string& template_name,
                                                 const std::map<std::string, std::string>& trusted_parameters,
                                                 const templates::CertificateFacts& facts, const templates::Plan& plan,
                                                 const std::optional<registry::EnrollmentRecord>& enrollment) {
  std::optional<std::string> bound;
  try {
    bound = evaluate_template(registry, template_name, std::nullopt, trusted_parameters, facts).plan.thing->name;
  } catch (const RequestError&) {
    // a name that cannot be made without the device's parameters is not bound to the registration id
  }
  if (bound != plan.thing->name)
    throw RequestError(403, "ThingNameNotBound",
                       "a device registering through an enrollment gets the thing name its registration id " +
                           text::quote(*facts.registration_id) + " gives; template " + template_name +
                           " makes its ThingName from parameters the device sent (use Provision::RegistrationId)");
  if (enrollment && enrollment->kind == "individual" && enrollment->thing_name && *enrollment->thing_name != plan.thing->name)
    throw RequestError(403, "ThingNameNotBound",
                       "enrollment " + text::quote(enrollment->registration_id) + " registered thing " + *enrollment->thing_name +
                           ", not " + plan.thing->name);
}

Reply ProvisioningService::register_thing(const IncomingRequest& request, RegistryAccess& access, bool may_wait_on_hook) {
  auto decoded = protocol::decode_register_thing_request(request.topic.format, request.payload);
  const std::string& template_name = request.topic.template_name;
  const int64_t now = unix_now();

  // One write transaction from the first read to the last write, unless a
  // pre-provisioning hook must run: then it ends before the hook and starts
  // again after it, and the token is checked again.
  fault::point("register-thing.before-transaction");
  std::optional<registry::Transaction> tx;
  tx.emplace(access.registry());

  // 1. Before anything slow: the token and the template. A retry of a
  // registration that was committed is answered as it was.
  const std::string digest = request_digest(template_name, decoded.parameters);
  if (auto again = answer_again(decoded.ownership_token, request, access.registry(), digest)) {
    metrics().increment("provision_register_thing_retries_total");
    return *again;
  }
  auto token = check_token(decoded.ownership_token, request, access.registry(), now);
  const registry::CertificateRecord& certificate = token.certificate;  // stays token's when re-checked
  auto template_record = access.registry().find_template(template_name);
  if (!template_record) throw RequestError(404, "TemplateNotFound", "template " + text::quote(template_name) + " does not exist");
  auto parameters = decoded.parameters;

  // A device that registers through an enrollment (a factory certificate
  // from a manufacturer CA, or a claim under an enrollment hook) is bound to
  // that enrollment's registration id: the parameter the hook names carries
  // it, templates see it as Provision::RegistrationId, and the thing name
  // must follow from it (below).
  std::optional<std::string> registration_id;
  if (request.identity == protocol::Identity::Enrollment) registration_id = request.registration_id;
  std::string registration_parameter;  // the enrollment hook's
  std::map<std::string, std::string> trusted_parameters;  // not the device's: the registration id, a hook's overrides

  // 2. The pre-provisioning hook, outside any transaction (it may take seconds).
  std::optional<hooks::HookConfig> hook;
  std::optional<registry::EnrollmentRecord> enrollment;
  std::optional<std::string> hook_broker;
  bool hook_approved = false;
  if (template_record->hook) {
    hook = hooks::parse_hook(*template_record->hook);
    if (hook->type == hooks::HookConfig::Type::Enrollment) {
      registration_parameter = hook->registration_id_parameter;
      if (!registration_id) {
        auto it = parameters.find(registration_parameter);
        registration_id = it == parameters.end() ? std::string() : it->second;
      }
      enrollment = check_enrollment(access.registry(), *registration_id, request.issuer_id, template_name);
    } else {
      if (!may_wait_on_hook) {
        Reply unanswered;
        unanswered.waits_on_hook = true;
        return unanswered;  // the transaction rolls back: nothing was written
      }
      // Other requests use the registry while this one waits on its hook.
      tx.reset();
      access.give_back();
      hooks::HookInput input{request.certificate_id, certificate.id, certificate.pem, template_name, request.client_id,
                             parameters};
      auto started = std::chrono::steady_clock::now();
      const char* type = hook->type == hooks::HookConfig::Type::Http ? "http" : "exec";
      try {
        auto decision = hooks::run(*hook, input);
        for (const auto& [k, v] : decision.parameter_overrides) parameters[k] = trusted_parameters[k] = v;
        hook_broker = decision.broker;
        hook_approved = true;
      } catch (...) {
        metrics().observe("provision_hook_duration_seconds", {{"type", type}},
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        throw;
      }
      metrics().observe("provision_hook_duration_seconds", {{"type", type}},
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      tx.emplace(access.registry());
      token = check_token(decoded.ownership_token, request, access.registry(), now);
    }
  }
  if (registration_id && !registration_parameter.empty()) {
    auto sent = parameters.find(registration_parameter);
    if (sent != parameters.end() && sent->second != *registration_id)
      throw RequestError(403, "RegistrationIdMismatch",
                         "parameter " + registration_parameter + " must be this device's registration id " +
                             text::quote(*registration_id) + ", not " + text::quote(sent->second));
    parameters[registration_parameter] = trusted_parameters[registration_parameter] = *registration_id;
  }

  // 3. The template, the broker, then everything written.
  registry::Registry& registry = access.registry();
  templates::CertificateFacts facts;
  facts.certificate_id = certificate.id;
  facts.subject = pki::Certificate::subject_from_pem(certificate.pem);
  facts.registration_id = registration_id;
  auto evaluation = evaluate_template(registry, template_name, std::nullopt, parameters, facts);
  auto& plan = evaluation.plan;
  if (!plan.thing) throw RequestError(400, "InvalidTemplate", "template " + text::quote(template_name) + " has no AWS::IoT::Thing resource");
  if (registration_id) check_thing_name_bound(registry, template_name, trusted_parameters, facts, plan, enrollment);
  if (enrollment) {
    for (const auto& [k, v] : enrollment->attributes) plan.thing->attributes[k] = v;
    if (!enrollment->attributes.empty()) plan.thing->has_attributes = true;
    merge_object(plan.device_configuration, json::parse(enrollment->configuration, "enrollment configuration"));
  }
  if (auto broker = assign_broker(registry, *template_record, plan.thing->name, enrollment ? enrollment->broker : std::nullopt,
                                  hook_broker)) {
    set_string(plan.device_configuration, "brokerName", broker->name);
    set_string(plan.device_configuration, "brokerEndpoint", broker->endpoint);
  }

  // Taking over a thing another device registered needs the operator's
  // consent (the template's policy or its hook), or must be the device's
  // own enrollment registering its own thing again.
  const bool may_reprovision = template_record->reprovisioning == registry::kReprovisionReplace || hook_approved ||
                               (enrollment && enrollment_owns_thing(registry, *enrollment, plan.thing->name, request));
  redeem_token(token, registry, now);
  if (enrollment) mark_enrollment_used(registry, *enrollment, plan.thing->name, now, template_name);
  auto revoked = apply_plan(registry, plan, template_name, certificate.id, may_reprovision);

  registry::AuditEntry audit;
  audit.at = now;
  audit.actor = std::string(protocol::identity_name(request.identity)) + ":" + request.certificate_id;
  audit.action = "RegisterThing";
  audit.subject = plan.thing->name;
  audit.source = request.source_address;
  rapidjson::Document detail(rapidjson::kObjectType);
  auto& a = detail.GetAllocator();
  detail.AddMember("template", json::string_value(template_name, a), a);
  detail.AddMember("templateVersion", evaluation.version, a);
  detail.AddMember("certificateId", json::string_value(certificate.id, a), a);
  detail.AddMember("clientId", json::string_value(request.client_id, a), a);
  if (enrollment) detail.AddMember("enrollment", json::string_value(enrollment->registration_id, a), a);
  if (!revoked.empty()) detail.AddMember("revokedCertificates", json::string_list(revoked, a), a);
  // What a retry of this request is answered with (answer_again).
  detail.AddMember("requestDigest", json::string_value(digest, a), a);
  rapidjson::Value configuration(rapidjson::kObjectType);
  if (plan.device_configuration.IsObject()) configuration.CopyFrom(plan.device_configuration, a);
  detail.AddMember("deviceConfiguration", configuration, a);
  audit.detail = json::stringify(detail);
  registry.audit(audit);
  fault::point("register-thing.before-commit");
  tx->commit();
  fault::point("register-thing.after-commit");

  protocol::RegisterThingReply reply{plan.thing->name, &plan.device_configuration};
  return Reply{true, protocol::encode_register_thing_reply(reply, request.topic.format), {}};
}

std::optional<registry::BrokerRecord> ProvisioningService::assign_broker(registry::Registry& registry,
                                                                         const registry::TemplateRecord& template_record,
                                                                         const std::string& thing_name,
                                                                         const std::optional<std::string>& pinned,
                                                                         const std::optional<std::string>& hook_choice) {
  auto named = [&](const std::string& name, const char* why) {
    auto broker = registry.find_broker(name);
    if (!broker || !broker->enabled)
      throw RequestError(503, "NoBrokerAvailable", std::string(why) + " broker " + text::quote(name) + " is missing or disabled");
    return broker;
  };
  if (pinned) return named(*pinned, "the enrollment's pinned");
  if (!template_record.assignment) return std::nullopt;
  auto policy = parse_assignment(*template_record.assignment);
  switch (policy.kind) {
    case AssignmentPolicy::Kind::Static: return named(policy.broker, "the template's");
    case AssignmentPolicy::Kind::Hook:
      if (!hook_choice) throw RequestError(502, "HookInvalidResponse", "the template's hook must name a broker (\"broker\")");
      return named(*hook_choice, "the hook's");
    case AssignmentPolicy::Kind::Hashed: {
      auto chosen = choose_hashed(registry.list_brokers(), thing_name);
      if (!chosen) throw RequestError(503, "NoBrokerAvailable", "no broker is enabled for assignment");
      return chosen;
    }
  }
  return std::nullopt;
}

}  // namespace provision::service
