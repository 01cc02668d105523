#pragma once
// Pre-provisioning hooks: before a RegisterThing is applied, a template's hook
// may say no, or change the parameters. The contract is AWS IoT's:
//   input  {claimCertificateId, certificateId, certificatePem, templateName, clientId, parameters}
//   output {allowProvisioning, parameterOverrides}
// (plus our optional "broker": the name of the broker to assign, for
// templates whose assignment is decided by the hook). Any failure rejects
// (fail closed), each with its own errorCode.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/error.h"

namespace provision::service::hooks {

struct HookConfig {
  enum class Type { Http, Exec, Enrollment } type = Type::Http;
  std::chrono::milliseconds timeout{5000};
  // http
  std::string url;          // http:// or https://
  std::string secret;       // HMAC-SHA256 key for the X-Provision-Signature header
  std::string ca_file;      // https: verify the hook server with this CA (default: the system's)
  // exec
  std::vector<std::string> command;  // argv; no shell
  // enrollment: where the registration id comes from
  std::string registration_id_parameter = "SerialNumber";  // for claims (enrollment identities use their certificate)
};

// Parses a hook document (schemas/hook.schema.json); throws Error naming the field.
HookConfig parse_hook(std::string_view json);
// The document again, without the secret (for the admin API).
std::string describe_hook(const HookConfig& config);

struct HookInput {
  std::string claim_certificate_id;
  std::string certificate_id;
  std::string certificate_pem;
  std::string template_name;
  std::string client_id;
  std::map<std::string, std::string> parameters;
};

struct HookDecision {
  bool allow = false;
  std::map<std::string, std::string> parameter_overrides;
  std::optional<std::string> broker;
};

// Rejections, all fail closed. statusCode 403 for a "no", 502/504 otherwise.
inline RequestError denied(const std::string& why) { return RequestError(403, "HookDenied", why); }
inline RequestError timed_out(const std::string& why) { return RequestError(504, "HookTimeout", why); }
inline RequestError failed(const std::string& why) { return RequestError(502, "HookFailed", why); }
inline RequestError invalid_response(const std::string& why) { return RequestError(502, "HookInvalidResponse", why); }

// The most a hook may answer, over http or from a program.
inline constexpr size_t kMaxAnswerBytes = 64 * 1024;

std::string input_json(const HookInput& input);
// Parses a hook's answer; throws invalid_response naming what is wrong.
HookDecision parse_output(std::string_view body);
// "sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>"
std::string signature(const std::string& secret, const std::string& timestamp, const std::string& body);

// Runs an http or exec hook. Returns the decision when the hook allows;
// throws the RequestErrors above otherwise (a "no" included).
HookDecision run(const HookConfig& config, const HookInput& input);

}  // namespace provision::service::hooks
