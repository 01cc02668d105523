#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/development_pki.h"
#include "pki/key.h"
#include "pki/openssl_support.h"
#include "temp_dir.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/files.h"
#include "util/random.h"

using namespace provision;
using namespace provision::pki;

namespace {

using detail::BioPtr;
using detail::Owned;
using ReqPtr = Owned<X509_REQ, X509_REQ_free>;
using detail::NamePtr;
using StorePtr = Owned<X509_STORE, X509_STORE_free>;
using StoreCtxPtr = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;
using BasicConstraintsPtr = Owned<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using BignumPtr = Owned<BIGNUM, BN_free>;
using GeneralNamesPtr = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;

struct X509StackFree {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
struct ExtensionStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * stack) const {
    sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
  }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionStackFree>;

constexpr int64_t kDay = 24 * 3600;

using provision::testing::TempDir;

EvpPkeyPtr generate(const char* type, size_t rsa_bits = 0) {
  EVP_PKEY* key = rsa_bits != 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, rsa_bits)
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  REQUIRE(key != nullptr);
  return EvpPkeyPtr(key);
}

std::string req_to_pem(X509_REQ* req) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509_REQ(bio.get(), req) == 1);
  char* data = nullptr;
  long length = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);
  return std::string(data, static_cast<size_t>(length));
}

// A CSR signed by `key`, with `subject` and optionally a request for CA:TRUE.
ReqPtr make_csr(EVP_PKEY* key, const std::vector<std::pair<std::string, std::string>>& subject,
                bool request_ca = false) {
  ReqPtr req(X509_REQ_new());
  REQUIRE(req);
  REQUIRE(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) == 1);
  NamePtr name(X509_NAME_new());
  for (const auto& [field, value] : subject)
    REQUIRE(X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                       -1, 0) == 1);
  REQUIRE(X509_REQ_set_subject_name(req.get(), name.get()) == 1);
  REQUIRE(X509_REQ_set_pubkey(req.get(), key) == 1);
  if (request_ca) {
    ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
    X509_EXTENSION* bc =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    REQUIRE(bc != nullptr);
    sk_X509_EXTENSION_push(extensions.get(), bc);
    X509_EXTENSION* ku =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign");
    REQUIRE(ku != nullptr);
    sk_X509_EXTENSION_push(extensions.get(), ku);
    REQUIRE(X509_REQ_add_extensions(req.get(), extensions.get()) == 1);
  }
  const bool no_digest = EVP_PKEY_is_a(key, "ED25519");
  REQUIRE(X509_REQ_sign(req.get(), key, no_digest ? nullptr : EVP_sha256()) > 0);
  return req;
}

std::string csr_pem(EVP_PKEY* key,
                    const std::vector<std::pair<std::string, std::string>>& subject = {{"CN",
                                                                                        "dev"}},
                    bool request_ca = false) {
  ReqPtr req = make_csr(key, subject, request_ca);
  return req_to_pem(req.get());
}

// The error code of the RequestError that `pem` raises, "" when it parses.
std::string csr_error(const std::string& pem, std::string* message = nullptr) {
  try {
    CertificateRequest::from_pem(pem);
  } catch (const RequestError& e) {
    CHECK(e.status_code == 400);
    if (message) *message = e.what();
    return e.code;
  }
  return "";
}

// X509_verify_cert of `leaf` against trusted `roots` with `untrusted`
// intermediates for `purpose`; returns the X509_V_* result.
int verify_chain(const Certificate& leaf, const std::vector<const Certificate*>& roots,
                 const std::vector<const Certificate*>& untrusted, int purpose) {
  StorePtr store(X509_STORE_new());
  for (const Certificate* root : roots) REQUIRE(X509_STORE_add_cert(store.get(), root->get()) == 1);
  X509StackPtr chain(sk_X509_new_null());
  for (const Certificate* cert : untrusted) REQUIRE(sk_X509_push(chain.get(), cert->get()) > 0);
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain.get()) == 1);
  REQUIRE(X509_STORE_CTX_set_purpose(ctx.get(), purpose) == 1);
  const int ok = X509_verify_cert(ctx.get());
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok == 1) CHECK(error == X509_V_OK);
  return ok == 1 ? X509_V_OK : (error == X509_V_OK ? -1 : error);
}

struct BasicConstraintsView {
  bool present = false, critical = false, ca = false;
  long pathlen = -2;  // -1 = absent
};
BasicConstraintsView basic_constraints(const Certificate& cert) {
  int critical = -1;
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &critical, nullptr)));
  BasicConstraintsView view;
  if (!bc) return view;
  view.present = true;
  view.critical = critical == 1;
  view.ca = bc->ca != 0;
  view.pathlen = bc->pathlen ? ASN1_INTEGER_get(bc->pathlen) : -1;
  return view;
}

bool extension_critical(const Certificate& cert, int nid) {
  const int index = X509_get_ext_by_NID(cert.get(), nid, -1);
  REQUIRE(index >= 0);
  return X509_EXTENSION_get_critical(X509_get_ext(cert.get(), index)) == 1;
}

std::string octets(const ASN1_OCTET_STRING* value) {
  if (value == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
}

std::string independent_sha256_of_der(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  REQUIRE(length > 0);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  const int ok =
      EVP_Digest(der, static_cast<size_t>(length), digest, &digest_length, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  REQUIRE(ok == 1);
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < digest_length; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 0x0f];
  }
  return hex;
}

