#include "mqtt_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "metrics.h"
#include "protocol/payloads.h"
#include "registry_pool.h"
#include "worker_link.h"
#include "worker_pool.h"
#include "util/random.h"
#include "util/text.h"

namespace provision::service {

namespace {

// A request to answer, or an event the plugin reported.
struct WorkItem {
  IncomingRequest request;
  std::string event;  // non-empty for events
  std::string certificate_id;
  std::string secret_hash;  // password-device-connected
  size_t link = 0;  // the link it came on, which answers it
};

// The request (or event) a message from the plugin carries; nullopt for a
// message that is neither (logged).
std::optional<WorkItem> work_item_of(const LinkMessage& message, const protocol::InternalTopics& internal) {
  WorkItem item;
  if (message.topic == internal.events) {
    auto event = protocol::decode_event([&message](std::string_view name) { return message.user_property(name); });
    if (!event) {
      spdlog::warn("ignored an event without its name");
      return std::nullopt;
    }
    item.event = std::move(event->event);
    item.certificate_id = std::move(event->certificate_id);
    item.request.thing_name = std::move(event->thing_name);
    item.secret_hash = std::move(event->secret_hash);
    return item;
  }
  std::string why;
  auto request = protocol::decode_request([&message](std::string_view name) { return message.user_property(name); }, &why);
  if (!request) {
    spdlog::warn("ignored a message on {}: {}", message.topic, why);
    return std::nullopt;
  }
  static_cast<protocol::InternalRequest&>(item.request) = std::move(*request);
  item.request.payload = std::string(message.payload);
  return item;
}

// This process's part of its links' client ids: several provisiond processes
// share a broker (each in its shared subscription), and a client id taken
// by a second session would end the first.
const std::string& process_tag() {
  static const std::string tag = random_token(6);
  return tag;
}

LinkSettings link_settings(const ServiceConfig& c, const std::pair<std::string, int>& broker, int index) {
  LinkSettings s;
  s.host = broker.first;
  s.port = broker.second;
  s.ca_file = c.mqtt_ca_file.string();
  s.certificate = c.mqtt_certificate.string();
  s.private_key = c.mqtt_key.string();
  // Each link is its own MQTT session: distinct client ids.
  s.client_id = c.mqtt_client_id + "-" + process_tag() + "-" + std::to_string(index);
  const protocol::InternalTopics internal(c.internal_prefix);
  // Requests at QoS 0: the worker's session is clean, so a request in flight
  // when the connection drops is lost at QoS 1 too, and TCP already delivers
  // everything else; the device gets a 503 when no reply comes and asks
  // again. QoS 1 cost a PUBACK each way per message. Events have no such
  // retry: they stay at QoS 1.
  s.subscriptions = {{internal.shared_requests(c.shared_group), 0}, {internal.shared_events(c.shared_group), 1}};
  return s;
}

}  // namespace

// Every request thread shares this many registry connections (see registry_pool.h).
constexpr int kRequestRegistryConnections = 1;

struct MqttWorker::Impl {
  Impl(const ServiceConfig& c, ProvisioningService& s, std::atomic<int>& frames)
      : config(c),
        service(s),
        wal_frames(frames),
        internal(c.internal_prefix),
        registries([this] { return open_request_registry(); }, kRequestRegistryConnections),
        registrations(c.registration_threads, [this](WorkItem& item) { answer(item, true); }) {
    // workerThreads links to each broker; a link answers what it reads, so
    // each reply goes back through the broker its request came from.
    const int count = std::max(1, c.worker_threads);
    auto brokers = c.mqtt_brokers;
    if (brokers.empty()) brokers.emplace_back(c.mqtt_host, c.mqtt_port);
    for (const auto& broker : brokers)
      for (int i = 0; i < count; ++i) {
        const size_t index = links.size();
        links.push_back(std::make_unique<WorkerLink>(
            link_settings(c, broker, static_cast<int>(index)), [this, index](const LinkMessage& m) { on_message(index, m); },
            [this] { on_link_ready(); }));
      }
  }

  // Requests never run a WAL checkpoint (and its fsync): serve() does, from
  // its housekeeping thread. The requests' one connection keeps a larger page
  // cache than the default: the registry's indexes on random ids (certificate
  // ids, token hashes) spread each device's writes over many pages.
  registry::Registry open_request_registry() {
    registry::OpenOptions options;
    options.wal_frames = &wal_frames;
    options.page_cache_kib = 8192;
    return registry::Registry::open(config.registry, options);
  }

