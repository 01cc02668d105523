// The broker plugin's gatekeeper fed with generated event sequences: sign-ins
// with assorted identities (claims, a claim through the claim CA, a device,
// the worker's service identity, a stranger, no certificate) under assorted
// client ids (take-overs included), ACL checks, messages on request, reply
// and other topics, worker replies to forwarded and invented request ids,
// ticks and disconnects, over a real development fleet in a real registry
// file. Each input byte picks the next event; the bytes after it its details.
//
// Properties: nothing throws; a reply is delivered only to a client id a
// connection holds now, and only on a reply topic; a request reaches the
// workers only from a connection signed in as what may send it; the
// connection and pending-request counts stay within their bounds.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "development_fleet.h"
#include "fuzz.h"
#include "gatekeeper.h"
#include "pki/key.h"
#include "protocol/internal_messages.h"
#include "protocol/topics.h"
#include "registry/registry.h"

using namespace provision;
using namespace provision::plugin;

namespace {

constexpr int kSlots = 8;

// The fleet, made once per process (a PKI and a registry file: slow).
struct World {
  testing::DevelopmentFleet fleet;
  pki::Certificate device, through_claim_ca, stranger;
  World()
      : device(testing::DevelopmentFleet::issue(fleet.fleet_ca, "thing-1")),
        through_claim_ca(testing::DevelopmentFleet::issue(fleet.claim_ca, "claim-batch-9")),
        stranger(testing::DevelopmentFleet::issue(pki::CertificateAuthority::create_root("Stranger Root", 3600), "stranger")) {
    fleet.reg.put_policy("DemoPolicy", R"({"statements": [
      {"effect": "allow", "actions": ["connect"], "clientIds": ["${thingName}", "dev-*"]},
      {"effect": "allow", "actions": ["publish", "subscribe", "receive"], "topics": ["devices/${thingName}/#"]}]})");
    fleet.register_device(device, "thing-1", registry::kActive, "DemoPolicy");
  }
  const pki::Certificate* identity(uint8_t pick) const {
    switch (pick % 6) {
      case 0: return &fleet.claim;
      case 1: return &through_claim_ca;
      case 2: return &device;
      case 3: return &fleet.service;
      case 4: return &stranger;
      default: return nullptr;
    }
  }
};

World& world() {
  static World w;
  return w;
}

