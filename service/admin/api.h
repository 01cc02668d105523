#pragma once
// The admin API's toolkit, shared by the resource files: the call a handler
// gets (who, from where, path parameters, query, JSON body, this thread's
// registry connection), its errors, and JSON helpers.
#include <rapidjson/document.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "util/error.h"
#include "util/json.h"

namespace provision::service {
class ProvisioningService;
struct ServiceConfig;
}  // namespace provision::service

namespace provision::service::admin {

enum class Role { Admin, Factory, Operator, Installer };
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

// A failure the API reports as {error: {code, message, field?, details?}}.
struct ApiError : RequestError {
  ApiError(int status, std::string error_code, const std::string& message, std::string field_name = {})
      : RequestError(status, std::move(error_code), message), field(std::move(field_name)) {}
  std::string field;
  std::vector<std::pair<std::string, std::string>> details;  // (path, message)
};

struct Response {
  int status = 200;
  rapidjson::Document body;  // sent as JSON unless status is 204
};

// What the server shares with every handler.
struct ApiContext {
  const ServiceConfig* config = nullptr;
  std::filesystem::path config_file;
  ProvisioningService* provisioning = nullptr;
  std::function<bool()> broker_connected;
};

struct Call {
  ApiContext& context;
  registry::Registry& registry;
  Role role = Role::Operator;
  std::string actor;   // "api:<token name>", for the audit log
  std::string source;  // client address
  std::map<std::string, std::string> path;   // path parameters by name
  std::multimap<std::string, std::string> query;
  rapidjson::Document body;  // parsed JSON body ({} when there is none)

  // The request body, checked against OpenAPI component `schema` (400 naming the field).
  const rapidjson::Value& body_as(std::string_view schema) const;
  std::optional<std::string> query_string(const std::string& name) const;
  std::optional<int64_t> query_int(const std::string& name) const;  // 400 when not an integer
  registry::Page page() const;                                       // ?limit=&after=
  // Writes an audit entry (inside the caller's transaction).
  void audit(const std::string& action, const std::string& subject, const std::string& detail = "{}") const;
};

using Handler = std::function<Response(Call&)>;

struct Route {
  std::string method;   // GET, POST, PUT, PATCH, DELETE
  std::string pattern;  // "/v1/templates/{name}"
  std::vector<Role> roles;
  Handler handler;
};

// The role sets most routes use: reading the fleet's configuration, and
// changing it.
inline const std::vector<Role> kReaders{Role::Admin, Role::Operator, Role::Factory};
inline const std::vector<Role> kAdminOnly{Role::Admin};

// JSON helpers for handlers.
Response json_response(int status, rapidjson::Document body);
Response no_content();
// {"items": [...], "nextCursor": "..."}: `cursor` is the key of the last item
// when the page is full.
Response page_response(rapidjson::Document items, const registry::Page& page, const std::string& last_key);
// One page of records as {"items": [...], "nextCursor"}: `to_json(record)`
// makes an item's document, `key_of(record)` its cursor.
template <typename Records, typename ToJson, typename KeyOf>
Response page_of(const Records& records, const registry::Page& page, ToJson&& to_json, KeyOf&& key_of) {
  rapidjson::Document items(rapidjson::kArrayType);
  std::string last;
  for (const auto& record : records) {
    rapidjson::Value item;
    item.CopyFrom(to_json(record), items.GetAllocator());
    items.PushBack(item, items.GetAllocator());
    last = key_of(record);
  }
  return page_response(std::move(items), page, last);
}

// Lists and maps of strings both ways (util/json.h).
using json::string_list;
using json::string_map;
using json::to_string_list;
using json::to_string_map;

// A JSON object of strings, for audit details: {"role": "fleet", ...}.
std::string detail(const std::vector<std::pair<std::string, std::string>>& fields);

[[noreturn]] void not_found(const std::string& what);
[[noreturn]] void conflict(const std::string& message);

// The resources, each in its own file.
std::vector<Route> template_routes();
std::vector<Route> policy_routes();
std::vector<Route> claim_and_ca_routes();
std::vector<Route> fleet_routes();  // things, certificates, registration
std::vector<Route> audit_and_token_routes();
std::vector<Route> enrollment_routes();
std::vector<Route> broker_routes();

}  // namespace provision::service::admin
