#pragma once
// Process-wide counters and histograms, rendered in the Prometheus text
// format (GET /metrics). Thread-safe; recording costs one mutex and a map
// lookup, far below a provisioning request's cost.
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace provision::service {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // Declares a metric (its help text and type); recording an undeclared one throws.
  void declare_counter(const std::string& name, const std::string& help);
  void declare_histogram(const std::string& name, const std::string& help, std::vector<double> buckets);

  void increment(const std::string& name, const Labels& labels = {}, double by = 1);
  void observe(const std::string& name, const Labels& labels, double value);

  std::string render() const;
  // The current value of a counter (tests and /health use it); 0 when never incremented.
  double counter_value(const std::string& name, const Labels& labels = {}) const;

  // A counter's increments minute by minute over the last hour, by the value
  // of one of its labels (the console's charts, GET /v1/summary). Kept for
  // the counters keep_minutes names.
  struct Minute {
    int64_t at = 0;                    // Unix time of the minute's start
    std::map<std::string, double> by;  // label value -> increments in that minute
  };
  void keep_minutes(const std::string& name, const std::string& label);
  std::vector<Minute> last_hour(const std::string& name) const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket (cumulative when rendered)
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    std::string help;
    bool histogram = false;
    std::vector<double> buckets;
    std::map<std::string, double> counters;        // rendered label set -> value
    std::map<std::string, Histogram> histograms;   // rendered label set -> histogram
    std::string minute_label;                       // set: `minutes` is kept
    std::deque<Minute> minutes;                     // oldest first, at most 60
  };
  static std::string render_labels(const Labels& labels);
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// The metrics of this process, with every metric provisiond records declared.
Metrics& metrics();

}  // namespace provision::service
