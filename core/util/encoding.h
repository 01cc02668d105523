#pragma once
// Byte encodings and digests used across the project.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace provision {

std::string to_hex(std::span<const unsigned char> bytes);
inline std::string to_hex(std::string_view bytes) {
  return to_hex({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()});
}
// Lowercase hex SHA-256 of `data` (certificate ids, token hashes).
std::string sha256_hex(std::string_view data);
// Raw HMAC-SHA256.
std::string hmac_sha256(std::string_view key, std::string_view data);
// RFC 4648 base64url without padding.
std::string base64url(std::string_view bytes);
// Constant-time comparison of two equal-length secrets or digests.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace provision
