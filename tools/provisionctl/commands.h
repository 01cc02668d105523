#pragma once
// Every command group of provisionctl, each mapped onto the admin API
// (schemas/openapi.json).
#include <CLI/CLI.hpp>

#include "context.h"

namespace provisionctl {

void add_template_commands(CLI::App& app, Context& context);     // template_commands.cpp
void add_policy_commands(CLI::App& app, Context& context);       // access_commands.cpp
void add_claim_commands(CLI::App& app, Context& context);        // access_commands.cpp
void add_ca_commands(CLI::App& app, Context& context);           // access_commands.cpp
void add_token_commands(CLI::App& app, Context& context);        // access_commands.cpp
void add_identity_commands(CLI::App& app, Context& context);     // access_commands.cpp
void add_thing_commands(CLI::App& app, Context& context);        // fleet_commands.cpp
void add_certificate_commands(CLI::App& app, Context& context);  // fleet_commands.cpp
void add_register_command(CLI::App& app, Context& context);      // fleet_commands.cpp
void add_audit_command(CLI::App& app, Context& context);         // service_commands.cpp
void add_health_commands(CLI::App& app, Context& context);       // service_commands.cpp: health, metrics
void add_enrollment_commands(CLI::App& app, Context& context);   // enrollment_commands.cpp
void add_broker_commands(CLI::App& app, Context& context);       // enrollment_commands.cpp
void add_firmware_commands(CLI::App& app, Context& context);     // firmware_commands.cpp
void add_device_commands(CLI::App& app, Context& context);       // firmware_commands.cpp

// Thrown by a command that has already said what went wrong (enrollment
// import: the lines it refused) and only has its exit status left to give.
struct ExitStatus {
  int code;
};

}  // namespace provisionctl
