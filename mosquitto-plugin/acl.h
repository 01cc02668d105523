#pragma once
// Topic access decisions per identity (docs/architecture.md, "The plugin"):
//  - claims: only the provisioning request topics they may use, and the
//    matching reply topics; QoS <= 1, not retained, bounded payload;
//  - devices: what their policies allow, never the provisioning or internal topics;
//  - the service: only the internal request and reply topics.
// Nobody may publish on a reply topic or subscribe to a request topic: only
// the plugin delivers replies, each to the one connection that asked.
#include <cstdint>
#include <string_view>

#include "identity.h"
#include "options.h"
#include "protocol/topics.h"

namespace provision::plugin {

enum class Access { Read, Write, Subscribe, Unsubscribe };

struct AclRequest {
  Access access = Access::Read;
  std::string_view topic;
  uint32_t payload_length = 0;
  int qos = 0;
  bool retain = false;
};

bool decide_acl(const Identity& identity, const AclRequest& request, const Options& options,
                const protocol::InternalTopics& internal);

// Whether a subscription filter takes the workers' requests: the internal
// request topic itself or a shared subscription to it ("$share/<group>/...").
bool takes_requests(std::string_view filter, const protocol::InternalTopics& internal);

// Whether this identity may send this request topic (also used by the router).
bool claim_may_request(const Identity& identity, const protocol::RequestTopic& request, const Options& options);

}  // namespace provision::plugin
