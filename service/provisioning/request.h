#pragma once
// One provisioning request as a worker receives it from the plugin, and the
// reply it sends back.
#include <string>

#include "protocol/internal_messages.h"

namespace provision::service {

// Who asked and on which topic (set by the plugin only: a device's own user
// properties are never forwarded; core/protocol/internal_messages.h), and
// what it sent.
struct IncomingRequest : protocol::InternalRequest {
  std::string payload;
};

struct Reply {
  bool accepted = false;
  std::string payload;     // encoded in the request's format
  std::string error_code;  // empty when accepted
  // Not answered: it must wait on a pre-provisioning hook, and the caller
  // said it may not (ProvisioningService::handle). Nothing was written.
  bool waits_on_hook = false;
};

}  // namespace provision::service
