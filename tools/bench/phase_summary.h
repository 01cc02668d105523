#pragma once
// A measured phase as a JSON object: rate, latency percentiles per step,
// errors by kind, CPU per process and memory. The Markdown report is rendered
// from these objects (report.h), so stdout and --json always agree.
#include <rapidjson/document.h>

#include <string>

#include "flow_runner.h"

namespace provision::bench {

// `flow` names what was measured ("CreateCertificateFromCsr", "baseline", ...).
rapidjson::Value summarise_phase(const PhaseMeasurement& m, const std::string& flow, size_t concurrency,
                                 rapidjson::Document::AllocatorType& a);

}  // namespace provision::bench
