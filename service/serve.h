#pragma once
#include <string>

namespace provision::service {

// Runs the worker and its admin API with the configuration in `config_file`
// until SIGINT or SIGTERM; returns the exit status.
int serve(const std::string& config_file);

}  // namespace provision::service
