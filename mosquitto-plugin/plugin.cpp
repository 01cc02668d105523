// The broker-facing entry file: Mosquitto 2.0 plugin API v5 callbacks in,
// Gatekeeper decisions out. Nothing is decided here; every callback catches
// everything, because an exception must never reach the broker.
//
// Mosquitto 2.0.11 facts this relies on: mosquitto_broker.h must
// come before mosquitto_plugin.h; the broker exports the API we call;
// none of it is thread-safe, and everything here runs on the broker thread.
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/x509.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>

#include "gatekeeper.h"
#include "util/handle.h"

namespace {

using provision::plugin::Access;
using provision::plugin::Actions;
using provision::plugin::Gatekeeper;
using provision::plugin::LogLevel;

struct PluginState {
  mosquitto_plugin_id_t* id = nullptr;
  std::unique_ptr<Gatekeeper> gatekeeper;
  provision::plugin::OptionPairs startup_options;  // from mosquitto.conf
};
PluginState g_state;

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void broker_log(LogLevel level, const std::string& message) {
  int mosq_level = MOSQ_LOG_INFO;
  switch (level) {
    case LogLevel::Debug: mosq_level = MOSQ_LOG_DEBUG; break;
    case LogLevel::Info: mosq_level = MOSQ_LOG_INFO; break;
    case LogLevel::Notice: mosq_level = MOSQ_LOG_NOTICE; break;
    case LogLevel::Warning: mosq_level = MOSQ_LOG_WARNING; break;
    case LogLevel::Error: mosq_level = MOSQ_LOG_ERR; break;
  }
  mosquitto_log_printf(mosq_level, "%s", message.c_str());
}

std::string str(const char* s) { return s ? s : ""; }

// Carries out what the gatekeeper decided. Kicks only when allowed (TICK).
void perform(Actions& actions, bool may_kick) {
  for (auto& m : actions.messages) {
    mosquitto_property* properties = nullptr;
    for (const auto& [name, value] : m.user_properties)
      mosquitto_property_add_string_pair(&properties, MQTT_PROP_USER_PROPERTY, name.c_str(), value.c_str());
    int rc = mosquitto_broker_publish_copy(m.client_id.empty() ? nullptr : m.client_id.c_str(), m.topic.c_str(),
                                           static_cast<int>(m.payload.size()), m.payload.data(), m.qos, false, properties);
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_property_free_all(&properties);  // ownership passes to the broker only on success
      broker_log(LogLevel::Warning, "provision: could not publish to " + m.topic + ": " + mosquitto_strerror(rc));
    }
  }
  if (may_kick)
    for (const auto& client_id : actions.kicks) mosquitto_kick_client_by_clientid(client_id.c_str(), false);
}

provision::plugin::UserProperties user_properties(const mosquitto_property* properties) {
  provision::plugin::UserProperties out;
  bool skip_first = false;
  for (const mosquitto_property* p = properties;; skip_first = true) {
    char* name = nullptr;
    char* value = nullptr;
    p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, skip_first);
    // The library allocated both: freed here, also when emplace_back throws.
    provision::Owned<char, mosquitto_free> owned_name(name), owned_value(value);
    if (!p) break;
    out.emplace_back(str(name), str(value));
  }
  return out;
}

int on_basic_auth(int, void* event_data, void*) {
  auto* ed = static_cast<mosquitto_evt_basic_auth*>(event_data);
  try {
    // Ours to free (the broker gives a new reference), also when authenticate throws.
    provision::Owned<X509, X509_free> certificate(static_cast<X509*>(mosquitto_client_certificate(ed->client)));
    provision::plugin::ClientInfo client{ed->client, str(mosquitto_client_id(ed->client)),
                                         str(mosquitto_client_address(ed->client))};
    // Only a client without a certificate is ever taken by its username and password.
    provision::plugin::PasswordLogin login;
    if (!certificate) login = {str(ed->username), str(ed->password)};
    auto result = g_state.gatekeeper->authenticate(client, certificate.get(), static_cast<int64_t>(std::time(nullptr)),
                                                   steady_ms(), login);
    certificate.reset();
    if (!result.allowed) return MOSQ_ERR_AUTH;
    // Identity comes from the certificate; whatever username the client sent
    // (e.g. an AWS SDK metrics string) is replaced, and SIGHUP keeps the client.
    if (mosquitto_set_username(ed->client, result.username.c_str()) != MOSQ_ERR_SUCCESS) {
      g_state.gatekeeper->on_disconnect(ed->client);
      return MOSQ_ERR_AUTH;
    }
    return MOSQ_ERR_SUCCESS;
  } catch (const std::exception& e) {
    broker_log(LogLevel::Error, std::string("provision: authentication failed: ") + e.what());
  } catch (...) {
    broker_log(LogLevel::Error, "provision: authentication failed");
  }
  return MOSQ_ERR_AUTH;
}

