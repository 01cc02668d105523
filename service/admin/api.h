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

#include "fleet/fleet.h"
#include "registry/registry.h"
#include "util/error.h"
#include "util/json.h"

namespace provision::service {
class ProvisioningService;
struct ServiceConfig;
}  // namespace provision::service

namespace provision::service::admin {

// activator: the machine manufacturer, who looks up, activates and disables
// enrollments and reads the templates they name (docs/admin.md).
enum class Role { Admin, Factory, Operator, Installer, Activator };
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

// A failure the API reports as {error: {code, message, field?, details?}}.
using ApiError = RequestError;

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
  // Who makes the change and what it needs, for the fleet's changes.
  fleet::Context fleet() const;
};

using Handler = std::function<Response(Call&)>;

// The fleet change a route makes, by its audit action (fleet::action); a
// read makes none. A change refused before it ran (the role, the body) is
// audited under it too, so that the refusal is found like a success.
// Its subject is the path parameter `subject` names (default: the first one;
// a create's, the name in its body).
struct Change {
  Change() = default;
  Change(const char* name, const char* subject_parameter = nullptr)  // route tables name it: {"POST", "/v1/x", roles, fleet::action::kCreateX, ...}
      : action(name), subject(subject_parameter) {}
  // A route whose body says which change it is (a certificate's status):
  // `fallback` until the body is read.
  Change(const char* (*of)(const rapidjson::Value& body), const char* fallback) : action(fallback), of_body(of) {}
  const char* action = nullptr;
  const char* subject = nullptr;
  const char* (*of_body)(const rapidjson::Value& body) = nullptr;
};
inline const Change kRead{};

struct Route {
  std::string method;   // GET, POST, PUT, PATCH, DELETE
  std::string pattern;  // "/v1/templates/{name}"
  std::vector<Role> roles;
  Change change;
  Handler handler;
};

// The role sets most routes use: reading the fleet's configuration, and
// changing it.
inline const std::vector<Role> kReaders{Role::Admin, Role::Operator, Role::Factory};
inline const std::vector<Role> kAdminOnly{Role::Admin};
// Readers of enrollments, and of the templates they name, and of brokers:
// the machine manufacturer (activator) too.
inline const std::vector<Role> kEnrollmentReaders{Role::Admin, Role::Operator, Role::Factory, Role::Activator};

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

using fleet::conflict;
using fleet::detail;
using fleet::invalid_field;
using fleet::not_found;

// The resources, each in its own file.
std::vector<Route> template_routes();
std::vector<Route> policy_routes();
std::vector<Route> claim_and_ca_routes();
std::vector<Route> thing_routes();  // things, certificates, programmatic registration
std::vector<Route> audit_and_token_routes();
std::vector<Route> enrollment_routes();
std::vector<Route> broker_routes();
std::vector<Route> firmware_routes();
std::vector<Route> device_routes();
std::vector<Route> summary_routes();  // the console's overview

}  // namespace provision::service::admin
