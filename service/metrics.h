#pragma once
// Process-wide counters and histograms, rendered in the Prometheus text
// format (GET /metrics). Thread-safe; recording costs one mutex and a map
// lookup, far below a provisioning request's cost.
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
  };
  static std::string render_labels(const Labels& labels);
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// The metrics of this process, with every metric provisiond records declared.
Metrics& metrics();

}  // namespace provision::service
