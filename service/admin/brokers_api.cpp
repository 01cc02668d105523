// /v1/brokers: the brokers devices are assigned to (deviceConfiguration.brokerEndpoint).
#include "admin/api.h"
#include "fleet/brokers.h"
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
  if (b.password_endpoint) doc.AddMember("passwordEndpoint", json::string_value(*b.password_endpoint, a), a);
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
  fleet::BrokerRequest request;
  request.name = *json::string_member(body, "name");
  request.endpoint = *json::string_member(body, "endpoint");
  request.weight = json::int_member(body, "weight").value_or(1);
  request.enabled = json::bool_member(body, "enabled").value_or(true);
  request.password_endpoint = json::string_member(body, "passwordEndpoint");
  return json_response(201, broker_json(fleet::create_broker(call.registry, call.fleet(), request)));
}

Response get(Call& call) { return json_response(200, broker_json(existing(call.registry, call.path["name"]))); }

Response update(Call& call) {
  const auto& body = call.body_as("BrokerUpdate");
  fleet::BrokerChange change;
  change.endpoint = json::string_member(body, "endpoint");
  change.weight = json::int_member(body, "weight");
  change.enabled = json::bool_member(body, "enabled");
  change.password_endpoint = json::string_member(body, "passwordEndpoint");
  return json_response(200, broker_json(fleet::update_broker(call.registry, call.fleet(), call.path["name"], change)));
}

Response remove(Call& call) {
  fleet::delete_broker(call.registry, call.fleet(), call.path["name"]);
  return no_content();
}

}  // namespace

std::vector<Route> broker_routes() {
  return {
      {"GET", "/v1/brokers", kEnrollmentReaders, kRead, list},
      {"POST", "/v1/brokers", kAdminOnly, fleet::action::kCreateBroker, create},
      {"GET", "/v1/brokers/{name}", kReaders, kRead, get},
      {"PATCH", "/v1/brokers/{name}", kAdminOnly, fleet::action::kUpdateBroker, update},
      {"DELETE", "/v1/brokers/{name}", kAdminOnly, fleet::action::kDeleteBroker, remove},
  };
}

}  // namespace provision::service::admin
