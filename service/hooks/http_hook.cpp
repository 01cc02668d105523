// An http hook: POST the input to a URL, signed with HMAC-SHA256, within a
// timeout (the whole exchange's), verifying the server's certificate for
// https; an answer longer than kMaxAnswerBytes is refused.
#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <thread>

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
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.headers = headers;
  request.set_header("Content-Type", "application/json");
  request.body = body;
  // At most kMaxAnswerBytes are kept: a hook that floods its answer is cut off.
  std::string answer;
  bool too_long = false;
  request.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    if (answer.size() + length > kMaxAnswerBytes) {
      too_long = true;
      return false;
    }
    answer.append(data, length);
    return true;
  };

  // The timeout is the whole exchange's: the client's own timeouts are per
  // read, so a hook that trickles its answer a byte at a time would hold
  // this registration for ever. A watchdog stops the client at the deadline.
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + config.timeout;
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false, stopped = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (!done_changed.wait_until(lock, deadline, [&] { return done; })) {
      stopped = true;
      client.stop();
    }
  });
  auto result = client.send(request);
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_changed.notify_all();
  watchdog.join();

  const std::string within = " within " + std::to_string(config.timeout.count()) + " ms";
  if (too_long) throw invalid_response("the pre-provisioning hook answered more than " + std::to_string(kMaxAnswerBytes) + " bytes");
  if (stopped) throw timed_out("the pre-provisioning hook did not answer" + within);
  if (!result) {
    bool late = std::chrono::steady_clock::now() - started >= config.timeout;
    if (late || result.error() == httplib::Error::Read || result.error() == httplib::Error::ConnectionTimeout)
      throw timed_out("the pre-provisioning hook did not answer" + within);
    throw failed("the pre-provisioning hook could not be reached: " + httplib::to_string(result.error()));
  }
  if (result->status < 200 || result->status >= 300)
    throw failed("the pre-provisioning hook answered HTTP " + std::to_string(result->status));
  return parse_output(answer);
}

}  // namespace provision::service::hooks
