// The service as a whole: audit, health and metrics.
#include "commands.h"
#include "errors.h"
#include "resources.h"
#include "util/json.h"

namespace provisionctl {
namespace {

const Resource kAudit{"audit entry", "/v1/audit", "ID",
                      {{"ID", "id"},
                       {"AT", "at"},
                       {"ACTOR", "actor"},
                       {"ACTION", "action"},
                       {"SUBJECT", "subject"},
                       {"RESULT", "result"},
                       {"SOURCE", "source"}}};

// GET /health answers 503 with the same document when degraded: shown, then a failure.
void check_health(Context& context) {
  HttpReply reply = context.api().send("GET", "/health");
  auto health = provision::json::try_parse(reply.body, nullptr);
  if (!health || !health->IsObject() || (reply.status != 200 && reply.status != 503)) throw_failure(reply);
  context.show_resource(*health);
  if (reply.status != 200)
    throw ApiFailure(reply.status, "Degraded",
                     "registry " + provision::json::string_member(*health, "registry").value_or("?") + ", broker " +
                         provision::json::string_member(*health, "broker").value_or("?"));
}

void print_metrics(Context& context) {
  HttpReply reply = context.api().send("GET", "/metrics");
  if (reply.status != 200) throw_failure(reply);
  std::cout << reply.body;
}

}  // namespace

void add_audit_command(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand("audit", "the audit log, newest first");
  make_list_command(*command, context, kAudit,
                    {{"--subject", "subject", "only entries about S"},
                     {"--actor", "actor", "only entries by A"},
                     {"--action", "action", "only action X"},
                     {"--since", "since", "from this Unix time", true},
                     {"--until", "until", "up to this Unix time", true}});
}

void add_health_commands(CLI::App& app, Context& context) {
  app.add_subcommand("health", "registry and broker connection state (exit 1 when degraded)")->callback([&context] {
    check_health(context);
  });
  app.add_subcommand("metrics", "Prometheus metrics (raw text)")->callback([&context] { print_metrics(context); });
}

}  // namespace provisionctl
