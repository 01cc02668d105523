#include "util/random.h"

#include <openssl/rand.h>

#include "util/encoding.h"
#include "util/error.h"

namespace provision {

std::string random_bytes(size_t count) {
  std::string out(count, '\0');
  if (count && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1)
    throw Error("random number generator failed");
  return out;
}

std::string random_token(size_t bytes) { return base64url(random_bytes(bytes)); }

}  // namespace provision
