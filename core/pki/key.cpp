#include "pki/key.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>

#include "pki/openssl_support.h"
#include "util/error.h"
#include "util/files.h"

namespace provision::pki {

using namespace detail;

namespace {

struct EvpPkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree>;

}  // namespace

PrivateKey PrivateKey::generate_ec(std::string_view curve) {
  const std::string group(curve);
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx) fail("cannot create an EC key generation context");
  if (EVP_PKEY_keygen_init(ctx.get()) != 1) fail("cannot initialise EC key generation");
  if (EVP_PKEY_CTX_set_group_name(ctx.get(), group.c_str()) != 1)
    fail("unknown EC curve '" + group + "'");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) fail("cannot generate an EC key on " + group);
  return PrivateKey(EvpPkeyPtr(raw));
}

PrivateKey PrivateKey::from_pem(std::string_view pem) {
  if (pem.empty()) throw Error("cannot parse private key: empty input");
  if (pem.find("ENCRYPTED") != std::string_view::npos)
    throw Error("cannot parse private key: encrypted keys are not supported");
  BioPtr bio = memory_bio(pem);
  ERR_clear_error();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) fail("cannot parse private key PEM");
  return PrivateKey(std::move(key));
}

PrivateKey PrivateKey::load(const std::filesystem::path& path) {
  const std::string pem = read_file(path);
  try {
    return from_pem(pem);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

std::string PrivateKey::to_pem() const {
  BioPtr bio = output_bio();
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1)
    fail("cannot encode private key as PKCS#8 PEM");
  return bio_contents(bio.get());
}

std::string PrivateKey::public_key_pem() const {
  BioPtr bio = output_bio();
  if (PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) fail("cannot encode public key as PEM");
  return bio_contents(bio.get());
}

}  // namespace provision::pki
