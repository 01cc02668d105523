#pragma once
// Certificate ownership tokens (docs/protocol.md, "Payloads"): what a
// device gets with its new certificate and gives back to RegisterThing.
//
// A token is "<certificateId>.<secret>" (32 random bytes, base64url): it
// names the certificate it is bound to, whose registry row holds the
// token's SHA-256, its expiry and its use. Finding it costs one lookup by
// the certificate's primary key, and issuing one writes nothing but that
// row. Tokens issued before registry schema 5 are random strings without a
// '.', kept hashed in ownership_tokens until they expire.
#include <optional>
#include <string>
#include <string_view>

#include "util/encoding.h"
#include "util/random.h"

namespace provision::service {

struct NewOwnershipToken {
  std::string token;  // for the device, once
  std::string hash;   // for the registry
};

inline NewOwnershipToken new_ownership_token(std::string_view certificate_id) {
  NewOwnershipToken t;
  t.token = std::string(certificate_id) + "." + random_token(32);
  t.hash = sha256_hex(t.token);
  return t;
}

// The certificate a token names; nullopt for a token of the older kind.
inline std::optional<std::string> certificate_named_by(std::string_view token) {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  return std::string(token.substr(0, dot));
}

}  // namespace provision::service
