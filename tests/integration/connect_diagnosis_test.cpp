// A connect that fails says why, in words a person can act on, in the
// shared MQTT session library and so in provision-device: nothing
// listening, the broker's certificate not trusted by our CA file, our
// certificate not accepted by the broker, our certificate out of date, or
// the provisioning plugin refusing a certificate TLS accepted.
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "stack.h"
#include "util/files.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

struct Run {
  int code = -1;
  std::string output;
};

struct DeviceFiles {
  std::string ca_file, certificate, key;
};

DeviceFiles claim_files(const Stack& stack) {
  return {stack.pki.root_cert.string(), stack.pki.claim_cert.string(), stack.pki.claim_key.string()};
}

Run provision_device(const Stack& stack, const DeviceFiles& files, int port, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{provision_device_binary(), "--port", std::to_string(port), "--ca-file", files.ca_file,
                                "--claim-cert", files.certificate, "--claim-key", files.key, "--template", "DemoFleet",
                                "--param", "SerialNumber=diagnosed", "--out", (stack.dir / "device").string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Run run;
  run.code = stack.run(argv, run.output);
  return run;
}

// A certificate from the claim CA valid from now + from_s to now + to_s
// (re-signed after its dates are set).
CertificateFiles dated_claim(const Stack& stack, const std::string& name, long from_s, long to_s) {
  auto ca = pki::CertificateAuthority::load(stack.pki.claim_ca_cert, stack.pki.claim_ca_key);
  auto key = pki::PrivateKey::generate_ec();
  pki::IssueOptions options;
  options.subject = {{"CN", name}};
  auto issued = ca.issue(key.get(), options);
  pki::X509Ptr copy(X509_dup(issued.get()));
  REQUIRE(copy);
  REQUIRE(X509_time_adj_ex(X509_getm_notBefore(copy.get()), 0, from_s, nullptr));
  REQUIRE(X509_time_adj_ex(X509_getm_notAfter(copy.get()), 0, to_s, nullptr));
  REQUIRE(X509_sign(copy.get(), ca.key().get(), EVP_sha256()) > 0);
  auto certificate = pki::Certificate::adopt(copy.release());
  CertificateFiles files{(stack.dir / (name + ".pem")).string(), (stack.dir / (name + ".key")).string()};
  write_file(files.certificate, certificate.to_pem(), 0644);
  write_file(files.key, key.to_pem(), 0600);
  return files;
}

}  // namespace

TEST_CASE("connect diagnosis: nothing listening at host:port") {
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  int port = free_port();
  auto run = provision_device(stack, claim_files(stack), port);
  INFO(run.output);
  CHECK(run.code == 4);
  CHECK_THAT(run.output, Catch::Contains("nothing is listening at 127.0.0.1:" + std::to_string(port) + " (connection refused)"));
  CHECK_THAT(run.output, Catch::Contains("is the broker running"));
}

TEST_CASE("connect diagnosis: the broker's certificate is not trusted by our CA file") {
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  auto other = pki::CertificateAuthority::create_root("Some Other CA", 3600);
  auto wrong_ca = (stack.dir / "other-ca.pem").string();
  write_file(wrong_ca, other.certificate().to_pem(), 0644);
  auto files = claim_files(stack);
  files.ca_file = wrong_ca;
  auto run = provision_device(stack, files, stack.port);
  INFO(run.output);
  CHECK(run.code == 4);
  CHECK_THAT(run.output, Catch::Contains("TLS failed because the broker's certificate is not trusted by the CA file " + wrong_ca));
}

TEST_CASE("connect diagnosis: the broker does not accept our certificate (its CA is not trusted there)") {
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  auto stranger = stack.foreign_certificate("stranger");
  auto files = claim_files(stack);
  files.certificate = stranger.certificate;
  files.key = stranger.key;
  auto run = provision_device(stack, files, stack.port);
  INFO(run.output);
  CHECK(run.code == 4);
  CHECK_THAT(run.output, Catch::Contains("TLS failed because the broker did not accept our certificate " + stranger.certificate));
  CHECK_THAT(run.output, Catch::Contains("the CA that issued it is not trusted by the broker"));

  // The library says the same to any client program, and what kind of failure it was.
  mqtt_session::Session session(stack.client(stranger, "stranger"));
  try {
    session.connect();
    FAIL("connected with a certificate from a CA the broker does not know");
  } catch (const mqtt_session::ConnectError& e) {
    CHECK(e.failure() == mqtt_session::ConnectFailure::ClientCertificateRejected);
    CHECK(e.get_return_code() == -1);  // still Paho's exception, with Paho's code
    CHECK_THAT(e.what(), Catch::Contains("did not accept our certificate") && Catch::Contains("MQTT error [-1]"));
  }
}

TEST_CASE("connect diagnosis: our certificate expired, or is not valid yet") {
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  auto files = claim_files(stack);
  SECTION("expired") {
    auto expired = dated_claim(stack, "expired-claim", -7200, -3600);
    files.certificate = expired.certificate;
    files.key = expired.key;
    auto run = provision_device(stack, files, stack.port);
    INFO(run.output);
    CHECK(run.code == 4);
    CHECK_THAT(run.output, Catch::Contains("our certificate " + expired.certificate + " expired on "));
    CHECK_THAT(run.output, Catch::Contains("openssl x509 -noout -dates -in " + expired.certificate));
  }
  SECTION("not valid yet") {
    auto early = dated_claim(stack, "future-claim", 3600, 7200);
    files.certificate = early.certificate;
    files.key = early.key;
    auto run = provision_device(stack, files, stack.port);
    INFO(run.output);
    CHECK(run.code == 4);
    CHECK_THAT(run.output, Catch::Contains("our certificate " + early.certificate + " is not valid before "));
    CHECK_THAT(run.output, Catch::Contains("is this machine's clock right?"));
  }
}

TEST_CASE("connect diagnosis: CONNACK 135 (3.1.1: 5) is the provisioning plugin refusing a certificate TLS accepted") {
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  auto disabled = stack.new_claim("disabled-claim", true, {"DemoFleet"});
  REQUIRE(stack.registry().set_claim_status(pki::Certificate::load(disabled.certificate).id(), registry::kInactive));
  auto files = claim_files(stack);
  files.certificate = disabled.certificate;
  files.key = disabled.key;
  auto expected = "the broker accepted the TLS connection but the provisioning plugin refused this certificate";
  auto v5 = provision_device(stack, files, stack.port);
  INFO(v5.output);
  CHECK(v5.code == 4);
  CHECK_THAT(v5.output, Catch::Contains(expected) && Catch::Contains("CONNACK 135"));
  CHECK_THAT(v5.output, Catch::Contains("the broker's log says which"));
  auto v311 = provision_device(stack, files, stack.port, {"--mqtt311"});
  INFO(v311.output);
  CHECK(v311.code == 4);
  CHECK_THAT(v311.output, Catch::Contains(expected) && Catch::Contains("CONNACK 5"));
  CHECK(wait_for_text(stack.broker_log, "is INACTIVE", 2s));  // and the broker's log does say which
}
