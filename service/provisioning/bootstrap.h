#pragma once
// HTTP bootstrap by MAC address (docs/bootstrap.md): a device without a
// certificate registers through its factory enrollment (registration id =
// its normalised MAC) and the enrollment's template, with the same
// registration code as RegisterThing (evaluate_template, the enrollment's
// attributes and configuration, broker assignment, apply_plan,
// mark_enrollment_used), and gets a password credential instead of a
// certificate.
#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "registry/registry.h"

namespace provision::service {

// "AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aabbccddeeff", "AABB.CCDD.EEFF"
// -> "AA:BB:CC:DD:EE:FF"; nullopt for anything else.
std::optional<std::string> normalise_mac(std::string_view text);

struct BootstrapInput {
  std::string mac;  // normalised
  std::string firmware_version, hardware_version;
  std::string source;  // the client's address, for the audit log
  // A device that can hold a key sends a CSR: it also gets a certificate
  // for its thing (with the same policies), when its thing has no active one.
  std::optional<std::string> csr_pem;
  // A signed request (docs/bootstrap.md, "Signed requests"): the
  // X-Provision-Timestamp and X-Provision-Signature headers and the body
  // they sign, checked against the enrollment's bootstrap key. The door
  // refuses a stale timestamp before any lookup.
  struct Signature {
    int64_t timestamp = 0;  // Unix seconds
    std::string value;      // "sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>"
    std::string body;
  };
  std::optional<Signature> signature;
};

// How far a signed request's timestamp may be from the service's clock.
inline constexpr int64_t kSignatureWindowSeconds = 300;

struct BootstrapResult {
  bool signed_request = false;  // the enrollment's bootstrap key signed it: the secret is always returned
  std::string thing_name, device_uuid;
  // The secret, returned until the device first connects with it: each call
  // before that issues a new one (only its hash is kept) and the previous
  // one stops working. After the first connect: nullopt, until an admin rotates it.
  std::optional<std::string> secret;
  bool registered = false;  // this call registered the device
  rapidjson::Document device_configuration;
  std::optional<registry::BrokerRecord> broker;
  // For a CSR: the certificate issued, and the fleet CA's certificate.
  std::optional<std::string> certificate_id, certificate_pem, ca_pem;
};

// The one answer for a MAC that is not enrolled, not enabled or has no
// template: RequestError(404, "DeviceNotFound") with the same message.
[[noreturn]] void unknown_device();

// A new secret: 32 random bytes, base64url (256 bits); the registry keeps its SHA-256.
std::string new_device_secret();

}  // namespace provision::service
