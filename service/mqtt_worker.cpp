#include "mqtt_worker.h"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "metrics.h"
#include "mqtt_session/session.h"
#include "protocol/payloads.h"
#include "registry_pool.h"
#include "worker_pool.h"

namespace provision::service {

namespace property = protocol::property;

namespace {

// A message's user properties, read in one pass over Paho's C array. Looking
// each one up through mqtt::get<> would copy every pair and rescan the list
// per lookup (about ten lookups of ten properties per request).
class UserProperties {
 public:
  explicit UserProperties(const mqtt::properties& props) {
    const MQTTProperties& list = props.c_struct();
    for (int i = 0; i < list.count; ++i) {
      const MQTTProperty& p = list.array[i];
      if (p.identifier == MQTTPROPERTY_CODE_USER_PROPERTY)
        pairs_.emplace_back(view(p.value.data), view(p.value.value));
    }
  }
  // The first value named `name`, "" when there is none.
  std::string operator[](std::string_view name) const {
    for (const auto& [n, v] : pairs_)
      if (n == name) return std::string(v);
    return {};
  }

 private:
  static std::string_view view(const MQTTLenString& s) {
    return s.data ? std::string_view(s.data, static_cast<size_t>(s.len)) : std::string_view();
  }
  std::vector<std::pair<std::string_view, std::string_view>> pairs_;
};

mqtt_client::ConnectSettings connect_settings(const ServiceConfig& c) {
  mqtt_client::ConnectSettings s;
  s.endpoint = {c.mqtt_host, c.mqtt_port};
  s.tls = {c.mqtt_ca_file.string(), c.mqtt_certificate.string(), c.mqtt_key.string()};
  s.client_id = c.mqtt_client_id;
  s.auto_reconnect = true;
  return s;
}

// A request to answer, or an event the plugin reported.
struct WorkItem {
  IncomingRequest request;
  std::string event;  // non-empty for events
  std::string certificate_id;
};

}  // namespace

// Every request thread shares this many registry connections (see registry_pool.h).
constexpr int kRequestRegistryConnections = 1;

struct MqttWorker::Impl : public virtual mqtt::callback {
  Impl(const ServiceConfig& c, ProvisioningService& s)
      : config(c),
        service(s),
        internal(c.internal_prefix),
        settings(connect_settings(c)),
        options(settings),
        client(settings.endpoint.uri(), settings.client_id, mqtt::create_options(MQTTVERSION_5), nullptr),
        registries([this] { return open_request_registry(); }, kRequestRegistryConnections),
        pool(c.worker_threads, [this](WorkItem& item) { process_safely(item); }),
        registrations(c.registration_threads, [this](WorkItem& item) { process_safely(item); }) {
    client.set_callback(*this);
  }

  // Requests never run a WAL checkpoint (and its fsync): serve() does, from
  // its housekeeping thread. The requests' one connection keeps a larger page
  // cache than the default: the registry's indexes on random ids (certificate
  // ids, token hashes) spread each device's writes over many pages.
  registry::Registry open_request_registry() {
    auto registry = registry::Registry::open(config.registry);
    registry.database().disable_auto_checkpoint();
    registry.database().exec("PRAGMA cache_size=-8192");
    return registry;
  }

  // Paho callbacks: never block here.
  void connected(const std::string&) override {
    // Paho never sets TCP_NODELAY: without it each reply waits ~40 ms on Nagle.
    mqtt_client::disable_nagle_towards(settings.endpoint);
    spdlog::info("connected to {}; subscribing to {}", settings.endpoint.uri(), internal.shared_requests(config.shared_group));
    auto topics = mqtt::string_collection::create(
        {internal.shared_requests(config.shared_group), internal.shared_events(config.shared_group)});
    // Requests at QoS 0: the worker's session is clean, so a request in flight
    // when the connection drops is lost at QoS 1 too, and TCP already delivers
    // everything else; the device gets a 503 when no reply comes and asks
    // again. QoS 1 cost a PUBACK each way per message (about 9 % of
    // provisiond's CPU). Events have no such retry: they stay at QoS 1.
    client.subscribe(topics, std::vector<int>{0, 1}, nullptr, subscribe_listener);
  }
  void connection_lost(const std::string& cause) override {
    spdlog::warn("connection to the broker lost ({}); reconnecting", cause.empty() ? "no reason given" : cause);
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    const UserProperties props(msg->get_properties());
    if (msg->get_topic() == internal.events) {
      WorkItem item;
      item.event = props[property::kEvent];
      item.certificate_id = props[property::kCertificateId];
      pool.submit(std::move(item));
      return;
    }
    WorkItem item;
    IncomingRequest& request = item.request;
    request.request_id = props[property::kRequestId];
    auto topic = protocol::parse_request_topic(props[property::kRequestTopic]);
    if (request.request_id.empty() || !topic) {
      spdlog::warn("ignored a message on {} without a request id or request topic", msg->get_topic());
      return;
    }
    request.topic = *topic;
    request.payload = msg->to_string();
    request.client_id = props[property::kClientId];
    request.claim_certificate_id = props[property::kClaimId];
    request.source_address = props[property::kSourceAddress];
    request.identity = props[property::kIdentity];
    request.thing_name = props[property::kThingName];
    request.registration_id = props[property::kRegistrationId];
    request.issuer_id = props[property::kIssuerId];
    if (request.identity == "device") request.claim_certificate_id = props[property::kCertificateId];
    if (request.identity == "factory") request.claim_certificate_id = props[property::kClaimId];
    // Registrations may wait on a pre-provisioning hook for seconds: they have
    // their own, larger pool, so that certificate requests never queue behind them.
    if (request.topic.operation == protocol::Operation::RegisterThing) registrations.submit(std::move(item));
    else pool.submit(std::move(item));
  }

