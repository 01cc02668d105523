#include "metrics.h"

#include <algorithm>
#include <cstdio>

#include "util/clock.h"
#include "util/error.h"

namespace provision::service {

namespace {

std::string escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Inserts `extra` into a rendered label set: "{a="1"}" + le -> "{a="1",le="0.5"}".
std::string with_label(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return "{" + extra + "}";
  return labels.substr(0, labels.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string Metrics::render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape(labels[i].second) + "\"";
  }
  return out + "}";
}

void Metrics::declare_counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{help, false, {}, {}, {}, {}, {}};
}

void Metrics::declare_histogram(const std::string& name, const std::string& help, std::vector<double> buckets) {
  std::sort(buckets.begin(), buckets.end());
  std::lock_guard lock(mutex_);
  families_[name] = Family{help, true, std::move(buckets), {}, {}, {}, {}};
}

void Metrics::increment(const std::string& name, const Labels& labels, double by) {
  std::string key = render_labels(labels);
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.histogram) throw Error("undeclared counter " + name);
  it->second.counters[key] += by;
  Family& f = it->second;
  if (f.minute_label.empty()) return;
  const int64_t minute = unix_now() / 60 * 60;
  if (f.minutes.empty() || f.minutes.back().at != minute) f.minutes.push_back({minute, {}});
  while (f.minutes.front().at <= minute - 3600) f.minutes.pop_front();
  std::string value;
  for (const auto& [label, v] : labels)
    if (label == f.minute_label) value = v;
  f.minutes.back().by[value] += by;
}

void Metrics::keep_minutes(const std::string& name, const std::string& label) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.histogram) throw Error("undeclared counter " + name);
  it->second.minute_label = label;
}

std::vector<Metrics::Minute> Metrics::last_hour(const std::string& name) const {
  const int64_t now = unix_now() / 60 * 60;
  std::lock_guard lock(mutex_);
  std::vector<Minute> out;
  auto it = families_.find(name);
  for (int64_t at = now - 59 * 60; at <= now; at += 60) {
    Minute m{at, {}};
    if (it != families_.end())
      for (const auto& kept : it->second.minutes)
        if (kept.at == at) m.by = kept.by;
    out.push_back(std::move(m));
  }
  return out;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  std::string key = render_labels(labels);
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end() || !it->second.histogram) throw Error("undeclared histogram " + name);
  Family& f = it->second;
  Histogram& h = f.histograms[key];
  if (h.counts.empty()) h.counts.assign(f.buckets.size(), 0);
  for (size_t i = 0; i < f.buckets.size(); ++i)
    if (value <= f.buckets[i]) {
      ++h.counts[i];
      break;
    }
  ++h.count;
  h.sum += value;
}

double Metrics::counter_value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto value = it->second.counters.find(render_labels(labels));
  return value == it->second.counters.end() ? 0 : value->second;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + (f.histogram ? " histogram\n" : " counter\n");
    if (!f.histogram) {
      for (const auto& [labels, value] : f.counters) out += name + labels + " " + number(value) + "\n";
      continue;
    }
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += h.counts[i];
        out += name + "_bucket" + with_label(labels, "le=\"" + number(f.buckets[i]) + "\"") + " " + std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket" + with_label(labels, "le=\"+Inf\"") + " " + std::to_string(h.count) + "\n";
      out += name + "_sum" + labels + " " + number(h.sum) + "\n";
      out += name + "_count" + labels + " " + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

Metrics& metrics() {
  static Metrics* instance = [] {
    auto* m = new Metrics;  // never destroyed: worker threads may record during exit
    const std::vector<double> latency{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    m->declare_counter("provision_requests_total", "Provisioning requests by operation and outcome (accepted or the errorCode).");
    m->declare_histogram("provision_request_duration_seconds", "Time a worker spent on a provisioning request.", latency);
    m->declare_counter("provision_certificates_issued_total", "Device certificates issued, by how (csr, keygen, renewal, api).");
    m->declare_counter("provision_rejections_total", "Rejected provisioning requests by errorCode.");
    m->declare_counter("provision_register_thing_retries_total",
                       "RegisterThing retries answered again (a committed registration whose reply was lost).");
    m->declare_histogram("provision_hook_duration_seconds", "Pre-provisioning hook latency, by hook type.", latency);
    m->declare_counter("provision_admin_requests_total", "Admin API requests by method and status.");
    m->declare_counter("provision_admin_auth_failures_total", "Admin API requests without a valid token (missing or unknown).");
    m->declare_counter("provision_firmware_checks_total", "Firmware checks by door (mqtt, http) and whether an update was offered.");
    m->declare_counter("provision_bootstrap_requests_total", "Bootstrap listener requests by endpoint, outcome and status.");
    m->declare_histogram("provision_bootstrap_request_duration_seconds",
                         "Bootstrap listener latency (as the client sees it, the response-time floor included), by endpoint.", latency);
    m->declare_counter("provision_bootstrap_rate_limited_total", "Bootstrap requests refused with 429, by the limit (ip, mac).");
    m->keep_minutes("provision_requests_total", "outcome");
    m->keep_minutes("provision_rejections_total", "error_code");
    return m;
  }();
  return *instance;
}

}  // namespace provision::service
