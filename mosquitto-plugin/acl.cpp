#include "acl.h"

#include <algorithm>
#include <optional>

#include "policy/topic_filter.h"

namespace provision::plugin {
namespace {

using protocol::Format;
using protocol::Operation;

bool claim_acl(const Identity& identity, const AclRequest& r, const Options& options) {
  switch (r.access) {
    case Access::Write: {
      auto request = protocol::parse_request_topic(r.topic);
      return request && claim_may_request(identity, *request, options) && r.qos <= 1 && !r.retain &&
             r.payload_length <= options.max_payload;
    }
    case Access::Read: {
      auto reply = protocol::parse_reply_topic(r.topic);
      return reply && claim_may_request(identity, reply->request, options);
    }
    case Access::Subscribe: {
      // Exactly a reply topic, or "<request topic>/+" (both replies).
      if (auto reply = protocol::parse_reply_topic(r.topic)) return claim_may_request(identity, reply->request, options);
      if (r.topic.ends_with("/+")) {
        auto request = protocol::parse_request_topic(r.topic.substr(0, r.topic.size() - 2));
        return request && claim_may_request(identity, *request, options);
      }
      return false;
    }
    case Access::Unsubscribe: return true;
  }
  return false;
}

// A shared subscription "$share/<group>/<filter>", as Mosquitto hands it to
// the ACL check: the group and the filter it really subscribes to. nullopt
// for a malformed one (no group, a wildcard in the group, or no filter).
struct SharedSubscription {
  std::string_view group, filter;
};
std::optional<SharedSubscription> split_shared(std::string_view topic) {
  if (!topic.starts_with("$share/")) return std::nullopt;
  auto rest = topic.substr(7);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) return std::nullopt;
  auto group = rest.substr(0, slash);
  if (group.find_first_of("+#") != std::string_view::npos) return std::nullopt;
  return SharedSubscription{group, rest.substr(slash + 1)};
}

// Clients that may use exactly one provisioning operation: its requests,
// their replies and the subscriptions to them. Devices reach the provisioning
// namespace only to renew their certificate and to check for firmware
// updates (two operations); factory servers only publish
// enrollments (and read their acknowledgements).
bool single_operation_acl(const AclRequest& r, const Options& options, Operation operation,
                          std::optional<Operation> or_operation = std::nullopt) {
  auto is_operation = [operation, or_operation](const std::optional<protocol::RequestTopic>& t) {
    return t && (t->operation == operation || (or_operation && t->operation == *or_operation));
  };
  switch (r.access) {
    case Access::Write:
      return is_operation(protocol::parse_request_topic(r.topic)) && r.qos <= 1 && !r.retain &&
             r.payload_length <= options.max_payload;
    case Access::Read: {
      auto reply = protocol::parse_reply_topic(r.topic);
      return reply && is_operation(reply->request);
    }
    case Access::Subscribe: {
      if (auto reply = protocol::parse_reply_topic(r.topic)) return is_operation(reply->request);
      return r.topic.ends_with("/+") && is_operation(protocol::parse_request_topic(r.topic.substr(0, r.topic.size() - 2)));
    }
    case Access::Unsubscribe: return true;
  }
  return false;
}

bool device_acl(const Identity& identity, const AclRequest& r, const Options& options,
                const protocol::InternalTopics& internal) {
  if (r.access == Access::Unsubscribe) return true;
  if (!identity.principal) return false;
  if (protocol::in_provisioning_namespace(r.topic))
    return single_operation_acl(r, options, Operation::RenewCertificate, Operation::CheckFirmware);
  if (r.access == Access::Subscribe) {
    // Decide on the filter a shared subscription really takes: otherwise
    // "$share/g/_provision/requests" would let a device take requests away
    // from the workers.
    std::string_view filter = r.topic;
    if (r.topic.starts_with("$share/")) {
      auto shared = split_shared(r.topic);
      if (!shared) return false;
      filter = shared->filter;
    }
    if (policy::filters_intersect(filter, internal.prefix + "/#")) return false;  // "a/#" also matches "a"
    if (policy::filters_intersect(filter, "$provision/#") || policy::filters_intersect(filter, "$aws/certificates/#") ||
        policy::filters_intersect(filter, "$aws/provisioning-templates/#"))
      return false;
    return identity.principal->allows(policy::Action::Subscribe, filter);
  }
  if (internal.contains(r.topic) || protocol::in_provisioning_namespace(r.topic)) return false;
  return identity.principal->allows(r.access == Access::Write ? policy::Action::Publish : policy::Action::Receive, r.topic);
}

bool service_acl(const AclRequest& r, const protocol::InternalTopics& internal) {
  switch (r.access) {
    case Access::Write: return r.topic == internal.replies && !r.retain;
    case Access::Read: return r.topic == internal.requests || r.topic == internal.events;
    case Access::Subscribe: {
      if (r.topic == internal.requests || r.topic == internal.events) return true;
      auto shared = split_shared(r.topic);  // any group name
      return shared && (shared->filter == internal.requests || shared->filter == internal.events);
    }
    case Access::Unsubscribe: return true;
  }
  return false;
}

}  // namespace

bool takes_requests(std::string_view filter, const protocol::InternalTopics& internal) {
  if (filter == internal.requests) return true;
  auto shared = split_shared(filter);
  return shared && shared->filter == internal.requests;
}

bool claim_may_request(const Identity& identity, const protocol::RequestTopic& request, const Options& options) {
  if (!identity.provisioning()) return false;
  if (request.alias == protocol::Alias::Aws && !options.aws_topics) return false;
  switch (request.operation) {
    case Operation::CreateKeysAndCertificate:
    case Operation::CreateCertificateFromCsr: return true;
    case Operation::RegisterThing: {
      const auto& allowed = identity.allowed_templates;
      return std::find(allowed.begin(), allowed.end(), request.template_name) != allowed.end();
    }
    case Operation::RenewCertificate:   // devices only
    case Operation::PublishEnrollment:  // factories only
    case Operation::CheckFirmware:      // devices only
      return false;
  }
  return false;
}

bool decide_acl(const Identity& identity, const AclRequest& request, const Options& options,
                const protocol::InternalTopics& internal) {
  switch (identity.role) {
    case Role::Claim:
    case Role::Enrollment: return claim_acl(identity, request, options);
    case Role::Device: return device_acl(identity, request, options, internal);
    case Role::Service: return service_acl(request, internal);
    case Role::Factory: return single_operation_acl(request, options, Operation::PublishEnrollment);
  }
  return false;
}

}  // namespace provision::plugin
