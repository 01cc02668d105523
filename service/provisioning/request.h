#pragma once
// One provisioning request as a worker receives it from the plugin, and the
// reply it sends back.
#include <string>

#include "protocol/topics.h"

namespace provision::service {

struct IncomingRequest {
  std::string request_id;
  protocol::RequestTopic topic;
  std::string payload;
  // Set by the plugin only (a device's own user properties are never forwarded).
  std::string client_id;
  std::string claim_certificate_id;  // the requester's certificate (claim, enrollment or device)
  std::string source_address;
  std::string identity;              // "claim" | "enrollment" | "device"
  std::string thing_name;            // devices
  std::string registration_id;       // enrollments: from their certificate
  std::string issuer_id;             // enrollments: their manufacturer CA
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
