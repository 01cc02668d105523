// /v1/policies: device policies (schemas/policy.schema.json).
#include "admin/api.h"
#include "fleet/policies.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

rapidjson::Document policy_json(registry::Registry& registry, const registry::PolicyRecord& p) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("name", json::string_value(p.name, a), a);
  rapidjson::Value document;
  document.CopyFrom(json::parse(p.document, "policy"), a);
  doc.AddMember("document", document, a);
  doc.AddMember("createdAt", p.created_at, a);
  doc.AddMember("updatedAt", p.updated_at, a);
  doc.AddMember("attachments", registry.count_policy_attachments(p.name), a);
  return doc;
}

Response list(Call& call) {
  auto page = call.page();
  return page_of(
      call.registry.list_policies(page), page, [&](const auto& p) { return policy_json(call.registry, p); },
      [](const auto& p) { return p.name; });
}

Response create(Call& call) {
  const auto& body = call.body_as("PolicyCreate");
  auto record = fleet::create_policy(call.registry, call.fleet(), *json::string_member(body, "name"),
                                     json::stringify(*json::member(body, "document")));
  return json_response(201, policy_json(call.registry, record));
}

Response get(Call& call) {
  auto p = call.registry.find_policy(call.path["name"]);
  if (!p) not_found("policy " + text::quote(call.path["name"]));
  return json_response(200, policy_json(call.registry, *p));
}

Response replace(Call& call) {
  const auto& body = call.body_as("PolicyUpdate");
  auto record = fleet::replace_policy(call.registry, call.fleet(), call.path["name"], json::stringify(*json::member(body, "document")));
  return json_response(200, policy_json(call.registry, record));
}

Response remove(Call& call) {
  fleet::delete_policy(call.registry, call.fleet(), call.path["name"]);
  return no_content();
}

}  // namespace

std::vector<Route> policy_routes() {
  return {
      {"GET", "/v1/policies", kReaders, kRead, list},
      {"POST", "/v1/policies", kAdminOnly, fleet::action::kCreatePolicy, create},
      {"GET", "/v1/policies/{name}", kReaders, kRead, get},
      {"PUT", "/v1/policies/{name}", kAdminOnly, fleet::action::kUpdatePolicy, replace},
      {"DELETE", "/v1/policies/{name}", kAdminOnly, fleet::action::kDeletePolicy, remove},
  };
}

}  // namespace provision::service::admin
