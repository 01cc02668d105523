#pragma once
// Private keys (OpenSSL 3 EVP_PKEY), EC P-256 by default.
#include <openssl/evp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "util/handle.h"

namespace provision::pki {

using EvpPkeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;

class PrivateKey {
 public:
  // A fresh key on a named EC curve ("P-256" or "P-384").
  static PrivateKey generate_ec(std::string_view curve = "P-256");
  // PKCS#8 or traditional PEM, unencrypted; throws Error naming the problem.
  static PrivateKey from_pem(std::string_view pem);
  static PrivateKey load(const std::filesystem::path& path);

  // Unencrypted PKCS#8 PEM.
  std::string to_pem() const;
  // The public half as SubjectPublicKeyInfo PEM.
  std::string public_key_pem() const;
  EVP_PKEY* get() const { return key_.get(); }

  explicit PrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {}

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace provision::pki
