#include "routing.h"

#include "protocol/payloads.h"
#include "util/encoding.h"
#include "util/random.h"

namespace provision::plugin {

Router::Router(const Options& options, protocol::InternalTopics internal)
    : options_(options), internal_(std::move(internal)), nonce_(to_hex(random_bytes(6))) {}

std::string Router::next_request_id() { return nonce_ + "-" + std::to_string(++counter_); }

void Router::deliver(const Pending& p, bool accepted, std::string payload, Actions& out) {
  if (current_connection && current_connection(p.origin.who.client_id) != p.origin.connection) return;
  OutgoingMessage m;
  m.client_id = p.origin.who.client_id;
  m.topic = protocol::reply_topic(p.request, accepted);
  m.payload = std::move(payload);
  m.qos = p.qos;
  out.messages.push_back(std::move(m));
}

void Router::reject(const Pending& p, int status, const std::string& code, const std::string& message, Actions& out) {
  deliver(p, false, protocol::encode_rejection({status, code, message}, p.request.format), out);
}

bool Router::on_request(const RequestOrigin& origin, const protocol::RequestTopic& request, std::string_view payload,
                        int qos, int64_t now_ms, int& in_flight, Actions& out) {
  Pending p{origin, request, qos > 1 ? 1 : qos, now_ms + options_.reply_timeout_ms};
  if (in_flight >= options_.max_pending_per_client) {
    reject(p, 429, "Throttled",
           "too many requests in flight on this connection (limit " + std::to_string(options_.max_pending_per_client) +
               "); wait for the replies",
           out);
    return false;
  }
  if (pending_.size() >= static_cast<size_t>(options_.max_pending_total)) {
    reject(p, 503, "ServiceUnavailable", "the provisioning service is saturated; retry later", out);
    return false;
  }
  std::string id = next_request_id();
  protocol::InternalRequest forwarded = origin.who;
  forwarded.request_id = id;
  forwarded.topic = request;
  OutgoingMessage m;
  m.topic = internal_.requests;
  m.payload = std::string(payload);
  m.qos = 1;
  m.user_properties = protocol::encode(forwarded);
  out.messages.push_back(std::move(m));
  deadlines_.emplace_back(p.deadline_ms, id);
  pending_.emplace(std::move(id), std::move(p));
  ++in_flight;
  return true;
}

void Router::reject_now(const RequestOrigin& origin, const protocol::RequestTopic& request, int qos, int status,
                        const std::string& code, const std::string& message, Actions& out) {
  reject(Pending{origin, request, qos > 1 ? 1 : qos, 0}, status, code, message, out);
}

bool Router::on_reply(const UserProperties& properties, std::string_view payload, Actions& out) {
  auto reply = protocol::decode_reply(protocol::lookup_in(properties));
  if (!reply) return false;
  auto it = pending_.find(reply->request_id);
  if (it == pending_.end()) return false;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (on_settled) on_settled(p.origin.connection);
  deliver(p, reply->accepted, std::string(payload), out);
  return true;
}

void Router::expire(int64_t now_ms, Actions& out) {
  while (!deadlines_.empty() && deadlines_.front().first <= now_ms) {
    auto it = pending_.find(deadlines_.front().second);
    deadlines_.pop_front();
    if (it == pending_.end()) continue;  // answered or forgotten already
    Pending p = std::move(it->second);
    pending_.erase(it);
    if (on_settled) on_settled(p.origin.connection);
    reject(p, 503, "ServiceUnavailable",
           "no provisioning worker answered within " + std::to_string(options_.reply_timeout_ms) + " ms", out);
  }
}

void Router::reject_all(int status, const std::string& code, const std::string& message, Actions& out) {
  auto pending = std::move(pending_);
  pending_.clear();
  deadlines_.clear();
  for (auto& [id, p] : pending) {
    if (on_settled) on_settled(p.origin.connection);
    reject(p, status, code, message, out);
  }
}

void Router::forget(const void* connection) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.origin.connection == connection) it = pending_.erase(it);
    else ++it;
  }
}

}  // namespace provision::plugin
