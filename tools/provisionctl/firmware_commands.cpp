// The firmware catalog (firmware commands): releases devices are offered.
#include <iostream>

#include "commands.h"
#include "errors.h"
#include "inputs.h"
#include "resources.h"
#include "util/json.h"

namespace provisionctl {
namespace {

const Resource kFirmware{"firmware release", "/v1/firmware", "ID",
                         {{"ID", "id"},
                          {"PRODUCT", "productId"},
                          {"VERSION", "version"},
                          {"CHANNEL", "channel"},
                          {"ENABLED", "enabled"},
                          {"ROLLOUT", "rolloutPercent"},
                          {"HARDWARE", "hardwareVersions"},
                          {"URL", "downloadUrl"}}};

struct ReleaseOptions {
  std::string id;
  int64_t product_id = -1;
  std::string version, channel, url, sha256, changelog, min_version;
  std::vector<std::string> hardware;
  int64_t size = -1;
  int64_t rollout = -1;
  bool disabled = false;
  bool no_min_version = false;
};

void add_common(CLI::App* command, ReleaseOptions& o) {
  command->add_option("--hardware", o.hardware, "a board it is for (repeat; none: every board)");
  command->add_option("--url", o.url, "download URL (http:// or https://)");
  command->add_option("--size", o.size, "file size in bytes")->check(CLI::PositiveNumber);
  command->add_option("--sha256", o.sha256, "the file's SHA-256 (64 hex digits)");
  command->add_option("--changelog", o.changelog, "what changed");
  command->add_option("--min-version", o.min_version, "devices below this version are not offered it");
  command->add_option("--rollout", o.rollout, "staged rollout: percent of devices offered it (0-100; default 100)")
      ->check(CLI::Range(0, 100));
}

void add_publish(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("publish", "publish a firmware release");
  auto o = std::make_shared<ReleaseOptions>();
  command->add_option("PRODUCT", o->product_id, "product id")->required()->check(CLI::NonNegativeNumber);
  command->add_option("VERSION", o->version, "semantic version, e.g. 1.10.0 or 2.0.0-rc.1")->required();
  command->add_option("--channel", o->channel, "channel (default stable)");
  command->add_flag("--disabled", o->disabled, "publish it disabled (offered to nobody until enabled)");
  add_common(command, *o);
  command->callback([&context, o] {
    if (o->url.empty() || o->size < 0 || o->sha256.empty()) throw UsageError("firmware publish: give --url, --size and --sha256");
    JsonBody request;
    request.integer("productId", o->product_id).string("version", o->version).string("downloadUrl", o->url);
    request.integer("fileSize", o->size).string("sha256", o->sha256);
    request.string_if_set("channel", o->channel).string_if_set("changelog", o->changelog).string_if_set("minCurrentVersion", o->min_version);
    if (!o->hardware.empty()) request.strings("hardwareVersions", o->hardware);
    if (o->rollout >= 0) request.integer("rolloutPercent", o->rollout);
    if (o->disabled) request.boolean("enabled", false);
    auto answer = context.api().call("POST", kFirmware.collection, &request.document());
    context.show(answer, [&](std::ostream& out) {
      out << "firmware release " << answer["id"].GetInt64() << " published: product " << o->product_id << " version " << o->version
          << "\n";
    });
  });
}

void add_update(CLI::App& group, Context& context) {
  auto* command = group.add_subcommand("update", "change a release (download, changelog, minimum version, rollout)");
  auto o = std::make_shared<ReleaseOptions>();
  command->add_option("ID", o->id, "release id")->required();
  command->add_flag("--no-min-version", o->no_min_version, "remove the minimum current version");
  add_common(command, *o);
  command->callback([&context, o] {
    JsonBody request;
    request.string_if_set("downloadUrl", o->url).string_if_set("sha256", o->sha256).string_if_set("changelog", o->changelog);
    request.string_if_set("minCurrentVersion", o->min_version);
    if (o->no_min_version) request.string("minCurrentVersion", "");
    if (!o->hardware.empty()) request.strings("hardwareVersions", o->hardware);
    if (o->size >= 0) request.integer("fileSize", o->size);
    if (o->rollout >= 0) request.integer("rolloutPercent", o->rollout);
    if (request.document().MemberCount() == 0) throw UsageError("firmware update: nothing to change");
    auto answer = context.api().call("PATCH", kFirmware.item_path(o->id), &request.document());
    context.show(answer, [&](std::ostream& out) { out << "firmware release " << o->id << " updated\n"; });
  });
}

const Resource kThings{"thing", "/v1/things", "THING", {}};
const Resource kAccess{"access log entry", "/v1/bootstrap/access", "ID",
                       {{"AT", "at"},
                        {"SOURCE", "source"},
                        {"MAC", "mac"},
                        {"ENDPOINT", "endpoint"},
                        {"OUTCOME", "outcome"},
                        {"STATUS", "status"},
                        {"LATENCY_MS", "latencyMs"}}};

}  // namespace

// Password devices (HTTP bootstrap): their credential, its rotation, the access log.
void add_device_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "device", "password devices (HTTP bootstrap): credentials and the access log");
  {
    auto* command = group.add_subcommand("credential", "show a password device's credential (uuid, status, first connect, last seen)");
    auto thing = add_key(*command, kThings);
    command->callback([&context, thing] { context.show_resource(context.api().call("GET", kThings.item_path(*thing) + "/credential")); });
  }
  {
    auto* command = group.add_subcommand("rotate-secret", "give a password device a new secret (the old one stops working at once)");
    auto thing = add_key(*command, kThings);
    command->callback([&context, thing] {
      auto answer = context.api().call("POST", kThings.item_path(*thing) + "/rotate-secret");
      context.show(answer, [&](std::ostream& out) {
        out << "secret of " << *thing << " rotated; new secret (shown once): " << answer["deviceSecret"].GetString() << "\n";
      });
    });
  }
  auto* access = group.add_subcommand("access", "the bootstrap listener's access log, newest first");
  make_list_command(*access, context, kAccess,
                    {{"--mac", "mac", "a MAC address (AA:BB:CC:DD:EE:FF)"},
                     {"--source", "source", "a client address"},
                     {"--endpoint", "endpoint", "/device/info, /firmware/check or /health"},
                     {"--outcome", "outcome", "ok, registered, not_found, bad_request, rate_limited, ..."},
                     {"--since", "since", "Unix milliseconds", true}});
}

void add_firmware_commands(CLI::App& app, Context& context) {
  auto& group = add_group(app, "firmware", "the firmware catalog (releases devices are offered)");
  add_list(group, context, kFirmware,
           {{"--product", "productId", "only this product's releases", true},
            {"--channel", "channel", "only this channel's releases"},
            {"--enabled", "enabled", "true or false"}});
  add_get(group, context, kFirmware);
  add_publish(group, context);
  add_update(group, context);
  add_patch(group, context, kFirmware, "enable", "offer a release to devices again", R"({"enabled":true})", "enabled");
  add_patch(group, context, kFirmware, "disable", "offer a release to no device", R"({"enabled":false})", "disabled");
  add_delete(group, context, kFirmware);
}

}  // namespace provisionctl
