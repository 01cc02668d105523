// provisionctl: a command-line client of provisiond's admin API
// (schemas/openapi.json). Exit status: 0 success, 1 the API refused or
// failed or could not be reached, 2 bad usage.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "commands.h"
#include "context.h"
#include "errors.h"

namespace provisionctl {
namespace {

constexpr const char* kProgram = "provisionctl";

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

void add_connection_flags(CLI::App& app, Context& context) {
  auto& flags = context.connection;
  app.add_option("--url", flags.url, "admin API URL (else $PROVISION_ADMIN_URL, $ADMIN_URL, the config file)");
  app.add_option("--token", flags.token, "API token (else $PROVISION_ADMIN_TOKEN, $ADMIN_TOKEN, the config file)");
  app.add_option("--config", flags.config_file,
                 "config file {\"url\", \"token\", \"caFile\"} (default: $XDG_CONFIG_HOME/provisionctl/config.json)");
  app.add_option("--ca-file", flags.ca_file, "CA certificate that verifies an https server");
  app.add_flag("--json", context.json, "print the API's JSON instead of tables");
}

void build_commands(CLI::App& app, Context& context) {
  app.fallthrough();  // the flags above are accepted after any subcommand too
  app.require_subcommand(1);
  add_connection_flags(app, context);
  add_template_commands(app, context);
  add_policy_commands(app, context);
  add_claim_commands(app, context);
  add_ca_commands(app, context);
  add_thing_commands(app, context);
  add_certificate_commands(app, context);
  add_register_command(app, context);
  add_audit_command(app, context);
  add_token_commands(app, context);
  add_identity_commands(app, context);
  add_health_commands(app, context);
  add_enrollment_commands(app, context);
  add_broker_commands(app, context);
  add_firmware_commands(app, context);
  add_device_commands(app, context);
}

int usage_error(const std::string& message) {
  std::cerr << kProgram << ": " << one_line(message) << "\n";
  return kExitUsage;
}

// "provisionctl: 400 InvalidTemplate: <message> (field: body.Resources)", then each detail.
int api_failure(const ApiFailure& failure) {
  std::cerr << kProgram << ": " << failure.status << " " << failure.code << ": " << one_line(failure.what());
  if (!failure.field.empty()) std::cerr << " (field: " << failure.field << ")";
  std::cerr << "\n";
  for (const auto& [path, problem] : failure.details) std::cerr << "  " << path << ": " << one_line(problem) << "\n";
  return kExitFailed;
}

int run(int argc, char** argv) {
  Context context;
  CLI::App app{"Manage an MQTT fleet provisioning service through its admin API.", kProgram};
  build_commands(app, context);
  try {
    app.parse(argc, argv);  // the chosen command runs as its callback
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return usage_error(e.what());
  } catch (const ExitStatus& e) {
    return e.code;
  } catch (const UsageError& e) {
    return usage_error(e.what());
  } catch (const ApiFailure& e) {
    return api_failure(e);
  } catch (const std::exception& e) {  // Unreachable, or a file that could not be written
    std::cerr << kProgram << ": " << one_line(e.what()) << "\n";
    return kExitFailed;
  }
}

}  // namespace
}  // namespace provisionctl

int main(int argc, char** argv) {
  // The admin API refuses a request it will not serve before reading its
  // body, and closes the connection: writing on is then an error to report
  // ("sending the request failed"), not a signal that ends provisionctl.
  std::signal(SIGPIPE, SIG_IGN);
  return provisionctl::run(argc, argv);
}
