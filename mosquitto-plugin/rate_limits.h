#pragma once
// Token-bucket rate limits, keyed by claim certificate or source address.
#include <cstdint>
#include <string>
#include <unordered_map>

namespace provision::plugin {

// "rate/burst": `per_second` tokens are added each second up to `burst`.
// A zero rate means no limit.
struct Rate {
  double per_second = 0;
  double burst = 0;
  bool unlimited() const { return per_second <= 0; }
};

// Parses "20/40" (20 per second, bursts of 40), "20" (burst = rate) or "0"
// (no limit); throws Error otherwise.
Rate parse_rate(const std::string& key, const std::string& text);

class RateLimiter {
 public:
  explicit RateLimiter(Rate rate = {}) : rate_(rate) {}
  void set_rate(Rate rate) { rate_ = rate; }

  // Takes one token for `key` at `now_ms`; false when the bucket is empty.
  bool take(const std::string& key, int64_t now_ms);
  // Forgets buckets that have refilled completely (they hold nothing a fresh
  // bucket would not), so that memory follows the active keys only.
  void prune(int64_t now_ms);
  size_t size() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  void refill(Bucket& bucket, int64_t now_ms) const;

  Rate rate_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace provision::plugin
