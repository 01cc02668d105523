// An http hook: POST the input to a URL, signed with HMAC-SHA256, within a
// timeout, verifying the server's certificate for https.
#include <httplib.h>

#include "hooks/hook.h"
#include "util/clock.h"

namespace provision::service::hooks {

HookDecision run_http(const HookConfig& config, const HookInput& input) {
  // "https://host:port/path" -> scheme+host+port, path
  auto scheme_end = config.url.find("://");
  auto path_start = config.url.find('/', scheme_end + 3);
  std::string origin = config.url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : config.url.substr(path_start);

  httplib::Client client(origin);
  if (!client.is_valid()) throw failed("hook URL " + config.url + " is not usable");
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config.timeout);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(config.timeout - seconds);
  client.set_connection_timeout(seconds.count(), static_cast<time_t>(micros.count()));
  client.set_read_timeout(seconds.count(), static_cast<time_t>(micros.count()));
  client.set_write_timeout(seconds.count(), static_cast<time_t>(micros.count()));
  if (origin.starts_with("https://")) {
    client.enable_server_certificate_verification(true);
    if (!config.ca_file.empty()) client.set_ca_cert_path(config.ca_file.c_str());
  }

  std::string body = input_json(input);
  std::string timestamp = std::to_string(unix_now());
  httplib::Headers headers{{"X-Provision-Timestamp", timestamp}};
  if (!config.secret.empty()) headers.emplace("X-Provision-Signature", signature(config.secret, timestamp, body));
  auto started = std::chrono::steady_clock::now();
  auto result = client.Post(path, headers, body, "application/json");
  if (!result) {
    bool late = std::chrono::steady_clock::now() - started >= config.timeout;
    if (late || result.error() == httplib::Error::Read || result.error() == httplib::Error::ConnectionTimeout)
      throw timed_out("the pre-provisioning hook did not answer within " + std::to_string(config.timeout.count()) + " ms");
    throw failed("the pre-provisioning hook could not be reached: " + httplib::to_string(result.error()));
  }
  if (result->status < 200 || result->status >= 300)
    throw failed("the pre-provisioning hook answered HTTP " + std::to_string(result->status));
  return parse_output(result->body);
}

}  // namespace provision::service::hooks
