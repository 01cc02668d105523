#pragma once
// What the decision code asks the broker to do. The entry file (plugin.cpp)
// carries these out with the broker API, on the broker thread.
#include <string>
#include <utility>
#include <vector>

#include "protocol/internal_messages.h"

namespace provision::plugin {

using UserProperties = protocol::UserProperties;

struct OutgoingMessage {
  std::string client_id;  // deliver to this one client; empty = to matching subscribers
  std::string topic;
  std::string payload;
  int qos = 0;
  UserProperties user_properties;
};

enum class LogLevel { Debug, Info, Notice, Warning, Error };

struct Actions {
  std::vector<OutgoingMessage> messages;
  std::vector<std::string> kicks;  // client ids to disconnect (done on TICK only)
};

}  // namespace provision::plugin
