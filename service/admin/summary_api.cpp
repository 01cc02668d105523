// GET /v1/summary: what the console's overview shows, in one answer:
// things, certificates and enrollments by status, the broker link, and the
// provisioning requests and rejections (by errorCode) of each minute of the
// last hour, from the counters /metrics exports.
#include "admin/api.h"
#include "metrics.h"
#include "util/json.h"

namespace provision::service::admin {
namespace {

rapidjson::Value counts(const std::map<std::string, int64_t>& map, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value out(rapidjson::kObjectType);
  for (const auto& [name, count] : map) {
    rapidjson::Value key = json::string_value(name, a), value(static_cast<int64_t>(count));
    out.AddMember(key, value, a);
  }
  return out;
}

Response summary(Call& call) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("things", call.registry.count_things(), a);
  doc.AddMember("certificates", counts(call.registry.count_certificates_by_status(), a), a);
  doc.AddMember("enrollments", counts(call.registry.count_enrollments_by_status(), a), a);
  bool connected = call.context.broker_connected && call.context.broker_connected();
  doc.AddMember("broker", json::string_value(connected ? "connected" : "disconnected", a), a);
  auto requests = metrics().last_hour("provision_requests_total");
  auto rejections = metrics().last_hour("provision_rejections_total");
  rapidjson::Value minutes(rapidjson::kArrayType);
  for (size_t i = 0; i < requests.size(); ++i) {
    rapidjson::Value minute(rapidjson::kObjectType);
    minute.AddMember("at", requests[i].at, a);
    double total = 0;
    for (const auto& [outcome, n] : requests[i].by) total += n;
    minute.AddMember("requests", static_cast<int64_t>(total), a);
    rapidjson::Value codes(rapidjson::kObjectType);
    if (i < rejections.size())
      for (const auto& [code, n] : rejections[i].by) {
        rapidjson::Value key = json::string_value(code, a), value(static_cast<int64_t>(n));
        codes.AddMember(key, value, a);
      }
    minute.AddMember("rejections", codes, a);
    minutes.PushBack(minute, a);
  }
  doc.AddMember("minutes", minutes, a);
  return json_response(200, std::move(doc));
}

}  // namespace

std::vector<Route> summary_routes() { return {{"GET", "/v1/summary", kReaders, kRead, summary}}; }

}  // namespace provision::service::admin
