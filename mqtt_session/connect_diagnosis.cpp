#include "mqtt_session/connect_diagnosis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <vector>

#include "mqtt_session/session.h"
#include "util/handle.h"

namespace provision::mqtt_session {
namespace {

using SslContextPtr = Owned<SSL_CTX, SSL_CTX_free>;
using SslPtr = Owned<SSL, SSL_free>;
using CertificatePtr = Owned<X509, X509_free>;
using BioPtr = Owned<BIO, BIO_free>;
using AddressesPtr = Owned<addrinfo, freeaddrinfo>;

constexpr int kConnectTimeoutMs = 3000;
constexpr int kHandshakeTimeoutMs = 3000;
// TLS 1.3: the broker checks our certificate after our side of the
// handshake is done, and answers with an alert within a round trip.
constexpr int kVerdictTimeoutMs = 1500;

struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

std::string where(const ConnectSettings& s) { return s.endpoint.host + ":" + std::to_string(s.endpoint.port); }

// OpenSSL's error queue, emptied.
std::vector<unsigned long> take_errors() {
  std::vector<unsigned long> codes;
  while (unsigned long code = ERR_get_error()) codes.push_back(code);
  return codes;
}

std::string describe(const std::vector<unsigned long>& codes) {
  std::string out;
  char buffer[256];
  for (unsigned long code : codes) {
    ERR_error_string_n(code, buffer, sizeof buffer);
    out += (out.empty() ? "" : "; ") + std::string(buffer);
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}
std::string openssl_errors() { return describe(take_errors()); }

// The TLS alert the broker sent (its description code), -1 when none:
// OpenSSL records a received alert as reason SSL_AD_REASON_OFFSET + code.
int alert_in(const std::vector<unsigned long>& codes) {
  for (unsigned long code : codes) {
    int reason = ERR_GET_REASON(code);
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
      return reason - SSL_AD_REASON_OFFSET;
  }
  return -1;
}

std::string utc(const ASN1_TIME* time) {
  std::tm parts{};
  if (!time || ASN1_TIME_to_tm(time, &parts) != 1) return "(unreadable date)";
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return out;
}

std::string connack_name(int code, Protocol protocol) {
  if (protocol == Protocol::V5) {
    std::string name = mqtt::exception::reason_code_str(code);
    return name.empty() ? "unknown reason" : name;
  }
  switch (code) {
    case 1: return "unacceptable protocol version";
    case 2: return "identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
  }
  return "unknown return code";
}

// A TCP connection to the broker (blocking, with timeouts), or why not.
std::optional<ConnectDiagnosis> connect_tcp(const ConnectSettings& s, Socket& out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(s.endpoint.host.c_str(), std::to_string(s.endpoint.port).c_str(), &hints, &found);
  if (rc != 0)
    return ConnectDiagnosis{ConnectFailure::CannotResolve,
                            "cannot resolve the broker's host name '" + s.endpoint.host + "': " + ::gai_strerror(rc)};
  AddressesPtr addresses(found);
  int last_error = 0;
  bool timed_out = false;
  for (addrinfo* a = found; a; a = a->ai_next) {
    Socket socket;
    socket.fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (socket.fd < 0) {
      last_error = errno;
      continue;
    }
    int error = ::connect(socket.fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS) {
      pollfd p{socket.fd, POLLOUT, 0};
      int ready = ::poll(&p, 1, kConnectTimeoutMs);
      if (ready == 0) {
        timed_out = true;
        continue;
      }
      socklen_t length = sizeof error;
      if (ready < 0 || ::getsockopt(socket.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    }
    if (error != 0) {
      last_error = error;
      continue;
    }
    ::fcntl(socket.fd, F_SETFL, ::fcntl(socket.fd, F_GETFL) & ~O_NONBLOCK);
    timeval timeout{kHandshakeTimeoutMs / 1000, (kHandshakeTimeoutMs % 1000) * 1000};
    ::setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::swap(out.fd, socket.fd);
    return std::nullopt;
  }
  if (last_error == ECONNREFUSED)
    return ConnectDiagnosis{ConnectFailure::NothingListening, "nothing is listening at " + where(s) +
                                                                  " (connection refused): is the broker running, and is this "
                                                                  "its TLS port?"};
  return ConnectDiagnosis{ConnectFailure::Unreachable,
                          where(s) + " does not answer (" +
                              (timed_out ? "no answer within " + std::to_string(kConnectTimeoutMs / 1000) + " s"
                                         : std::string(std::strerror(last_error))) +
                              "): a wrong address, a firewall, or the broker's host is down"};
}

// Our certificate's validity, read locally.
std::optional<ConnectDiagnosis> check_dates(const ConnectSettings& s) {
  const std::string& path = s.tls.certificate;
  BioPtr file(BIO_new_file(path.c_str(), "r"));
  CertificatePtr certificate(file ? PEM_read_bio_X509(file.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!certificate) {
    std::string why = openssl_errors();
    return ConnectDiagnosis{ConnectFailure::LocalFiles, "cannot read our certificate " + path + " (" + why + ")"};
  }
  const std::string check = " (check locally: openssl x509 -noout -dates -in " + path + ")";
  if (X509_cmp_current_time(X509_get0_notAfter(certificate.get())) < 0)
    return ConnectDiagnosis{ConnectFailure::CertificateExpired,
                            "our certificate " + path + " expired on " + utc(X509_get0_notAfter(certificate.get())) + check +
                                ": the broker refuses it; it needs a new one"};
  if (X509_cmp_current_time(X509_get0_notBefore(certificate.get())) > 0)
    return ConnectDiagnosis{ConnectFailure::CertificateNotYetValid,
                            "our certificate " + path + " is not valid before " + utc(X509_get0_notBefore(certificate.get())) +
                                check + ": is this machine's clock right?"};
  return std::nullopt;
}

ConnectDiagnosis rejected_by_alert(const ConnectSettings& s, int alert) {
  std::string said = std::string("TLS alert '") + SSL_alert_desc_string_long(alert) + "'";
  switch (alert) {
    case SSL_AD_CERTIFICATE_EXPIRED:
      return {ConnectFailure::CertificateExpired, "the broker says our certificate " + s.tls.certificate + " has expired (" +
                                                      said + "), though this machine's clock says it has not: one of the "
                                                             "two clocks is wrong"};
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REQUIRED:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_DECRYPT_ERROR:
      return {ConnectFailure::ClientCertificateRejected,
              "TLS failed because the broker did not accept our certificate " + s.tls.certificate + " (" + said +
                  "): the CA that issued it is not trusted by the broker (not registered and active in its registry, or "
                  "not in its trust directory)"};
  }
  return {ConnectFailure::Unknown, "the broker ended the TLS handshake with " + where(s) + " (" + said + ")"};
}

// A TLS handshake of our own, as Paho makes it: verify the broker with the
// CA file and its name, present our certificate.
ConnectDiagnosis probe_tls(const ConnectSettings& s, int fd) {
  ERR_clear_error();
  SslContextPtr context(SSL_CTX_new(TLS_client_method()));
  if (!context) return {ConnectFailure::Unknown, "cannot set up TLS to look closer (" + openssl_errors() + ")"};
  if (SSL_CTX_load_verify_locations(context.get(), s.tls.ca_file.c_str(), nullptr) != 1)
    return {ConnectFailure::LocalFiles,
            "cannot use the CA file " + s.tls.ca_file + " to verify the broker (" + openssl_errors() + ")"};
  if (SSL_CTX_use_certificate_chain_file(context.get(), s.tls.certificate.c_str()) != 1)
    return {ConnectFailure::LocalFiles, "cannot use our certificate " + s.tls.certificate + " (" + openssl_errors() + ")"};
  if (SSL_CTX_use_PrivateKey_file(context.get(), s.tls.private_key.c_str(), SSL_FILETYPE_PEM) != 1)
    return {ConnectFailure::LocalFiles, "cannot use our private key " + s.tls.private_key + " (" + openssl_errors() + ")"};
  if (SSL_CTX_check_private_key(context.get()) != 1)
    return {ConnectFailure::LocalFiles,
            "our private key " + s.tls.private_key + " does not belong to our certificate " + s.tls.certificate};
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);

  SslPtr ssl(SSL_new(context.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_set1_host(ssl.get(), s.endpoint.host.c_str()) != 1)
    return {ConnectFailure::Unknown, "cannot set up TLS to look closer (" + openssl_errors() + ")"};
  in6_addr ignored{};
  if (::inet_pton(AF_INET, s.endpoint.host.c_str(), &ignored) != 1 && ::inet_pton(AF_INET6, s.endpoint.host.c_str(), &ignored) != 1)
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(s.endpoint.host.c_str()));  // SNI (SSL_set_tlsext_host_name is a macro with a C cast)

  int rc = SSL_connect(ssl.get());
  if (rc == 1) {
    timeval timeout{kVerdictTimeoutMs / 1000, (kVerdictTimeoutMs % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char byte;
    rc = SSL_peek(ssl.get(), &byte, 1);
    int error = SSL_get_error(ssl.get(), rc);
    auto errors = take_errors();
    if (rc <= 0 && (error == SSL_ERROR_SSL || error == SSL_ERROR_ZERO_RETURN)) {
      if (int alert = alert_in(errors); alert >= 0) return rejected_by_alert(s, alert);
      return {ConnectFailure::Unknown, "the broker closed the connection right after the TLS handshake (" +
                                           describe(errors) + ")"};
    }
    return {ConnectFailure::Unknown,
            "a TLS connection with our certificate to " + where(s) +
                " works now: the failure was of the moment (try again), or happened after TLS"};
  }
  auto errors = take_errors();
  long verify = SSL_get_verify_result(ssl.get());
  if (verify != X509_V_OK) {
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
      return {ConnectFailure::ServerNotTrusted, "TLS failed because the broker's certificate is not for '" + s.endpoint.host +
                                                    "' (" + X509_verify_cert_error_string(verify) +
                                                    "): connect with a host name or address that it names"};
    return {ConnectFailure::ServerNotTrusted,
            "TLS failed because the broker's certificate is not trusted by the CA file " + s.tls.ca_file + " (" +
                X509_verify_cert_error_string(verify) + "): that file must hold the CA that issued the broker's certificate"};
  }
  if (int alert = alert_in(errors); alert >= 0) return rejected_by_alert(s, alert);
  return {ConnectFailure::Unknown, "the TLS handshake with " + where(s) + " failed (" + describe(errors) + "): is it a TLS port?"};
}

}  // namespace

ConnectDiagnosis diagnose_connect_failure(const ConnectSettings& settings, int return_code) {
  if (return_code > 0) {
    const bool v5 = settings.protocol == Protocol::V5;
    const std::string connack =
        "CONNACK " + std::to_string(return_code) + " " + connack_name(return_code, settings.protocol);
    if (v5 ? (return_code == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD || return_code == MQTTREASONCODE_NOT_AUTHORIZED)
           : (return_code == 4 || return_code == 5))
      return {ConnectFailure::RefusedByPlugin,
              "the broker accepted the TLS connection but the provisioning plugin refused this certificate (" + connack +
                  "): it is not registered, not active, or revoked, or its claim or CA is disabled; the broker's log says "
                  "which"};
    return {ConnectFailure::RefusedByBroker, "the broker refused the connection (" + connack + ")"};
  }
  try {
    Socket socket;
    if (auto failure = connect_tcp(settings, socket)) return *failure;
    if (auto failure = check_dates(settings)) return *failure;
    return probe_tls(settings, socket.fd);
  } catch (const std::exception& e) {
    return {ConnectFailure::Unknown, std::string("could not look closer: ") + e.what()};
  }
}

}  // namespace provision::mqtt_session
