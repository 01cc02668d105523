#pragma once
// Why a connect failed, in words a person can act on. Paho says only
// "MQTT error [-1]: TCP/TLS connect failure" whatever went wrong before
// MQTT (nothing listening, either side's certificate not trusted, our
// certificate out of date) and "MQTT error [135]" when the broker refused us;
// the broker's log knows more, but the person at the device does not have
// it. After a failure this looks again, once: a TCP connect, our certificate
// read locally, and a TLS handshake of its own with OpenSSL.
#include <string>

namespace provision::mqtt_session {

struct ConnectSettings;

enum class ConnectFailure {
  CannotResolve,             // the host name does not resolve
  NothingListening,          // connection refused at host:port
  Unreachable,               // no answer from host:port (timeout, no route)
  LocalFiles,                // our CA file, certificate or key cannot be used
  CertificateExpired,        // our certificate's notAfter has passed
  CertificateNotYetValid,    // our certificate's notBefore is still ahead (or this clock is wrong)
  ServerNotTrusted,          // TLS: the broker's certificate does not verify with our CA file (or names another host)
  ClientCertificateRejected, // TLS: the broker did not accept our certificate (its CA is not trusted there)
  RefusedByPlugin,           // CONNACK 134/135 (3.1.1: 4/5): TLS was fine, the provisioning plugin refused this certificate
  RefusedByBroker,           // another CONNACK refusal
  Unknown,                   // TLS with our certificate works now: a failure of the moment, or something else
};

struct ConnectDiagnosis {
  ConnectFailure failure = ConnectFailure::Unknown;
  std::string explanation;  // one sentence or two, naming the host, port and files concerned
};

// `return_code` is Paho's for the failed connect: negative when no CONNACK
// came, else the CONNACK's reason (MQTT 5) or return code (3.1.1).
ConnectDiagnosis diagnose_connect_failure(const ConnectSettings& settings, int return_code);

}  // namespace provision::mqtt_session
