#pragma once
// Cryptographically secure randomness (OpenSSL's DRBG).
#include <cstddef>
#include <string>

namespace provision {

// `count` random bytes; throws Error when the DRBG fails.
std::string random_bytes(size_t count);
// A random token of `bytes` bytes of entropy, base64url encoded.
std::string random_token(size_t bytes = 32);
// A random (version 4) UUID, lowercase: 8-4-4-4-12 hex digits.
std::string random_uuid();

}  // namespace provision
