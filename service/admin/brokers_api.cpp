// /v1/brokers: the brokers devices are assigned to (deviceConfiguration.brokerEndpoint).
#include "admin/api.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

rapidjson::Document broker_json(const registry::BrokerRecord& b) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("name", json::string_value(b.name, a), a);
  doc.AddMember("endpoint", json::string_value(b.endpoint, a), a);
  doc.AddMember("weight", b.weight, a);
  doc.AddMember("enabled", b.enabled, a);
  doc.AddMember("createdAt", b.created_at, a);
  doc.AddMember("updatedAt", b.updated_at, a);
  return doc;
}

registry::BrokerRecord existing(registry::Registry& registry, const std::string& name) {
  auto b = registry.find_broker(name);
  if (!b) not_found("broker " + text::quote(name));
  return *b;
}

Response list(Call& call) {
  // Few brokers: one page.
  return page_of(call.registry.list_brokers(), registry::Page{1 << 30, ""}, broker_json, [](const auto&) { return ""; });
}

Response create(Call& call) {
  const auto& body = call.body_as("BrokerCreate");
  registry::BrokerRecord b;
  b.name = *json::string_member(body, "name");
  b.endpoint = *json::string_member(body, "endpoint");
  b.weight = json::int_member(body, "weight").value_or(1);
  b.enabled = json::bool_member(body, "enabled").value_or(true);
  auto tx = call.registry.begin();
  if (call.registry.find_broker(b.name)) conflict("broker " + text::quote(b.name) + " exists");
  call.registry.put_broker(b);
  call.audit("CreateBroker", b.name, detail({{"endpoint", b.endpoint}}));
  tx.commit();
  return json_response(201, broker_json(existing(call.registry, b.name)));
}

Response get(Call& call) { return json_response(200, broker_json(existing(call.registry, call.path["name"]))); }

Response update(Call& call) {
  const auto& body = call.body_as("BrokerUpdate");
  auto tx = call.registry.begin();
  auto b = existing(call.registry, call.path["name"]);
  if (auto endpoint = json::string_member(body, "endpoint")) b.endpoint = *endpoint;
  if (auto weight = json::int_member(body, "weight")) b.weight = *weight;
  if (auto enabled = json::bool_member(body, "enabled")) b.enabled = *enabled;
  call.registry.put_broker(b);
  call.audit("UpdateBroker", b.name, json::stringify(body));
  tx.commit();
  return json_response(200, broker_json(existing(call.registry, b.name)));
}

Response remove(Call& call) {
  auto tx = call.registry.begin();
  const std::string& name = call.path["name"];
  if (!call.registry.find_broker(name)) not_found("broker " + text::quote(name));
  if (int64_t users = call.registry.count_broker_users(name))
    conflict("broker " + text::quote(name) + " is pinned by " + std::to_string(users) +
             " enrollment(s) or static template assignment(s); disable it or change those first");
  call.registry.delete_broker(name);
  call.audit("DeleteBroker", call.path["name"]);
  tx.commit();
  return no_content();
}

}  // namespace

std::vector<Route> broker_routes() {
  return {
      {"GET", "/v1/brokers", kReaders, list},
      {"POST", "/v1/brokers", kAdminOnly, create},
      {"GET", "/v1/brokers/{name}", kReaders, get},
      {"PATCH", "/v1/brokers/{name}", kAdminOnly, update},
      {"DELETE", "/v1/brokers/{name}", kAdminOnly, remove},
  };
}

}  // namespace provision::service::admin
