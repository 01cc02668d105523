#include "tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pki/certificate.h"
#include "pki/key.h"
#include "util/error.h"
#include "util/files.h"

namespace provision::bench {
namespace {

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

thread_local const ThreadTlsIdentity* t_identity = nullptr;

// SSL_CTX_set_cert_cb: the broker asked for a certificate (on the thread
// that drives the handshake, the one that made the connection).
int present_thread_identity(SSL* ssl, void*) {
  if (!t_identity) return 1;  // none: the handshake goes on without one, and the broker refuses it
  return SSL_use_certificate(ssl, t_identity->certificate()) == 1 && SSL_use_PrivateKey(ssl, t_identity->key()) == 1 ? 1 : 0;
}

bool is_ip_address(const std::string& host) {
  unsigned char address[16];
  return inet_pton(AF_INET, host.c_str(), address) == 1 || inet_pton(AF_INET6, host.c_str(), address) == 1;
}

}  // namespace

BrokerTrust::BrokerTrust(const std::filesystem::path& ca_file, std::string broker_host)
    : store_(X509_STORE_new(), X509_STORE_free), host_(std::move(broker_host)) {
  if (!store_) throw Error("cannot allocate a certificate store");
  for (const pki::Certificate& ca : pki::Certificate::all_from_pem(read_file(ca_file)))
    if (X509_STORE_add_cert(store_.get(), ca.get()) != 1)
      throw Error(ca_file.string() + ": cannot trust its certificates: " + openssl_error());
}

namespace {

// A TLS 1.2+ client context that verifies the broker against `trust` (chain and host name).
std::shared_ptr<SSL_CTX> client_context(const BrokerTrust& trust) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) throw Error("cannot create a TLS context: " + openssl_error());
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) throw Error("cannot require TLS 1.2: " + openssl_error());
  SSL_CTX_set1_cert_store(ctx.get(), trust.store());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx.get());
  const std::string& host = trust.broker_host();
  const int named = is_ip_address(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                                        : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (named != 1) throw Error("cannot require the broker name " + host + ": " + openssl_error());
  return ctx;
}

}  // namespace

TlsContext::TlsContext(const BrokerTrust& trust, std::string_view certificate_pem, std::string_view key_pem)
    : TlsContext(trust, pki::Certificate::from_pem(certificate_pem), pki::PrivateKey::from_pem(key_pem)) {}

TlsContext::TlsContext(const BrokerTrust& trust, const pki::Certificate& certificate, const pki::PrivateKey& key)
    : ctx_(client_context(trust)) {
  if (SSL_CTX_use_certificate(ctx_.get(), certificate.get()) != 1 || SSL_CTX_use_PrivateKey(ctx_.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx_.get()) != 1)
    throw Error("the client certificate and key do not make a TLS identity: " + openssl_error());
}

TlsContext::TlsContext(const BrokerTrust& trust) : ctx_(client_context(trust)) {
  SSL_CTX_set_cert_cb(ctx_.get(), present_thread_identity, nullptr);
}

ThreadTlsIdentity::ThreadTlsIdentity(const pki::Certificate& certificate, const pki::PrivateKey& key)
    : certificate_(certificate.get()), key_(key.get()) {
  t_identity = this;
}

ThreadTlsIdentity::~ThreadTlsIdentity() { t_identity = nullptr; }

}  // namespace provision::bench
