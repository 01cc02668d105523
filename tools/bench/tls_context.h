#pragma once
// A client's TLS settings as one OpenSSL context handed to libmosquitto
// (MOSQ_OPT_SSL_CTX), built from certificates and keys in memory.
//
// libmosquitto's own mosquitto_tls_set() builds a new SSL_CTX on every
// connect and reads the CA, certificate and key files again: on OpenSSL 3 that
// costs the client more than its TLS handshake. A device keeps its TLS
// settings and its key in memory and pays only the handshake; so does the
// benchmark. Devices share one context without an identity of its own: each
// connection presents the identity its thread put in place (ThreadTlsIdentity)
// when the broker asks for a certificate. A context per device cost a
// SSL_CTX_new (about 110 us on OpenSSL 3.0), and parsing its PEM key again
// about 390 us, per device connect.
#include <openssl/ssl.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "pki/certificate.h"
#include "pki/key.h"

namespace provision::bench {

// What a client trusts: the broker's CA certificates (parsed once, shared by
// every context) and the name the broker's certificate must carry.
class BrokerTrust {
 public:
  // Throws Error when the file holds no certificate.
  BrokerTrust(const std::filesystem::path& ca_file, std::string broker_host);
  X509_STORE* store() const { return store_.get(); }
  const std::string& broker_host() const { return host_; }

 private:
  std::shared_ptr<X509_STORE> store_;
  std::string host_;
};

class TlsContext {
 public:
  // A TLS 1.2+ client context that verifies the broker against `trust`
  // (chain and host name) and presents `certificate_pem` with `key_pem`.
  // Throws Error for PEM that does not parse or a key that does not match.
  TlsContext(const BrokerTrust& trust, std::string_view certificate_pem, std::string_view key_pem);
  // The same with the certificate and key already parsed.
  TlsContext(const BrokerTrust& trust, const pki::Certificate& certificate, const pki::PrivateKey& key);
  // The same without an identity: a connection presents the certificate and
  // key its thread has in place (ThreadTlsIdentity), if any, when asked.
  explicit TlsContext(const BrokerTrust& trust);
  SSL_CTX* get() const { return ctx_.get(); }

 private:
  std::shared_ptr<SSL_CTX> ctx_;
};

// While it lives, connections this thread makes through an identity-less
// TlsContext present `certificate` and `key` (which must outlive it).
class ThreadTlsIdentity {
 public:
  ThreadTlsIdentity(const pki::Certificate& certificate, const pki::PrivateKey& key);
  ~ThreadTlsIdentity();
  ThreadTlsIdentity(const ThreadTlsIdentity&) = delete;
  ThreadTlsIdentity& operator=(const ThreadTlsIdentity&) = delete;

  X509* certificate() const { return certificate_; }
  EVP_PKEY* key() const { return key_; }

 private:
  X509* certificate_;
  EVP_PKEY* key_;
};

}  // namespace provision::bench
