#pragma once
// Request/response routing between devices and workers (docs/architecture.md,
// "A request's path").
//
// A device's request is forwarded to the workers' internal request topic with
// a fresh request id and what only the plugin knows (client id, claim
// certificate id, source address) as user properties. The worker's reply
// names that request id; the router delivers it to the one connection that
// asked, on the reply topic of the alias and format it used, and only while
// that connection is still the one holding the client id. Requests no worker
// answers in time get a 503 rejected reply: a device is never left waiting
// (and the gatekeeper answers at once while no worker is linked).
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

#include "actions.h"
#include "options.h"
#include "protocol/internal_messages.h"
#include "protocol/topics.h"

namespace provision::plugin {

// Who asks: the connection, and what the plugin tells the workers about it
// (everything of protocol::InternalRequest but the request id and topic).
struct RequestOrigin {
  const void* connection = nullptr;
  protocol::InternalRequest who;
};

class Router {
 public:
  Router(const Options& options, protocol::InternalTopics internal);

  // Forwards a request (or answers it with a rejection when limits are hit:
  // then returns false). `in_flight` is the connection's count of unanswered
  // requests; the router increments it on forward and the owner decrements
  // it via `on_settled`.
  bool on_request(const RequestOrigin& origin, const protocol::RequestTopic& request, std::string_view payload, int qos,
                  int64_t now_ms, int& in_flight, Actions& out);

  // A worker's reply. Returns false when the reply matched no pending
  // request (unknown, late, or already answered).
  bool on_reply(const UserProperties& properties, std::string_view payload, Actions& out);

  // Answers a request with a rejection without forwarding it (e.g. rate limits).
  void reject_now(const RequestOrigin& origin, const protocol::RequestTopic& request, int qos, int status,
                  const std::string& code, const std::string& message, Actions& out);

  // Rejects requests whose deadline passed.
  void expire(int64_t now_ms, Actions& out);
  // Rejects every pending request at once (e.g. no worker is left to answer).
  void reject_all(int status, const std::string& code, const std::string& message, Actions& out);
  // Drops every pending request of a connection that went away.
  void forget(const void* connection);

  // Called whenever a request of `connection` is settled (answered, expired
  // or forgotten), so that its in-flight count can be decremented.
  std::function<void(const void* connection)> on_settled;
  // Which connection holds a client id now (nullptr if none). Replies go
  // only to the connection that asked, never to one that took its id over.
  std::function<const void*(const std::string& client_id)> current_connection;

  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    RequestOrigin origin;
    protocol::RequestTopic request;
    int qos = 0;
    int64_t deadline_ms = 0;
  };
  void deliver(const Pending& pending, bool accepted, std::string payload, Actions& out);
  void reject(const Pending& pending, int status, const std::string& code, const std::string& message, Actions& out);
  std::string next_request_id();

  const Options& options_;
  protocol::InternalTopics internal_;
  std::string nonce_;
  uint64_t counter_ = 0;
  std::unordered_map<std::string, Pending> pending_;
  std::deque<std::pair<int64_t, std::string>> deadlines_;  // (deadline, request id), in order
};

}  // namespace provision::plugin
