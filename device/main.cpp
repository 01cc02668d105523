// provision-device: a device's first boot, end to end. Connects with its
// provisioning identity (a claim certificate shared by a batch, or the
// device's own factory certificate from a manufacturer CA the registry
// knows: --claim-cert/--claim-key, also named --factory-cert/--factory-key),
// gets a unique device certificate (by default from a CSR, so the private
// key never leaves the device; --server-keygen for the other flow),
// registers through a template, saves the certificate and key, then
// reconnects with them and publishes one message its policy allows, to
// --topic or the device configuration's telemetryTopic (none: no publish).
//
// Every option can also come from the environment (the names of the
// `scripts/demo --serve` stack.env file): MQTT_HOST, MQTT_TLS_PORT, CA_FILE,
// CLAIM_CERT, CLAIM_KEY, TEMPLATE.
//
// Exit status (kExitStatus below, also in --help and docs/protocol.md):
// 0 provisioned, and the first publish accepted (or skipped: no topic);
// 1 rejected by the service (errorCode printed); 2 bad usage (nothing was
// sent); 3 no reply in time; 4 cannot connect, or refused at connect (the
// message says what most likely happened); 5 the first publish with the new
// certificate was refused; 6 anything else after the first request was
// sent (e.g. a reply without the fields it must have).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>

#include "provisioning_client.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

namespace {

using namespace provision;

enum Exit { kOk = 0, kRejected = 1, kUsage = 2, kTimeout = 3, kConnect = 4, kPublish = 5, kOther = 6 };

constexpr const char* kExitStatus =
    "Exit status: 0 provisioned, and the first publish accepted (or skipped: no --topic and no telemetryTopic in the\n"
    "device configuration); 1 rejected by the service (its errorCode is printed); 2 bad usage (nothing was sent);\n"
    "3 no reply in time (--timeout); 4 cannot connect, or refused at connect (the message says what most likely\n"
    "happened); 5 the first publish with the new certificate was refused (MQTT 5 only); 6 anything else after the\n"
    "first request was sent.";

struct Settings {
  std::string host = "127.0.0.1";
  int port = 8883;
  std::string ca_file, claim_cert, claim_key, template_name;
  std::vector<std::string> params;
  std::string out_dir = ".";
  std::string client_id;
  std::string topic;
  std::string message = R"({"hello":"first message with my own certificate"})";
  bool server_keygen = false;
  bool aws_topics = false;
  bool cbor = false;
  bool mqtt311 = false;
  bool json_output = false;
  int timeout_s = 10;
};

struct Failure {
  Exit code;
  std::string message;
};

mqtt_session::ConnectSettings connection(const Settings& s, std::string cert, std::string key, std::string client_id) {
  mqtt_session::ConnectSettings c;
  c.endpoint = {s.host, s.port};
  c.tls = {s.ca_file, std::move(cert), std::move(key)};
  c.client_id = std::move(client_id);
  c.protocol = s.mqtt311 ? mqtt_session::Protocol::V311 : mqtt_session::Protocol::V5;
  c.timeout = std::chrono::seconds(s.timeout_s);
  return c;
}

void connect(mqtt_session::Session& session, const char* as) {
  try {
    session.connect();
  } catch (const mqtt::exception& e) {  // a ConnectError: says why in words
    throw Failure{kConnect, std::string("cannot connect ") + as + ": " + e.what()};
  }
}

// A member an accepted reply must have.
std::string required(const rapidjson::Value& body, const char* name, const char* operation) {
  auto value = json::string_member(body, name);
  if (!value) throw Failure{kOther, std::string(operation) + ": the accepted reply has no " + name};
  return *value;
}

// Usage problems are found before anything is sent.
void check_usage(const Settings& s, std::map<std::string, std::string>& parameters) {
  for (const auto& p : s.params) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) throw Failure{kUsage, "--param expects KEY=VALUE, got '" + p + "'"};
    parameters[p.substr(0, eq)] = p.substr(eq + 1);
  }
  std::error_code ec;
  std::filesystem::create_directories(s.out_dir, ec);
  if (ec || !std::filesystem::is_directory(s.out_dir) || ::access(s.out_dir.c_str(), W_OK | X_OK) != 0)
    throw Failure{kUsage, "--out " + s.out_dir + ": not a directory this program can write" +
                              (ec ? " (" + ec.message() + ")" : std::string())};
}