  // On a link's thread. Most requests are answered right here: issuing a
  // certificate or registering a thing takes a fraction of a millisecond, and
  // handing each to another thread (and the reply back) cost more than that
  // in wake-ups. A registration whose template calls an http or exec hook may
  // wait seconds: it comes back unanswered and goes to the registration pool,
  // so that the link keeps answering everyone else.
  void on_message(size_t link, const LinkMessage& message) {
    auto item = work_item_of(message, internal);
    if (!item) return;
    item->link = link;
    if (!answer(*item, false)) registrations.submit(std::move(*item));
  }

  void on_link_ready() {
    if (all_connected() && on_ready) on_ready();
  }

  bool all_connected() const {
    for (const auto& l : links)
      if (!l->connected()) return false;
    return true;
  }

  // False when the request must wait on a hook and `may_wait` is false.
  bool answer(const WorkItem& item, bool may_wait) {
    try {
      RegistryAccess access(registries);
      if (!item.event.empty()) {
        if (item.event == protocol::kEventCertificateUsed && service.retire_predecessor(item.certificate_id, access.registry()))
          spdlog::info("certificate {} was used: the certificate it renews is retired", item.certificate_id);
        if (item.event == protocol::kEventPasswordDeviceConnected && service.password_device_connected(item.request.thing_name, item.secret_hash, access.registry()))
          spdlog::info("password device {} connected for the first time with its secret", item.request.thing_name);
        return true;
      }
      return reply(item, access, may_wait);
    } catch (const std::exception& e) {
      spdlog::error("work item failed: {}", e.what());
      return true;
    }
  }

  bool reply(const WorkItem& item, RegistryAccess& access, bool may_wait) {
    const IncomingRequest& request = item.request;
    auto started = std::chrono::steady_clock::now();
    Reply reply = service.handle(request, access, may_wait);
    access.give_back();
    if (reply.waits_on_hook) return false;
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    const std::string operation(protocol::operation_name(request.topic.operation));
    metrics().increment("provision_requests_total", {{"operation", operation}, {"outcome", reply.accepted ? "accepted" : reply.error_code}});
    metrics().observe("provision_request_duration_seconds", {{"operation", operation}}, static_cast<double>(micros) / 1e6);
    if (!reply.accepted) metrics().increment("provision_rejections_total", {{"error_code", reply.error_code}});
    spdlog::info("{} {} for client '{}' from {}: {} ({} us)", operation, request.topic.template_name, text::escape(request.client_id),
                 request.source_address, reply.accepted ? "accepted" : reply.error_code, micros);
    // QoS 0 for the reason requests arrive at QoS 0 (see link_settings()).
    const protocol::UserProperties properties = protocol::encode(protocol::InternalReply{request.request_id, reply.accepted});
    if (!publish_reply(item.link, reply.payload, properties))
      // The plugin answers the device with 503 when no reply comes.
      spdlog::error("could not publish the reply to request {}: not connected to the broker", request.request_id);
    return true;
  }

  // On the link the request came on, else on any connected one.
  bool publish_reply(size_t link, std::string_view payload, const protocol::UserProperties& properties) {
    if (links[link]->publish(internal.replies, payload, 0, properties)) return true;
    for (const auto& l : links)
      if (l->publish(internal.replies, payload, 0, properties)) return true;
    return false;
  }

  const ServiceConfig& config;
  ProvisioningService& service;
  std::atomic<int>& wal_frames;
  protocol::InternalTopics internal;
  std::function<void()> on_ready;
  RegistryPool registries;              // declared before the threads that use it
  WorkerPool<WorkItem> registrations;   // RegisterThing through a template with an http or exec hook
  std::vector<std::unique_ptr<WorkerLink>> links;  // destroyed first: their threads call into the above
};

MqttWorker::MqttWorker(const ServiceConfig& config, ProvisioningService& service, std::atomic<int>& wal_frames)
    : impl_(std::make_unique<Impl>(config, service, wal_frames)) {}

MqttWorker::~MqttWorker() = default;

bool MqttWorker::connected() const { return impl_->all_connected(); }

void MqttWorker::run(const std::atomic<bool>& stop, const std::function<void()>& on_ready) {
  impl_->on_ready = on_ready;
  for (auto& l : impl_->links) l->start();
  while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Registrations still waiting on their hooks finish and reply first.
  impl_->registrations.stop();
  for (auto& l : impl_->links) l->stop();
}

}  // namespace provision::service