mode_t file_mode(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// A root with a fleet CA below it, shared by the tests (creating them is cheap,
// but one pair keeps the chains easy to follow).
struct Hierarchy {
  Hierarchy()
      : root(CertificateAuthority::create_root("Test Root CA", 3650 * kDay)),
        fleet(make_fleet(root)) {}
  static CertificateAuthority make_fleet(const CertificateAuthority& root) {
    PrivateKey key = PrivateKey::generate_ec();
    IssueOptions options;
    options.subject = {{"CN", "Test Fleet CA"}, {"O", "Acme"}};
    options.usage = Usage::Ca;
    options.path_length = 0;
    options.validity_seconds = 3650 * kDay;
    Certificate cert = root.issue(key.get(), options);
    return CertificateAuthority(std::move(cert), std::move(key));
  }
  CertificateAuthority root;
  CertificateAuthority fleet;
};

}  // namespace

// ---------------------------------------------------------------- keys

TEST_CASE("generated EC keys are on the requested curve and round-trip through PEM") {
  PrivateKey key = PrivateKey::generate_ec();
  REQUIRE(key.get() != nullptr);
  CHECK(EVP_PKEY_is_a(key.get(), "EC") == 1);
  char group[64] = {};
  size_t length = 0;
  REQUIRE(EVP_PKEY_get_group_name(key.get(), group, sizeof group, &length) == 1);
  CHECK(std::string(group) == "prime256v1");

  const std::string pem = key.to_pem();
  CHECK(pem.rfind("-----BEGIN " "PRIVATE KEY-----", 0) == 0);  // PKCS#8 (split: no key header in the sources)
  PrivateKey again = PrivateKey::from_pem(pem);
  CHECK(EVP_PKEY_eq(key.get(), again.get()) == 1);
  CHECK(again.to_pem() == pem);

  PrivateKey other = PrivateKey::generate_ec();
  CHECK(EVP_PKEY_eq(key.get(), other.get()) != 1);

  const std::string public_pem = key.public_key_pem();
  CHECK(public_pem.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
  CHECK(public_pem.find("PRIVATE") == std::string::npos);

  PrivateKey p384 = PrivateKey::generate_ec("P-384");
  CHECK(EVP_PKEY_get_bits(p384.get()) == 384);
}

TEST_CASE("private key parsing and loading reject bad input") {
  CHECK_THROWS_AS(PrivateKey::from_pem(""), Error);
  CHECK_THROWS_AS(PrivateKey::from_pem("garbage"), Error);
  PrivateKey key = PrivateKey::generate_ec();
  CHECK_THROWS_AS(PrivateKey::from_pem(key.public_key_pem()), Error);
  CHECK_THROWS_AS(PrivateKey::generate_ec("no-such-curve"), Error);

  TempDir dir;
  write_file(dir.path / "k.pem", key.to_pem(), 0600);
  CHECK(EVP_PKEY_eq(PrivateKey::load(dir.path / "k.pem").get(), key.get()) == 1);
  CHECK_THROWS_AS(PrivateKey::load(dir.path / "missing.pem"), Error);
}

// ---------------------------------------------------------------- certificates

TEST_CASE("certificates round-trip through PEM and DER and have a SHA-256 id") {
  Hierarchy h;
  const Certificate& cert = h.fleet.certificate();
  const std::string id = cert.id();
  CHECK(id.size() == 64);
  CHECK(std::all_of(id.begin(), id.end(),
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  CHECK(id == independent_sha256_of_der(cert.get()));
  CHECK(id == sha256_hex(cert.der()));
  CHECK(id != h.root.certificate().id());

  Certificate from_pem = Certificate::from_pem(cert.to_pem());
  CHECK(from_pem.id() == id);
  CHECK(X509_cmp(from_pem.get(), cert.get()) == 0);
  Certificate from_der = Certificate::from_der(cert.der());
  CHECK(from_der.id() == id);
  CHECK(from_der.der() == cert.der());

  CHECK_THROWS_AS(Certificate::from_der(cert.der() + "x"), Error);
  CHECK_THROWS_AS(Certificate::from_der(cert.der().substr(0, 100)), Error);
  CHECK_THROWS_AS(Certificate::from_pem(""), Error);
  CHECK_THROWS_AS(Certificate::from_pem("not a certificate"), Error);
  CHECK_THROWS_AS(Certificate::from_pem(h.root.key().to_pem()), Error);
  CHECK_THROWS_AS(Certificate::adopt(nullptr), Error);
}

TEST_CASE("PEM bundles yield every certificate in order") {
  Hierarchy h;
  const std::string bundle = h.root.certificate().to_pem() + h.fleet.certificate().to_pem();
  auto all = Certificate::all_from_pem(bundle);
  REQUIRE(all.size() == 2);
  CHECK(all[0].id() == h.root.certificate().id());
  CHECK(all[1].id() == h.fleet.certificate().id());
  CHECK(Certificate::from_pem(bundle).id() == h.root.certificate().id());
  CHECK_THROWS_AS(Certificate::all_from_pem(""), Error);
  CHECK_THROWS_AS(Certificate::all_from_pem("nothing here"), Error);

  // A damaged second certificate is an error, not silently dropped.
  std::string damaged = h.fleet.certificate().to_pem();
  damaged[damaged.size() / 2] = '!';
  CHECK_THROWS_AS(Certificate::all_from_pem(h.root.certificate().to_pem() + damaged), Error);
}

TEST_CASE("subject fields use OpenSSL short names and the first value wins") {
  Hierarchy h;
  PrivateKey key = PrivateKey::generate_ec();
  IssueOptions options;
  options.subject = {{"C", "DE"},         {"ST", "Bavaria"},        {"L", "Munich"},
                     {"O", "Acme"},       {"OU", "Sensors"},        {"OU", "Second"},
                     {"CN", "device-42"}, {"serialNumber", "SN-1"}, {"dnQualifier", "q1"}};
  Certificate cert = h.fleet.issue(key.get(), options);
  auto subject = cert.subject();
  CHECK(subject.size() == 8);
  CHECK(subject["C"] == "DE");
  CHECK(subject["ST"] == "Bavaria");
  CHECK(subject["L"] == "Munich");
  CHECK(subject["O"] == "Acme");
  CHECK(subject["OU"] == "Sensors");
  CHECK(subject["CN"] == "device-42");
  CHECK(subject["serialNumber"] == "SN-1");
  CHECK(subject["dnQualifier"] == "q1");
  CHECK(cert.subject_field("CN") == "device-42");
  CHECK(cert.subject_field("OU") == "Sensors");
  CHECK(cert.subject_field("emailAddress") == "");
  CHECK(cert.subject_line() ==
        "dnQualifier=q1,serialNumber=SN-1,CN=device-42,OU=Second,OU=Sensors,O=Acme,L=Munich,"
        "ST=Bavaria,C=DE");
  CHECK(cert.issuer_line() == "O=Acme,CN=Test Fleet CA");
  // Read without building the certificate, the subject is the same.
  CHECK(Certificate::subject_from_pem(cert.to_pem()) == subject);
  CHECK(Certificate::subject_from_pem(h.root.certificate().to_pem()) == h.root.certificate().subject());

  IssueOptions bad;
  bad.subject = {{"C", "Germany"}};  // countryName is two letters
  CHECK_THROWS_AS(h.fleet.issue(key.get(), bad), Error);
  bad.subject = {{"NoSuchAttribute", "x"}};
  CHECK_THROWS_AS(h.fleet.issue(key.get(), bad), Error);
}

// ---------------------------------------------------------------- issuing

TEST_CASE("a device certificate issued for a key chains to the root with the right extensions") {
  Hierarchy h;
  PrivateKey key = PrivateKey::generate_ec();
  IssueOptions options;
  options.subject = {{"CN", "device-1"}};
  Certificate cert = h.fleet.issue(key.get(), options);

  CHECK(X509_get_version(cert.get()) == X509_VERSION_3);
  CHECK(cert.subject_field("CN") == "device-1");
  CHECK(cert.issuer_line() == h.fleet.certificate().subject_line());
  CHECK(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) == 1);
  CHECK(X509_get_signature_nid(cert.get()) == NID_ecdsa_with_SHA256);
  CHECK(cert.issued_by(h.fleet.certificate()));
  CHECK_FALSE(cert.issued_by(h.root.certificate()));
  CHECK(h.fleet.certificate().issued_by(h.root.certificate()));
  CHECK_FALSE(cert.is_ca());

  CHECK(verify_chain(cert, {&h.root.certificate()}, {&h.fleet.certificate()},
                     X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  // Without the fleet CA there is no chain; and it is not a server certificate.
  CHECK(verify_chain(cert, {&h.root.certificate()}, {}, X509_PURPOSE_SSL_CLIENT) ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  CHECK(verify_chain(cert, {&h.root.certificate()}, {&h.fleet.certificate()},
                     X509_PURPOSE_SSL_SERVER) == X509_V_ERR_INVALID_PURPOSE);

  auto bc = basic_constraints(cert);
  CHECK(bc.present);
  CHECK(bc.critical);
  CHECK_FALSE(bc.ca);
  CHECK(bc.pathlen == -1);

  CHECK(extension_critical(cert, NID_key_usage));
  CHECK(X509_get_key_usage(cert.get()) == KU_DIGITAL_SIGNATURE);  // no keyEncipherment for EC
  CHECK(X509_get_extended_key_usage(cert.get()) == XKU_SSL_CLIENT);
  CHECK_FALSE(extension_critical(cert, NID_ext_key_usage));

  const std::string ski = octets(X509_get0_subject_key_id(cert.get()));
  CHECK(ski.size() == 20);
  CHECK(ski != octets(X509_get0_subject_key_id(h.fleet.certificate().get())));
  CHECK(octets(X509_get0_authority_key_id(cert.get())) ==
        octets(X509_get0_subject_key_id(h.fleet.certificate().get())));
  CHECK(X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1) < 0);
}

TEST_CASE("default subject, server usage, SANs and RSA key usage") {
  Hierarchy h;
  PrivateKey key = PrivateKey::generate_ec();
  Certificate plain = h.fleet.issue(key.get(), IssueOptions{});
  CHECK(plain.subject() == std::map<std::string, std::string>{{"CN", "device"}});

  IssueOptions server;
  server.subject = {{"CN", "broker.example"}};
  server.usage = Usage::Server;
  server.dns_names = {"broker.example", "localhost"};
  server.ip_addresses = {"127.0.0.1", "::1"};
  Certificate cert = h.root.issue(key.get(), server);
  CHECK(X509_get_extended_key_usage(cert.get()) == XKU_SSL_SERVER);
  CHECK(X509_check_host(cert.get(), "broker.example", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert.get(), "other.example", 0, 0, nullptr) != 1);
  CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "10.0.0.1", 0) != 1);
  CHECK_FALSE(extension_critical(cert, NID_subject_alt_name));
  CHECK(verify_chain(cert, {&h.root.certificate()}, {}, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  CHECK(verify_chain(cert, {&h.root.certificate()}, {}, X509_PURPOSE_SSL_CLIENT) ==
        X509_V_ERR_INVALID_PURPOSE);

  IssueOptions bad_ip = server;
  bad_ip.ip_addresses = {"not-an-ip"};
  CHECK_THROWS_AS(h.root.issue(key.get(), bad_ip), Error);

  EvpPkeyPtr rsa = generate("RSA", 2048);
  Certificate rsa_cert = h.fleet.issue(rsa.get(), IssueOptions{});
  CHECK(X509_get_key_usage(rsa_cert.get()) == (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));

  CHECK_THROWS_AS(h.fleet.issue(nullptr, IssueOptions{}), Error);
  IssueOptions no_validity;
  no_validity.validity_seconds = 0;
  CHECK_THROWS_AS(h.fleet.issue(key.get(), no_validity), Error);
}

TEST_CASE("CA certificates carry CA:TRUE, pathlen and keyCertSign") {
  Hierarchy h;
  const Certificate& root = h.root.certificate();
  CHECK(root.is_ca());
  CHECK(root.issued_by(root));
  CHECK(root.subject_line() == "CN=Test Root CA");
  CHECK(root.issuer_line() == "CN=Test Root CA");
  CHECK(EVP_PKEY_is_a(h.root.key().get(), "EC") == 1);
  CHECK(EVP_PKEY_get_bits(h.root.key().get()) == 256);
  auto root_bc = basic_constraints(root);
  CHECK((root_bc.present && root_bc.critical && root_bc.ca));
  CHECK(root_bc.pathlen == -1);
  CHECK(octets(X509_get0_authority_key_id(root.get())) ==
        octets(X509_get0_subject_key_id(root.get())));

  const Certificate& fleet = h.fleet.certificate();
  CHECK(fleet.is_ca());
  auto bc = basic_constraints(fleet);
  CHECK((bc.present && bc.critical && bc.ca));
  CHECK(bc.pathlen == 0);
  CHECK(X509_get_key_usage(fleet.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(extension_critical(fleet, NID_key_usage));
  CHECK(X509_get_ext_by_NID(fleet.get(), NID_ext_key_usage, -1) < 0);
  CHECK(verify_chain(fleet, {&root}, {}, X509_PURPOSE_ANY) == X509_V_OK);
}

TEST_CASE("the validity window starts a minute ago and lasts validity_seconds") {
  Hierarchy h;
  PrivateKey key = PrivateKey::generate_ec();
  IssueOptions options;
  options.validity_seconds = 30 * kDay + 123;
  const int64_t before = std::time(nullptr);
  Certificate cert = h.fleet.issue(key.get(), options);
  const int64_t after = std::time(nullptr);
  CHECK(cert.not_before() >= before - 60);
  CHECK(cert.not_before() <= after - 60);
  CHECK(cert.not_after() >= before + options.validity_seconds);
  CHECK(cert.not_after() <= after + options.validity_seconds);
  // Independent check of the accessors against OpenSSL's own comparison.
  time_t probe = static_cast<time_t>(cert.not_before() + 1);
  CHECK(X509_cmp_time(X509_get0_notBefore(cert.get()), &probe) < 0);
  probe = static_cast<time_t>(cert.not_before() - 1);
  CHECK(X509_cmp_time(X509_get0_notBefore(cert.get()), &probe) > 0);
  probe = static_cast<time_t>(cert.not_after() - 1);
  CHECK(X509_cmp_time(X509_get0_notAfter(cert.get()), &probe) > 0);
  CHECK(X509_cmp_current_time(X509_get0_notBefore(cert.get())) < 0);
}

TEST_CASE("serial numbers are random, positive, at most 128 bits and unique") {
  Hierarchy h;
  PrivateKey key = PrivateKey::generate_ec();
  std::set<std::string> serials;
  for (int i = 0; i < 200; ++i) {
    Certificate cert = h.fleet.issue(key.get(), IssueOptions{});
    const std::string hex = cert.serial_hex();
    BignumPtr number(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    REQUIRE(number);
    CHECK_FALSE(BN_is_negative(number.get()));
    CHECK_FALSE(BN_is_zero(number.get()));
    CHECK(BN_num_bits(number.get()) <= 127);
    char* reference = BN_bn2hex(number.get());
    std::string expected(reference);
    OPENSSL_free(reference);
    std::transform(expected.begin(), expected.end(), expected.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    expected.erase(0, expected.find_first_not_of('0'));
    CHECK(hex == expected);
    CHECK(hex.front() != '0');
    CHECK(hex.size() <= 32);
    serials.insert(hex);
  }
  CHECK(serials.size() == 200);
}

// ---------------------------------------------------------------- CSRs

TEST_CASE("issuing from a CSR takes its key and subject and nothing else") {
  Hierarchy h;
  PrivateKey device_key = PrivateKey::generate_ec();
  const std::string pem =
      csr_pem(device_key.get(), {{"CN", "sensor-7"}, {"O", "Acme"}, {"serialNumber", "ABC123"}},
              /*request_ca=*/true);
  CertificateRequest csr = CertificateRequest::from_pem(pem);
  CHECK(csr.subject() == std::map<std::string, std::string>{
                             {"CN", "sensor-7"}, {"O", "Acme"}, {"serialNumber", "ABC123"}});
  CHECK(EVP_PKEY_eq(csr.public_key(), device_key.get()) == 1);

  Certificate cert = h.fleet.issue_from_csr(csr, IssueOptions{});
  CHECK(cert.subject() == csr.subject());
  // The key is the CSR's, byte for byte, and decodes to the device's key.
  const Certificate parsed = Certificate::from_der(cert.der());
  CHECK(EVP_PKEY_eq(X509_get0_pubkey(parsed.get()), device_key.get()) == 1);
  unsigned char* csr_spki = nullptr;
  unsigned char* cert_spki = nullptr;
  BioPtr pem_bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ReqPtr as_parsed_by_openssl(PEM_read_bio_X509_REQ(pem_bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(as_parsed_by_openssl);
  const int csr_spki_length = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(as_parsed_by_openssl.get()), &csr_spki);
  const int cert_spki_length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(parsed.get()), &cert_spki);
  CHECK(csr_spki_length > 0);
  CHECK(std::string(reinterpret_cast<char*>(csr_spki), static_cast<size_t>(std::max(csr_spki_length, 0))) ==
        std::string(reinterpret_cast<char*>(cert_spki), static_cast<size_t>(std::max(cert_spki_length, 0))));
  OPENSSL_free(csr_spki);
  OPENSSL_free(cert_spki);
  CHECK(Certificate::subject_from_pem(cert.to_pem()) == csr.subject());
  CHECK(verify_chain(parsed, {&h.root.certificate()}, {&h.fleet.certificate()},
                     X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  // The CSR asked for CA:TRUE and keyCertSign; neither was granted.
  auto bc = basic_constraints(cert);
  CHECK(bc.present);
  CHECK_FALSE(bc.ca);
  CHECK_FALSE(cert.is_ca());
  CHECK(X509_get_key_usage(cert.get()) == KU_DIGITAL_SIGNATURE);
  CHECK(X509_get_extended_key_usage(cert.get()) == XKU_SSL_CLIENT);
  CHECK(X509_get0_subject_key_id(cert.get()) != nullptr);
  CHECK(octets(X509_get0_authority_key_id(cert.get())) ==
        octets(X509_get0_subject_key_id(h.fleet.certificate().get())));
  CHECK(X509_get_ext_count(cert.get()) == 5);  // BC, KU, EKU, SKI, AKI

  // An explicit subject replaces the CSR's.
  IssueOptions named;
  named.subject = {{"CN", "thing-from-template"}};
  Certificate renamed = h.fleet.issue_from_csr(csr, named);
  CHECK(renamed.subject() == std::map<std::string, std::string>{{"CN", "thing-from-template"}});
}

TEST_CASE("CSRs that do not parse are InvalidCsr") {
  PrivateKey key = PrivateKey::generate_ec();
  CHECK(csr_error("") == "InvalidCsr");
  CHECK(csr_error("garbage") == "InvalidCsr");
  CHECK(
      csr_error("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n") ==
      "InvalidCsr");
  CHECK(csr_error(key.public_key_pem()) == "InvalidCsr");
  Hierarchy h;
  CHECK(csr_error(h.root.certificate().to_pem()) == "InvalidCsr");
  CHECK(csr_error(csr_pem(key.get())) == "");
}

TEST_CASE("CSR keys: compressed EC points and the old PEM label are accepted, a point off the curve is InvalidCsr") {
  PrivateKey key = PrivateKey::generate_ec();
  std::string pem = csr_pem(key.get());
  auto relabel = [](std::string text) {
    for (size_t at = 0; (at = text.find("CERTIFICATE REQUEST", at)) != std::string::npos; at += 23)
      text.replace(at, 19, "NEW CERTIFICATE REQUEST");
    return text;
  };
  CHECK(csr_error(relabel(pem)) == "");
  CHECK(CertificateRequest::from_pem(relabel(pem)).subject() == std::map<std::string, std::string>{{"CN", "dev"}});

  EvpPkeyPtr compressed(EVP_PKEY_dup(key.get()));
  REQUIRE(EVP_PKEY_set_utf8_string_param(compressed.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed") == 1);
  ReqPtr small = make_csr(compressed.get(), {{"CN", "small"}});
  const unsigned char* point = nullptr;
  int point_length = 0;
  REQUIRE(X509_PUBKEY_get0_param(nullptr, &point, &point_length, nullptr, X509_REQ_get_X509_PUBKEY(small.get())) == 1);
  REQUIRE(point_length == 33);  // 0x02/0x03 and x
  CertificateRequest parsed = CertificateRequest::from_pem(req_to_pem(small.get()));
  CHECK(EVP_PKEY_eq(parsed.public_key(), key.get()) == 1);

  // Flip a bit of y: (x, y') is not on the curve. Signed again with the real
  // key, so that only the key can be what is wrong.
  ReqPtr req = make_csr(key.get(), {{"CN", "off-curve"}});
  REQUIRE(X509_PUBKEY_get0_param(nullptr, &point, &point_length, nullptr, X509_REQ_get_X509_PUBKEY(req.get())) == 1);
  REQUIRE(point_length == 65);
  auto* bent = static_cast<unsigned char*>(OPENSSL_memdup(point, static_cast<size_t>(point_length)));
  REQUIRE(bent != nullptr);
  bent[point_length - 1] ^= 0x01;
  REQUIRE(X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req.get()), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                 V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), bent, point_length) == 1);
  REQUIRE(X509_REQ_sign(req.get(), key.get(), EVP_sha256()) > 0);
  std::string message;
  CHECK(csr_error(req_to_pem(req.get()), &message) == "InvalidCsr");
  CHECK(message.find("public key cannot be decoded") != std::string::npos);
}

TEST_CASE("a CSR's key is its signer's public key alone, on P-256 and P-384, from every thread") {
  // EC keys are copied from one public-only key per curve and given the
  // request's point: each must be its own signer's key, with no private part.
  for (const char* curve : {"P-256", "P-384"}) {
    CAPTURE(curve);
    std::vector<PrivateKey> keys;
    for (int i = 0; i < 3; ++i) keys.push_back(PrivateKey::generate_ec(curve));
    std::vector<std::string> pems;
    for (const auto& key : keys) pems.push_back(csr_pem(key.get()));
    std::vector<int> matches(keys.size() * 4, 0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (size_t i = 0; i < keys.size(); ++i) {
          CertificateRequest parsed = CertificateRequest::from_pem(pems[i]);
          BIGNUM* secret = nullptr;
          const bool has_secret = EVP_PKEY_get_bn_param(parsed.public_key(), OSSL_PKEY_PARAM_PRIV_KEY, &secret) == 1;
          BN_free(secret);
          matches[t * keys.size() + i] = EVP_PKEY_eq(parsed.public_key(), keys[i].get()) == 1 && !has_secret &&
                                         EVP_PKEY_eq(parsed.public_key(), keys[(i + 1) % keys.size()].get()) != 1;
        }
      });
    for (auto& thread : threads) thread.join();
    CHECK(std::count(matches.begin(), matches.end(), 1) == static_cast<long>(matches.size()));
  }
}

TEST_CASE("a CSR with a tampered signature is InvalidCsrSignature") {
  PrivateKey key = PrivateKey::generate_ec();
  ReqPtr req = make_csr(key.get(), {{"CN", "victim"}});
  unsigned char* der = nullptr;
  const int length = i2d_X509_REQ(req.get(), &der);
  REQUIRE(length > 0);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  // The signature is the last field; its last byte is the end of ECDSA's s.
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  const auto* cursor = reinterpret_cast<const unsigned char*>(bytes.data());
  ReqPtr tampered(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(bytes.size())));
  REQUIRE(tampered);
  std::string message;
  CHECK(csr_error(req_to_pem(tampered.get()), &message) == "InvalidCsrSignature");
  CHECK(message.find("signature") != std::string::npos);
  CHECK(csr_error(req_to_pem(req.get())) == "");
}

TEST_CASE("CSR keys other than EC P-256/P-384 or RSA >= 2048 are UnsupportedKey") {
  std::string message;
  EvpPkeyPtr rsa1024 = generate("RSA", 1024);
  CHECK(csr_error(csr_pem(rsa1024.get()), &message) == "UnsupportedKey");
  CHECK(message == "RSA key of 1024 bits; at least 2048 required");

  PrivateKey p521 = PrivateKey::generate_ec("P-521");
  CHECK(csr_error(csr_pem(p521.get()), &message) == "UnsupportedKey");
  CHECK(message.find("secp521r1") != std::string::npos);

  PrivateKey k256 = PrivateKey::generate_ec("secp256k1");
  CHECK(csr_error(csr_pem(k256.get())) == "UnsupportedKey");

  EvpPkeyPtr ed25519 = generate("ED25519");
  CHECK(csr_error(csr_pem(ed25519.get()), &message) == "UnsupportedKey");
  CHECK(message.find("ED25519") != std::string::npos);

  EvpPkeyPtr rsa2048 = generate("RSA", 2048);
  CHECK(csr_error(csr_pem(rsa2048.get())) == "");
  PrivateKey p384 = PrivateKey::generate_ec("P-384");
  CHECK(csr_error(csr_pem(p384.get())) == "");

  // And the accepted ones issue fine, their key copied as it was requested.
  Hierarchy h;
  const Certificate cert =
      Certificate::from_der(h.fleet.issue_from_csr(CertificateRequest::from_pem(csr_pem(p384.get())), {}).der());
  CHECK(verify_chain(cert, {&h.root.certificate()}, {&h.fleet.certificate()},
                     X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), p384.get()) == 1);
  const Certificate rsa_parsed =
      Certificate::from_der(h.fleet.issue_from_csr(CertificateRequest::from_pem(csr_pem(rsa2048.get())), {}).der());
  CHECK(verify_chain(rsa_parsed, {&h.root.certificate()}, {&h.fleet.certificate()},
                     X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(EVP_PKEY_eq(X509_get0_pubkey(rsa_parsed.get()), rsa2048.get()) == 1);
  CHECK(X509_get_key_usage(rsa_parsed.get()) == (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
}

TEST_CASE("reading a subject without parsing the certificate refuses what is not a certificate") {
  Hierarchy h;
  const std::string pem = h.fleet.certificate().to_pem();
  CHECK(Certificate::subject_from_pem(pem) == h.fleet.certificate().subject());
  CHECK_THROWS_AS(Certificate::subject_from_pem(""), Error);
  CHECK_THROWS_AS(Certificate::subject_from_pem("not a certificate"), Error);
  // A certificate cut short: the PEM armour is fine, the DER inside ends early.
  const std::string der = h.fleet.certificate().der();
  for (size_t length : {size_t{1}, size_t{4}, size_t{20}, der.size() / 4}) {
    BIO* out = BIO_new(BIO_s_mem());
    REQUIRE(out != nullptr);
    REQUIRE(PEM_write_bio(out, PEM_STRING_X509, "", reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<long>(length)) > 0);
    char* data = nullptr;
    const long size = BIO_get_mem_data(out, &data);
    const std::string truncated(data, static_cast<size_t>(size));
    BIO_free(out);
    CHECK_THROWS_AS(Certificate::subject_from_pem(truncated), Error);
  }
}

// ---------------------------------------------------------------- authorities

TEST_CASE("a CA refuses a key that does not match and a certificate that is not a CA") {
  Hierarchy h;
  CHECK_THROWS_AS(CertificateAuthority(h.root.certificate(), PrivateKey::generate_ec()), Error);
  CHECK_THROWS_AS(CertificateAuthority(h.root.certificate(), h.fleet.key()), Error);
  CHECK_NOTHROW(CertificateAuthority(h.root.certificate(), h.root.key()));

  PrivateKey key = PrivateKey::generate_ec();
  Certificate leaf = h.fleet.issue(key.get(), IssueOptions{});
  CHECK_THROWS_AS(CertificateAuthority(leaf, key), Error);
}

TEST_CASE("a CA loads from PEM files") {
  Hierarchy h;
  TempDir dir;
  write_file(dir.path / "ca.pem", h.fleet.certificate().to_pem());
  write_file(dir.path / "ca.key", h.fleet.key().to_pem(), 0600);
  write_file(dir.path / "root.key", h.root.key().to_pem(), 0600);
  CertificateAuthority loaded =
      CertificateAuthority::load(dir.path / "ca.pem", dir.path / "ca.key");
  CHECK(loaded.certificate().id() == h.fleet.certificate().id());
  CHECK(loaded.id() == h.fleet.certificate().id());
  CHECK(h.root.id() == sha256_hex(h.root.certificate().der()));
  PrivateKey key = PrivateKey::generate_ec();
  CHECK(loaded.issue(key.get(), {}).issued_by(h.fleet.certificate()));
  CHECK_THROWS_AS(CertificateAuthority::load(dir.path / "ca.pem", dir.path / "root.key"), Error);
}

TEST_CASE("concurrent issuance from several threads on one CA") {
  Hierarchy h;
  const CertificateAuthority& ca = h.fleet;
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::string> pems;
  for (int i = 0; i < kThreads; ++i) {
    PrivateKey key = PrivateKey::generate_ec();
    pems.push_back(csr_pem(key.get(), {{"CN", "thread-" + std::to_string(i)}}));
  }
  std::mutex mutex;
  std::vector<Certificate> issued;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < kEach; ++i) {
          CertificateRequest csr = CertificateRequest::from_pem(pems[static_cast<size_t>(t)]);
          Certificate cert = ca.issue_from_csr(csr, IssueOptions{});
          std::lock_guard lock(mutex);
          issued.push_back(cert);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures.empty());
  REQUIRE(issued.size() == static_cast<size_t>(kThreads * kEach));
  std::set<std::string> serials, ids;
  for (const Certificate& cert : issued) {
    serials.insert(cert.serial_hex());
    ids.insert(cert.id());
    CHECK(cert.subject_field("CN").rfind("thread-", 0) == 0);
    // Verified the way a broker sees it: parsed from what was sent.
    CHECK(verify_chain(Certificate::from_der(cert.der()), {&h.root.certificate()}, {&ca.certificate()},
                       X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  }
  CHECK(serials.size() == issued.size());
  CHECK(ids.size() == issued.size());
}

// ---------------------------------------------------------------- development PKI

TEST_CASE("the development PKI has every file, private keys 0600 and valid chains") {
  TempDir tmp;
  const auto dir = tmp.path / "pki";
  DevelopmentPki pki = create_development_pki(dir);
  CHECK(pki.dir == dir);
  CHECK(file_mode(dir) == 0700);
  for (const auto& key : {pki.root_key, pki.fleet_ca_key, pki.claim_ca_key, pki.claim_key,
                          pki.broker_key, pki.service_key}) {
    INFO(key);
    REQUIRE(std::filesystem::exists(key));
    CHECK(file_mode(key) == 0600);
    CHECK(PrivateKey::load(key).get() != nullptr);
  }
  for (const auto& cert : {pki.root_cert, pki.fleet_ca_cert, pki.claim_ca_cert, pki.claim_cert,
                           pki.broker_cert, pki.service_cert, pki.broker_ca_bundle}) {
    INFO(cert);
    REQUIRE(std::filesystem::exists(cert));
    CHECK(file_mode(cert) == 0644);
  }
  CHECK(pki.root_cert == dir / "root-ca.pem");
  CHECK(DevelopmentPki(dir).claim_key == pki.claim_key);

  // Every CA loads with its key (which checks that they match).
  auto root = CertificateAuthority::load(pki.root_cert, pki.root_key);
  auto fleet = CertificateAuthority::load(pki.fleet_ca_cert, pki.fleet_ca_key);
  auto claim_ca = CertificateAuthority::load(pki.claim_ca_cert, pki.claim_ca_key);
  CHECK(root.certificate().issued_by(root.certificate()));
  CHECK(fleet.certificate().issued_by(root.certificate()));
  CHECK(claim_ca.certificate().issued_by(root.certificate()));
  CHECK(fleet.certificate().subject_field("CN") == "Development Fleet CA");
  CHECK(claim_ca.certificate().subject_field("CN") == "Development Claim CA");
  CHECK(basic_constraints(fleet.certificate()).pathlen == 0);
  CHECK(basic_constraints(claim_ca.certificate()).pathlen == 0);
  CHECK(root.certificate().not_after() - root.certificate().not_before() >= 3650 * kDay);

  Certificate claim = Certificate::load(pki.claim_cert);
  CHECK(claim.subject_field("CN") == "claim-batch-1");
  CHECK(X509_check_private_key(claim.get(), PrivateKey::load(pki.claim_key).get()) == 1);
  CHECK(verify_chain(claim, {&root.certificate()}, {&claim_ca.certificate()},
                     X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(verify_chain(claim, {&root.certificate()}, {&fleet.certificate()},
                     X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
  const int64_t claim_validity = claim.not_after() - claim.not_before();
  CHECK(claim_validity >= 730 * kDay);
  CHECK(claim_validity <= 731 * kDay);

  Certificate broker = Certificate::load(pki.broker_cert);
  CHECK(broker.subject_field("CN") == "localhost");
  CHECK(X509_check_host(broker.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(broker.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_get_extended_key_usage(broker.get()) == XKU_SSL_SERVER);
  CHECK(verify_chain(broker, {&root.certificate()}, {}, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  CHECK(X509_check_private_key(broker.get(), PrivateKey::load(pki.broker_key).get()) == 1);

  Certificate service = Certificate::load(pki.service_cert);
  CHECK(service.subject_field("CN") == "provisiond");
  CHECK(verify_chain(service, {&root.certificate()}, {}, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(X509_check_private_key(service.get(), PrivateKey::load(pki.service_key).get()) == 1);

  auto bundle = Certificate::all_from_pem(read_file(pki.broker_ca_bundle));
  REQUIRE(bundle.size() == 3);
  CHECK(bundle[0].id() == root.certificate().id());
  CHECK(bundle[1].id() == fleet.certificate().id());
  CHECK(bundle[2].id() == claim_ca.certificate().id());

  // A second run refuses and leaves the existing files alone.
  const std::string root_pem = read_file(pki.root_cert);
  CHECK_THROWS_AS(create_development_pki(dir), Error);
  CHECK(read_file(pki.root_cert) == root_pem);
}

TEST_CASE("development PKI options set the names") {
  TempDir tmp;
  DevelopmentPkiOptions options;
  options.claim_common_name = "claim-batch-9";
  options.service_common_name = "worker-2";
  options.broker_dns_names = {"mqtt.example.test", "localhost"};
  options.broker_ip_addresses = {"10.1.2.3"};
  DevelopmentPki pki = create_development_pki(tmp.path, options);
  CHECK(Certificate::load(pki.claim_cert).subject_field("CN") == "claim-batch-9");
  CHECK(Certificate::load(pki.service_cert).subject_field("CN") == "worker-2");
  Certificate broker = Certificate::load(pki.broker_cert);
  CHECK(broker.subject_field("CN") == "mqtt.example.test");
  CHECK(X509_check_host(broker.get(), "mqtt.example.test", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(broker.get(), "10.1.2.3", 0) == 1);
  CHECK(X509_check_ip_asc(broker.get(), "127.0.0.1", 0) != 1);
}

TEST_CASE("create_csr makes a request that the service accepts, with the subject asked for") {
  auto key = provision::pki::PrivateKey::generate_ec("P-256");
  std::string pem = provision::pki::create_csr(key, {{"CN", "sensor-42"}, {"O", "Acme"}});
  CHECK(pem.rfind("-----BEGIN CERTIFICATE REQUEST-----", 0) == 0);
  auto csr = provision::pki::CertificateRequest::from_pem(pem);
  CHECK(csr.subject().at("CN") == "sensor-42");
  CHECK(csr.subject().at("O") == "Acme");
  CHECK(EVP_PKEY_eq(csr.public_key(), key.get()) == 1);
}
