#include "options.h"

#include <charconv>

#include "util/error.h"

namespace provision::plugin {
namespace {

int64_t to_int(const std::string& key, const std::string& value, int64_t min, int64_t max) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size() || out < min || out > max)
    throw Error("plugin_opt_" + key + ": expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                "], got '" + value + "'");
  return out;
}

bool to_bool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1" || value == "yes") return true;
  if (value == "false" || value == "0" || value == "no") return false;
  throw Error("plugin_opt_" + key + ": expected true or false, got '" + value + "'");
}

}  // namespace

Options parse_options(const std::vector<std::pair<std::string, std::string>>& pairs) {
  Options o;
  for (const auto& [key, value] : pairs) {
    if (key == "registry") o.registry = value;
    else if (key == "internal_prefix") {
      if (value.empty() || value[0] == '$' || value.find_first_of("+#") != std::string::npos)
        throw Error("plugin_opt_internal_prefix: must be non-empty, not start with '$' and hold no wildcard");
      o.internal_prefix = value;
    }
    else if (key == "max_payload") o.max_payload = static_cast<uint32_t>(to_int(key, value, 256, 1 << 20));
    else if (key == "reply_timeout_ms") o.reply_timeout_ms = to_int(key, value, 100, 600000);
    else if (key == "max_pending_per_client") o.max_pending_per_client = static_cast<int>(to_int(key, value, 1, 1000));
    else if (key == "max_pending_total") o.max_pending_total = static_cast<int>(to_int(key, value, 1, 10000000));
    else if (key == "aws_topics") o.aws_topics = to_bool(key, value);
    else if (key == "registry_poll_ms") o.registry_poll_ms = to_int(key, value, 10, 60000);
    else throw Error("unknown option plugin_opt_" + key);
  }
  if (o.registry.empty()) throw Error("plugin_opt_registry is required (path of the registry file)");
  return o;
}

}  // namespace provision::plugin