// The input, read a byte or a string at a time; zeros once it is used up.
struct Reader {
  std::string_view data;
  uint8_t byte() {
    if (data.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(data[0]);
    data.remove_prefix(1);
    return b;
  }
  std::string text(size_t max) {
    size_t n = std::min<size_t>(byte() % (max + 1), data.size());
    std::string s(data.substr(0, n));
    data.remove_prefix(n);
    return s;
  }
  bool done() const { return data.empty(); }
};

const char* const kClientIds[] = {"thing-1", "dev-A", "dev-B", "provisiond-1", "", "dev/#", "thing-1"};
const char* const kTopics[] = {
    "$provision/certificates/create/json",
    "$provision/certificates/create-from-csr/cbor",
    "$provision/templates/DemoFleet/provision/json",
    "$provision/templates/OtherFleet/provision/json",
    "$aws/certificates/create/json",
    "$aws/provisioning-templates/DemoFleet/provision/json",
    "$provision/certificates/create/json/accepted",
    "$provision/certificates/renew/json",
    "$provision/enrollments/json",
    "_provision/requests",
    "_provision/replies",
    "_provision/events",
    "$share/provisiond/_provision/requests",
    "devices/thing-1/telemetry",
    "devices/thing-2/telemetry",
    "#",
    "$SYS/broker/clients",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  Gatekeeper gk(parse_options({{"registry", w.fleet.registry_path.string()}, {"max_pending_total", "16"},
                               {"max_pending_per_client", "2"}, {"reply_timeout_ms", "1000"}}),
                Logger{});
  int slots[kSlots] = {};
  std::unordered_map<const void*, std::string> holds;  // connection -> client id it signed in with
  std::unordered_map<std::string, const void*> holder;  // client id -> the newest connection with it
  std::vector<std::string> forwarded;                   // request ids the workers got
  int64_t now_ms = 1000, now_s = w.fleet.now;
  Reader in{fuzz::view(data, size)};

  auto check = [&](const Actions& out) {
    for (const auto& m : out.messages) {
      if (m.client_id.empty()) {
        // to the workers: requests or events only
        FUZZ_ASSERT(m.topic == "_provision/requests" || m.topic == "_provision/events");
        if (m.topic == "_provision/requests") {
          auto request = protocol::decode_request(protocol::lookup_in(m.user_properties));
          FUZZ_ASSERT(request.has_value());
          forwarded.push_back(request->request_id);
          if (forwarded.size() > 64) forwarded.erase(forwarded.begin());
        }
      } else {
        // to one device: on a reply topic, and only to a client id someone holds now
        FUZZ_ASSERT(m.topic.ends_with("/accepted") || m.topic.ends_with("/rejected"));
        FUZZ_ASSERT(holder.count(m.client_id) == 1);
      }
    }
    FUZZ_ASSERT(gk.pending_requests() <= 16);
    FUZZ_ASSERT(gk.connection_count() <= static_cast<size_t>(kSlots));
  };

  for (int events = 0; events < 256 && !in.done(); ++events) {
    const uint8_t op = in.byte();
    const void* key = &slots[in.byte() % kSlots];
    Actions out;
    switch (op % 7) {
      case 0: {  // sign in
        const pki::Certificate* certificate = w.identity(in.byte());
        std::string client_id = kClientIds[in.byte() % std::size(kClientIds)];
        auto result = gk.authenticate(ClientInfo{key, client_id, "10.0.0." + std::to_string(in.byte())},
                                      certificate ? certificate->get() : nullptr, now_s, now_ms);
        if (holds.count(key)) {
          if (holder[holds[key]] == key) holder.erase(holds[key]);
          holds.erase(key);
        }
        if (result.allowed) {
          holds[key] = client_id;
          holder[client_id] = key;
        }
        break;
      }
      case 1: {  // ACL check
        AclRequest request;
        request.access = static_cast<Access>(in.byte() % 4);
        // One read after the other (the operands of + are not sequenced: GCC
        // and clang read them in opposite orders, and an input libFuzzer
        // saved would mean other events in the suite's replay).
        std::string topic = kTopics[in.byte() % std::size(kTopics)];
        topic += in.text(8);
        request.topic = topic;
        request.qos = in.byte() % 3;
        request.payload_length = in.byte() * 128u;
        request.retain = in.byte() & 1;
        gk.check_acl(key, request);
        break;
      }
      case 2: {  // a message
        std::string topic = kTopics[in.byte() % std::size(kTopics)];
        std::string payload = in.text(64);
        gk.on_message(key, topic, payload, in.byte() % 3, {}, now_ms, out);
        break;
      }
      case 3: {  // a worker's reply, to a forwarded request or an invented one
        std::string id = forwarded.empty() || (in.byte() & 1) ? in.text(12) : forwarded[in.byte() % forwarded.size()];
        auto properties = protocol::encode(protocol::InternalReply{id, (in.byte() & 1) != 0});
        if (in.byte() % 8 == 0) properties.emplace_back("outcome", in.text(8));
        gk.on_message(key, "_provision/replies", R"({"certificateId":"x"})", 1, properties, now_ms, out);
        break;
      }
      case 4: {  // time passes
        now_ms += in.byte() * 20;
        now_s += in.byte() % 4 == 0 ? 3600 * 24 : 0;
        gk.on_tick(now_ms, out, now_s);
        break;
      }
      case 5: {  // disconnect
        gk.on_disconnect(key, out);
        if (holds.count(key)) {
          if (holder[holds[key]] == key) holder.erase(holds[key]);
          holds.erase(key);
        }
        break;
      }
      default: {  // the broker asks again after a reload
        gk.reconfigure(parse_options({{"registry", w.fleet.registry_path.string()}, {"max_pending_total", "16"},
                                      {"max_pending_per_client", std::to_string(1 + in.byte() % 3)}}));
        break;
      }
    }
    check(out);
    // The broker carries out the kicks: those connections go.
    for (const auto& client_id : out.kicks) {
      auto it = holder.find(client_id);
      if (it == holder.end()) continue;
      const void* kicked = it->second;
      holder.erase(it);
      holds.erase(kicked);
      Actions after;
      gk.on_disconnect(kicked, after);
      check(after);
    }
  }
  for (int i = 0; i < kSlots; ++i) gk.on_disconnect(&slots[i]);
  FUZZ_ASSERT(gk.connection_count() == 0);
  return 0;
}