int on_acl_check(int, void* event_data, void*) {
  auto* ed = static_cast<mosquitto_evt_acl_check*>(event_data);
  try {
    provision::plugin::AclRequest request;
    switch (ed->access) {
      case MOSQ_ACL_READ: request.access = Access::Read; break;
      case MOSQ_ACL_WRITE: request.access = Access::Write; break;
      case MOSQ_ACL_SUBSCRIBE: request.access = Access::Subscribe; break;
      case MOSQ_ACL_UNSUBSCRIBE: request.access = Access::Unsubscribe; break;
      default: return MOSQ_ERR_ACL_DENIED;
    }
    request.topic = ed->topic ? ed->topic : "";
    request.payload_length = ed->payloadlen;
    request.qos = ed->qos;
    request.retain = ed->retain;
    return g_state.gatekeeper->check_acl(ed->client, request) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
  } catch (...) {
    return MOSQ_ERR_ACL_DENIED;
  }
}

int on_message(int, void* event_data, void*) {
  auto* ed = static_cast<mosquitto_evt_message*>(event_data);
  try {
    Actions actions;
    std::string_view payload(static_cast<const char*>(ed->payload), ed->payloadlen);
    g_state.gatekeeper->on_message(ed->client, ed->topic ? ed->topic : "", payload, ed->qos,
                                   user_properties(ed->properties), steady_ms(), actions);
    perform(actions, false);
  } catch (const std::exception& e) {
    broker_log(LogLevel::Error, std::string("provision: message handling failed: ") + e.what());
  } catch (...) {
    broker_log(LogLevel::Error, "provision: message handling failed");
  }
  // The original message goes on to its topic, where nobody may subscribe.
  return MOSQ_ERR_SUCCESS;
}

int on_tick(int, void*, void*) {
  try {
    Actions actions;
    g_state.gatekeeper->on_tick(steady_ms(), actions, static_cast<int64_t>(std::time(nullptr)));
    perform(actions, true);
  } catch (...) {
  }
  return MOSQ_ERR_SUCCESS;
}

int on_disconnect(int, void* event_data, void*) {
  auto* ed = static_cast<mosquitto_evt_disconnect*>(event_data);
  try {
    Actions actions;  // the last worker's going answers what was pending on it
    g_state.gatekeeper->on_disconnect(ed->client, actions);
    perform(actions, false);
  } catch (...) {
  }
  return MOSQ_ERR_SUCCESS;
}

std::vector<std::pair<std::string, std::string>> option_pairs(const struct mosquitto_opt* options, int count) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < count; ++i) pairs.emplace_back(str(options[i].key), str(options[i].value));
  return pairs;
}

// Mosquitto 2.0 passes no options with RELOAD: the options given at start
// stand, and the options file (if any) is read again.
int on_reload(int, void*, void*) {
  try {
    g_state.gatekeeper->reconfigure(provision::plugin::parse_options(g_state.startup_options));
  } catch (const std::exception& e) {
    broker_log(LogLevel::Error, std::string("provision: new options refused, keeping the old ones: ") + e.what());
  }
  return MOSQ_ERR_SUCCESS;
}

struct Registration {
  int event;
  MOSQ_FUNC_generic_callback callback;
};
constexpr Registration kCallbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, on_basic_auth}, {MOSQ_EVT_ACL_CHECK, on_acl_check}, {MOSQ_EVT_MESSAGE, on_message},
    {MOSQ_EVT_TICK, on_tick},             {MOSQ_EVT_DISCONNECT, on_disconnect}, {MOSQ_EVT_RELOAD, on_reload},
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int mosquitto_plugin_version(int, const int*) { return 5; }

__attribute__((visibility("default"))) int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void**,
                                                                 struct mosquitto_opt* options, int option_count) {
  try {
    g_state.id = identifier;
    g_state.startup_options = option_pairs(options, option_count);
    g_state.gatekeeper = std::make_unique<Gatekeeper>(provision::plugin::parse_options(g_state.startup_options), broker_log);
  } catch (const std::exception& e) {
    broker_log(LogLevel::Error, std::string("provision: cannot start: ") + e.what());
    return MOSQ_ERR_INVAL;
  }
  for (const auto& r : kCallbacks) {
    int rc = mosquitto_callback_register(identifier, r.event, r.callback, nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      broker_log(LogLevel::Error, std::string("provision: cannot register a callback: ") + mosquitto_strerror(rc));
      return rc;
    }
  }
  broker_log(LogLevel::Notice, "provision: plugin loaded, registry " + g_state.gatekeeper->options().registry);
  return MOSQ_ERR_SUCCESS;
}

__attribute__((visibility("default"))) int mosquitto_plugin_cleanup(void*, struct mosquitto_opt*, int) {
  for (const auto& r : kCallbacks) mosquitto_callback_unregister(g_state.id, r.event, r.callback, nullptr);
  g_state.gatekeeper.reset();
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
