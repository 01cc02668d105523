#include "hooks/hook.h"

#include "protocol/schema_validator.h"
#include "util/encoding.h"
#include "util/json.h"

namespace provision::service::hooks {

HookDecision run_http(const HookConfig& config, const HookInput& input);  // http_hook.cpp
HookDecision run_exec(const HookConfig& config, const HookInput& input);  // exec_hook.cpp

HookConfig parse_hook(std::string_view text) {
  auto doc = protocol::parse_valid(text, "hook.schema.json", "hook");
  HookConfig c;
  std::string type = *json::string_member(doc, "type");
  c.type = type == "http" ? HookConfig::Type::Http : type == "exec" ? HookConfig::Type::Exec : HookConfig::Type::Enrollment;
  if (auto t = json::int_member(doc, "timeoutMs")) c.timeout = std::chrono::milliseconds(*t);
  c.url = json::string_member(doc, "url").value_or("");
  c.secret = json::string_member(doc, "secret").value_or("");
  c.ca_file = json::string_member(doc, "caFile").value_or("");
  if (const auto* command = json::member(doc, "command")) c.command = json::to_string_list(*command);
  c.registration_id_parameter = json::string_member(doc, "registrationIdParameter").value_or(c.registration_id_parameter);
  if (c.type == HookConfig::Type::Http && !c.url.starts_with("http://") && !c.url.starts_with("https://"))
    throw Error("hook: /url: must be an http:// or https:// URL");
  if (c.type == HookConfig::Type::Http && c.url.empty()) throw Error("hook: /url: required for an http hook");
  if (c.type == HookConfig::Type::Exec && c.command.empty()) throw Error("hook: /command: required for an exec hook");
  return c;
}

std::string describe_hook(const HookConfig& c) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  const char* type = c.type == HookConfig::Type::Http ? "http" : c.type == HookConfig::Type::Exec ? "exec" : "enrollment";
  doc.AddMember("type", rapidjson::StringRef(type), a);
  doc.AddMember("timeoutMs", static_cast<int64_t>(c.timeout.count()), a);
  if (!c.url.empty()) doc.AddMember("url", json::string_value(c.url, a), a);
  if (!c.secret.empty()) doc.AddMember("secretSet", true, a);
  if (!c.ca_file.empty()) doc.AddMember("caFile", json::string_value(c.ca_file, a), a);
  if (!c.command.empty()) {
    rapidjson::Value command(rapidjson::kArrayType);
    for (const auto& arg : c.command) command.PushBack(json::string_value(arg, a), a);
    doc.AddMember("command", command, a);
  }
  if (c.type == HookConfig::Type::Enrollment)
    doc.AddMember("registrationIdParameter", json::string_value(c.registration_id_parameter, a), a);
  return json::stringify(doc);
}

std::string input_json(const HookInput& in) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("claimCertificateId", json::string_value(in.claim_certificate_id, a), a);
  doc.AddMember("certificateId", json::string_value(in.certificate_id, a), a);
  doc.AddMember("certificatePem", json::string_value(in.certificate_pem, a), a);
  doc.AddMember("templateName", json::string_value(in.template_name, a), a);
  doc.AddMember("clientId", json::string_value(in.client_id, a), a);
  doc.AddMember("parameters", json::string_map(in.parameters, a), a);
  return json::stringify(doc);
}

HookDecision parse_output(std::string_view body) {
  std::string error;
  auto doc = json::try_parse(body, &error);
  if (!doc) throw invalid_response("the hook's answer is not JSON: " + error);
  if (auto violation = protocol::schema_violation("hook-output.schema.json", *doc))
    throw invalid_response("the hook's answer: " + *violation);
  HookDecision decision;
  decision.allow = *json::bool_member(*doc, "allowProvisioning");
  if (const auto* overrides = json::member(*doc, "parameterOverrides"))
    decision.parameter_overrides = json::to_string_map(*overrides);
  decision.broker = json::string_member(*doc, "broker");
  return decision;
}

std::string signature(const std::string& secret, const std::string& timestamp, const std::string& body) {
  return "sha256=" + to_hex(hmac_sha256(secret, timestamp + "." + body));
}

HookDecision run(const HookConfig& config, const HookInput& input) {
  HookDecision decision;
  switch (config.type) {
    case HookConfig::Type::Http: decision = run_http(config, input); break;
    case HookConfig::Type::Exec: decision = run_exec(config, input); break;
    case HookConfig::Type::Enrollment: throw failed("the enrollment check is not an external hook");
  }
  if (!decision.allow) throw denied("the pre-provisioning hook did not allow this registration");
  return decision;
}

}  // namespace provision::service::hooks