  void process_safely(const WorkItem& item) {
    try {
      RegistryAccess access(registries);
      process(access, item);
    } catch (const std::exception& e) {
      spdlog::error("work item failed: {}", e.what());
    }
  }

  void process(RegistryAccess& access, const WorkItem& item) {
    if (!item.event.empty()) {
      if (item.event == protocol::kEventCertificateUsed && service.retire_predecessor(item.certificate_id, access.registry()))
        spdlog::info("certificate {} was used: the certificate it renews is retired", item.certificate_id);
      return;
    }
    const IncomingRequest& request = item.request;
    auto started = std::chrono::steady_clock::now();
    Reply reply = service.handle(request, access);
    access.give_back();
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    const std::string operation(protocol::operation_name(request.topic.operation));
    metrics().increment("provision_requests_total", {{"operation", operation}, {"outcome", reply.accepted ? "accepted" : reply.error_code}});
    metrics().observe("provision_request_duration_seconds", {{"operation", operation}}, static_cast<double>(micros) / 1e6);
    if (!reply.accepted) metrics().increment("provision_rejections_total", {{"error_code", reply.error_code}});
    spdlog::info("{} {} for client '{}' from {}: {} ({} us)", operation,
                 request.topic.template_name, request.client_id, request.source_address,
                 reply.accepted ? "accepted" : reply.error_code, micros);
    mqtt::properties props{
        {mqtt::property::USER_PROPERTY, property::kRequestId, request.request_id},
        {mqtt::property::USER_PROPERTY, property::kOutcome, reply.accepted ? "accepted" : "rejected"}};
    // QoS 0 for the reason requests arrive at QoS 0 (see connected()).
    auto message = mqtt::message_ptr_builder().topic(internal.replies).payload(reply.payload).qos(0).properties(props).finalize();
    try {
      client.publish(message);
    } catch (const mqtt::exception& e) {
      // The plugin answers the device with 503 when no reply comes.
      spdlog::error("could not publish the reply to request {}: {}", request.request_id, e.what());
    }
  }

  struct SubscribeListener : public virtual mqtt::iaction_listener {
    explicit SubscribeListener(Impl& i) : impl(i) {}
    void on_success(const mqtt::token&) override {
      impl.ready = true;
      if (impl.on_ready) impl.on_ready();
    }
    void on_failure(const mqtt::token& token) override {
      spdlog::error("subscription to the internal request topic refused (reason {}); is this certificate a registered "
                    "service identity?",
                    static_cast<int>(token.get_reason_code()));
    }
    Impl& impl;
  };

  const ServiceConfig& config;
  ProvisioningService& service;
  protocol::InternalTopics internal;
  mqtt_client::ConnectSettings settings;
  mqtt_client::PahoOptions options;
  mqtt::async_client client;
  SubscribeListener subscribe_listener_impl{*this};
  mqtt::iaction_listener& subscribe_listener = subscribe_listener_impl;
  std::function<void()> on_ready;
  std::atomic<bool> ready{false};
  RegistryPool registries;            // declared before the pools: their threads use it until they stop
  WorkerPool<WorkItem> pool;           // certificates, renewals, enrollments, events
  WorkerPool<WorkItem> registrations;  // RegisterThing (hooks)
};

MqttWorker::MqttWorker(const ServiceConfig& config, ProvisioningService& service)
    : impl_(std::make_unique<Impl>(config, service)) {}

MqttWorker::~MqttWorker() = default;

bool MqttWorker::connected() const { return impl_->client.is_connected(); }

void MqttWorker::run(const std::atomic<bool>& stop, const std::function<void()>& on_ready) {
  impl_->on_ready = on_ready;
  auto delay = std::chrono::milliseconds(100);
  // Paho reconnects by itself only after a first successful connect.
  while (!stop) {
    try {
      impl_->client.connect(impl_->options.connect)->wait();
      break;
    } catch (const mqtt::exception& e) {
      spdlog::warn("cannot connect to {}: {}; retrying", impl_->settings.endpoint.uri(), e.what());
      for (auto waited = std::chrono::milliseconds(0); waited < delay && !stop; waited += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      delay = std::min(delay * 2, std::chrono::milliseconds(2000));
    }
  }
  while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  impl_->pool.stop();
  impl_->registrations.stop();
  try {
    if (impl_->client.is_connected()) impl_->client.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
}

}  // namespace provision::service
