// provisiond's HTTP doors without a socket: the admin API (routes, query,
// body, with and without a valid token) and the device bootstrap, through
// http::answer(), the gate and the routes exactly as the listener runs them,
// over a real registry made by `provisiond init` in a temporary directory.
//
// Input: the first byte picks the door (even: admin API, odd: bootstrap);
// then "METHOD TARGET\n", header lines "Name: value\n", an empty line, and
// the body. "$TOKEN" in a header is replaced by the deployment's admin
// token, "$NOW" by the current Unix time.
//
// Properties: every answer has a status from 200 to 599 and never 500 (an
// internal failure is a bug: bad input gets a 4xx); every JSON answer is
// one well-formed UTF-8 document.
#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <system_error>
#include <filesystem>
#include <memory>
#include <string>

#include "admin/server.h"
#include "bootstrap/server.h"
#include "config.h"
#include "fuzz.h"
#include "http/listener.h"
#include "pki/authority.h"
#include "provisioning/provisioning_service.h"
#include "setup.h"
#include "util/clock.h"
#include "util/files.h"

using namespace provision;
using namespace provision::service;

namespace {

struct Deployment {
  std::filesystem::path dir;
  ServiceConfig config;
  std::string token;
  std::unique_ptr<ProvisioningService> provisioning;
  std::unique_ptr<AdminServer> admin;
  std::unique_ptr<BootstrapServer> bootstrap;

  Deployment() {
    spdlog::set_level(spdlog::level::off);
    char pattern[] = "/tmp/provision-http-fuzz-XXXXXX";
    if (!mkdtemp(pattern)) std::abort();
    dir = pattern;
    InitOptions init;
    init.dir = dir;
    init.plugin = "/nonexistent/mosquitto_provision.so";
    init.admin_port = 1;
    init.bootstrap_port = 1;
    init.password_port = 2;
    auto made = initialise(init);
    token = read_file(made.admin_token_file);
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    config = load_config(made.service_config);
    config.bootstrap.requests_per_ip_per_minute = 0;
    config.bootstrap.requests_per_mac_per_minute = 0;
    config.admin_failed_attempts_burst = 1000000;
    config.admin_failed_attempts_per_minute = 1000000;
    auto ca = pki::CertificateAuthority::load(config.fleet_ca_certificate, config.fleet_ca_key);
    provisioning = std::make_unique<ProvisioningService>(std::move(ca), ProvisioningSettings{});
    admin = std::make_unique<AdminServer>(AdminSettings{}, config, made.service_config, *provisioning, [] { return true; });
    bootstrap = std::make_unique<BootstrapServer>(config, *provisioning, [] { return true; });
  }

  ~Deployment() {
    bootstrap.reset();
    admin.reset();
    provisioning.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  static Deployment& instance() {
    static Deployment deployment;
    return deployment;
  }
};

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  return text;
}

// A request from the input; nullopt when it has no request line.
std::optional<http::Request> parse(std::string_view input, const Deployment& d) {
  auto [head, body] = fuzz::split(input, "\n\n");
  auto [line, headers] = fuzz::split(head, "\n");
  auto [method, target] = fuzz::split(line, " ");
  if (method.empty() || method.size() > 16 || target.empty()) return std::nullopt;
  http::Request req;
  req.method = std::string(method);
  auto [path, query] = fuzz::split(target, "?");
  req.path = std::string(path);
  while (!query.empty()) {
    auto [pair, rest] = fuzz::split(query, "&");
    auto [name, value] = fuzz::split(pair, "=");
    req.query.emplace(std::string(name), std::string(value));
    query = rest;
  }
  while (!headers.empty()) {
    auto [header, rest] = fuzz::split(headers, "\n");
    auto [name, value] = fuzz::split(header, ": ");
    if (!name.empty())
      req.headers.emplace_back(std::string(name),
                               replace_all(replace_all(std::string(value), "$TOKEN", d.token), "$NOW", std::to_string(unix_now())));
    headers = rest;
  }
  req.body = std::string(body);
  if (!req.body.empty() && !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
    req.headers.emplace_back("Content-Length", std::to_string(req.body.size()));
  req.remote_addr = "127.0.0.1";
  return req;
}

bool well_formed_json(const std::string& text) {
  rapidjson::Document doc;
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> input(stream);
  doc.ParseStream<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseStopWhenDoneFlag>(input);
  if (doc.HasParseError()) return false;
  // one document: nothing but white space after it
  size_t end = doc.GetParseError() == rapidjson::kParseErrorNone ? stream.Tell() : 0;
  return text.find_first_not_of(" \t\r\n", end) == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 64 * 1024) return 0;
  auto& d = Deployment::instance();
  auto req = parse(fuzz::view(data + 1, size - 1), d);
  if (!req) return 0;
  const http::Response res = (data[0] & 1) ? d.bootstrap->handle(std::move(*req)) : d.admin->handle(std::move(*req));
  static const bool verbose = std::getenv("PROVISION_FUZZ_VERBOSE") != nullptr;  // for those who write corpus inputs
  if (verbose) std::fprintf(stderr, "%d %s\n", res.status, res.body.substr(0, 160).c_str());
  FUZZ_ASSERT(res.status >= 200 && res.status <= 599);
  FUZZ_ASSERT(res.status != 500);
  if (res.content_type == "application/json" && !res.body.empty()) FUZZ_ASSERT(well_formed_json(res.body));
  return 0;
}