void check(const device::Outcome& outcome, const char* operation) {
  switch (outcome.kind) {
    case device::Outcome::Kind::Accepted: return;
    case device::Outcome::Kind::Rejected: throw Failure{kRejected, std::string(operation) + " " + outcome.describe()};
    case device::Outcome::Kind::Timeout:
      throw Failure{kTimeout, std::string(operation) + ": no reply (is provisiond running?)"};
    case device::Outcome::Kind::PublishRefused:
    case device::Outcome::Kind::SubscribeRefused: throw Failure{kRejected, std::string(operation) + ": " + outcome.describe()};
  }
}

int run(const Settings& s) {
  std::map<std::string, std::string> parameters;
  check_usage(s, parameters);
  const auto alias = s.aws_topics ? protocol::Alias::Aws : protocol::Alias::Provision;
  const auto timeout = std::chrono::seconds(s.timeout_s);
  std::string claim_client_id = s.client_id.empty() ? "provision-" + random_token(9) : s.client_id;

  // 1. Connection with the provisioning identity (claim or factory
  // certificate): a certificate, then the registration.
  mqtt_session::Session claim(connection(s, s.claim_cert, s.claim_key, claim_client_id));
  connect(claim, "with the provisioning certificate");
  device::ProvisioningClient client(claim, alias, timeout, s.cbor ? protocol::Format::Cbor : protocol::Format::Json);

  std::string private_key, certificate_pem, certificate_id, token;
  if (s.server_keygen) {
    auto outcome = client.create_keys_and_certificate();
    check(outcome, "CreateKeysAndCertificate");
    private_key = required(outcome.body, "privateKey", "CreateKeysAndCertificate");
    certificate_pem = required(outcome.body, "certificatePem", "CreateKeysAndCertificate");
    certificate_id = required(outcome.body, "certificateId", "CreateKeysAndCertificate");
    token = required(outcome.body, "certificateOwnershipToken", "CreateKeysAndCertificate");
  } else {
    auto key = pki::PrivateKey::generate_ec("P-256");
    auto outcome = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", claim_client_id}}));
    check(outcome, "CreateCertificateFromCsr");
    private_key = key.to_pem();
    certificate_pem = required(outcome.body, "certificatePem", "CreateCertificateFromCsr");
    certificate_id = required(outcome.body, "certificateId", "CreateCertificateFromCsr");
    token = required(outcome.body, "certificateOwnershipToken", "CreateCertificateFromCsr");
  }
  auto registered = client.register_thing(s.template_name, token, parameters);
  check(registered, "RegisterThing");
  std::string thing_name = required(registered.body, "thingName", "RegisterThing");
  rapidjson::Document configuration;
  if (const auto* c = json::member(registered.body, "deviceConfiguration")) configuration.CopyFrom(*c, configuration.GetAllocator());
  claim.disconnect();

  // 2. Save what the device keeps.
  std::filesystem::path out(s.out_dir);
  std::filesystem::create_directories(out);
  write_file(out / "device.pem", certificate_pem, 0644);
  write_file(out / "device.key", private_key, 0600);
  write_file(out / "provisioning.json", json::pretty(registered.body) + "\n", 0644);

  // 3. Reconnect as the device and publish once, if there is a topic to
  // publish to (the connect alone shows the new certificate works).
  std::string topic = s.topic;
  if (topic.empty()) topic = json::string_member(configuration, "telemetryTopic").value_or("");
  mqtt_session::Session device(connection(s, (out / "device.pem").string(), (out / "device.key").string(), thing_name));
  connect(device, "with the new device certificate");
  std::optional<int> reason;
  if (!topic.empty()) reason = device.publish(topic, s.message, 1);
  device.disconnect();

  if (s.json_output) {
    rapidjson::Document result(rapidjson::kObjectType);
    auto& a = result.GetAllocator();
    result.AddMember("thingName", json::string_value(thing_name, a), a);
    result.AddMember("certificateId", json::string_value(certificate_id, a), a);
    result.AddMember("certificateFile", json::string_value((out / "device.pem").string(), a), a);
    result.AddMember("keyFile", json::string_value((out / "device.key").string(), a), a);
    result.AddMember("deviceConfiguration", configuration, a);
    if (reason) {
      result.AddMember("firstPublishTopic", json::string_value(topic, a), a);
      result.AddMember("firstPublishReasonCode", *reason, a);
    } else {
      result.AddMember("firstPublishTopic", rapidjson::Value(rapidjson::kNullType), a);
      result.AddMember("firstPublishReasonCode", rapidjson::Value(rapidjson::kNullType), a);
    }
    std::cout << json::stringify(result) << "\n";
  } else {
    std::cout << "thing name:      " << thing_name << "\n"
              << "certificate id:  " << certificate_id << "\n"
              << "key generated:   " << (s.server_keygen ? "by the service (CreateKeysAndCertificate)" : "on the device (CSR)") << "\n"
              << "saved:           " << (out / "device.pem").string() << ", " << (out / "device.key").string() << "\n";
    if (!reason)
      std::cout << "first publish:   skipped: no --topic, and the device configuration has no telemetryTopic (the new "
                   "certificate connected)\n";
    else
      std::cout << "first publish:   " << topic << " -> "
                << (*reason == 0 ? "accepted" : "refused (reason " + std::to_string(*reason) + ")") << "\n";
  }
  if (reason && *reason != 0)
    throw Failure{kPublish, "the broker refused the first publish to " + topic + " (reason " + std::to_string(*reason) + ")"};
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"provision-device: provision this device with its claim certificate, or with its factory certificate from a "
               "manufacturer CA"};
  app.footer(kExitStatus);
  app.add_option("--host", s.host, "broker host")->envname("MQTT_HOST");
  app.add_option("--port", s.port, "broker TLS port")->envname("MQTT_TLS_PORT")->check(CLI::Range(1, 65535));
  app.add_option("--ca-file", s.ca_file, "CA certificate that verifies the broker")->envname("CA_FILE")->required()->check(CLI::ExistingFile);
  app.add_option("--claim-cert,--factory-cert", s.claim_cert,
                 "the provisioning identity (PEM): a claim certificate, or the device's factory certificate from a "
                 "manufacturer CA")
      ->envname("CLAIM_CERT")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--claim-key,--factory-key", s.claim_key, "its private key (PEM)")
      ->envname("CLAIM_KEY")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--template", s.template_name, "provisioning template")->envname("TEMPLATE")->required();
  app.add_option("--param", s.params, "template parameter KEY=VALUE (repeatable)");
  app.add_option("--out", s.out_dir, "where to save device.pem, device.key and provisioning.json");
  app.add_option("--client-id", s.client_id, "client id for the provisioning connection (default: random)");
  app.add_option("--topic", s.topic, "topic of the first publish (default: deviceConfiguration.telemetryTopic; neither: none)");
  app.add_option("--message", s.message, "payload of the first publish");
  app.add_option("--timeout", s.timeout_s, "seconds to wait for each reply")->check(CLI::Range(1, 600));
  app.add_flag("--server-keygen", s.server_keygen, "let the service generate the key (CreateKeysAndCertificate)");
  app.add_flag("--aws-topics", s.aws_topics, "use the $aws/... topics (AWS IoT fleet provisioning)");
  app.add_flag("--cbor", s.cbor, "use the /cbor topics and CBOR payloads");
  app.add_flag("--mqtt311", s.mqtt311, "speak MQTT 3.1.1 instead of 5");
  app.add_flag("--json", s.json_output, "print the result as one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "provision-device: " << e.what() << " (see --help)\n";
    return kUsage;
  }
  int code = kOther;
  try {
    code = run(s);
  } catch (const Failure& f) {
    std::cerr << "provision-device: " << f.message << "\n";
    code = f.code;
  } catch (const std::exception& e) {
    std::cerr << "provision-device: " << e.what() << "\n";
  }
  // No session is left: let Paho's threads end before OpenSSL's exit cleanup runs.
  mqtt_session::await_library_threads(std::chrono::seconds(2));
  return code;
}
