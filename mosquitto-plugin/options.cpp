#include "options.h"

#include <charconv>

#include "util/error.h"
#include "util/files.h"

#include <sstream>

namespace provision::plugin {

Rate parse_rate(const std::string& key, const std::string& text) {
  auto rate = provision::parse_rate(text);
  if (!rate) throw Error("plugin_opt_" + key + ": expected RATE or RATE/BURST (per second), got '" + text + "'");
  return *rate;
}

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

OptionPairs read_options_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw Error(std::string("plugin_opt_options_file: ") + e.what());
  }
  OptionPairs pairs;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    auto begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos || line[begin] == '#') continue;
    auto end = line.find_last_not_of(" \t\r");
    line = line.substr(begin, end - begin + 1);
    auto space = line.find_first_of(" \t");
    if (space == std::string::npos)
      throw Error(path + ":" + std::to_string(number) + ": expected 'name value', got '" + line + "'");
    std::string name = line.substr(0, space);
    if (name.starts_with("plugin_opt_")) name = name.substr(11);
    if (name == "options_file" || name == "registry" || name == "internal_prefix" || name == "trust_dir")
      throw Error(path + ":" + std::to_string(number) + ": " + name + " belongs in mosquitto.conf");
    pairs.emplace_back(name, line.substr(line.find_first_not_of(" \t", space)));
  }
  return pairs;
}

Options parse_options(const OptionPairs& given) {
  OptionPairs pairs = given;
  for (const auto& [key, value] : given)
    if (key == "options_file") {
      auto more = read_options_file(value);
      pairs.insert(pairs.end(), more.begin(), more.end());
    }
  Options o;
  for (const auto& [key, value] : pairs) {
    if (key == "registry") o.registry = value;
    else if (key == "options_file") o.options_file = value;
    else if (key == "trust_dir") o.trust_dir = value;
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
    else if (key == "client_id_must_be_thing_name") o.client_id_must_be_thing_name = to_bool(key, value);
    else if (key == "password_devices") o.password_devices = to_bool(key, value);
    else if (key == "connect_rate_per_claim") o.connect_rate_per_claim = parse_rate(key, value);
    else if (key == "connect_rate_per_address") o.connect_rate_per_address = parse_rate(key, value);
    else if (key == "request_rate_per_claim") o.request_rate_per_claim = parse_rate(key, value);
    else if (key == "request_rate_per_address") o.request_rate_per_address = parse_rate(key, value);
    else if (key == "rejection_rate_per_client") o.rejection_rate_per_client = parse_rate(key, value);
    else throw Error("unknown option plugin_opt_" + key);
  }
  if (o.registry.empty()) throw Error("plugin_opt_registry is required (the registry file, or a postgresql:// URI)");
  return o;
}

}  // namespace provision::plugin
