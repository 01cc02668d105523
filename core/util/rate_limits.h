#pragma once
// Token-bucket rate limits per key (a claim certificate, a source address, a
// MAC address...), shared by the broker plugin and provisiond's listeners.
// Not thread-safe: a caller with several threads holds its own lock.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace provision {

// "rate/burst": `per_second` tokens are added each second up to `burst`.
// A zero rate means no limit.
struct Rate {
  double per_second = 0;
  double burst = 0;
  bool unlimited() const { return per_second <= 0; }
};

// Parses "20/40" (20 per second, bursts of 40), "20" (burst = rate) or "0"
// (no limit); nullopt for anything else.
std::optional<Rate> parse_rate(std::string_view text);

// One bucket on its own (e.g. per connection, held by its owner): full at
// first use, then `rate.per_second` tokens a second up to `rate.burst`.
struct TokenBucket {
  double tokens = -1;  // < 0: not used yet
  int64_t updated_ms = 0;
  // Takes one token at `now_ms`; false when the bucket is empty. Always
  // true for an unlimited rate.
  bool take(const Rate& rate, int64_t now_ms);
};

class RateLimiter {
 public:
  // At most `max_keys` buckets (0: no bound): past it, buckets that refilled
  // are forgotten first, and a new key is refused while none can be, so a
  // flood of new keys costs bounded memory and fails closed.
  explicit RateLimiter(Rate rate = {}, size_t max_keys = 0) : rate_(rate), max_keys_(max_keys) {}
  void set_rate(Rate rate) { rate_ = rate; }

  // Takes one token for `key` at `now_ms`; false when the bucket is empty.
  bool take(const std::string& key, int64_t now_ms);
  // How long until `key` has a token (0: now), without taking one.
  int64_t wait_ms(const std::string& key, int64_t now_ms);
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
  size_t max_keys_ = 0;
  std::unordered_map<std::string, Bucket> buckets_;
};

// A RateLimiter for callers on several threads (provisiond's listeners).
class SharedRateLimiter {
 public:
  explicit SharedRateLimiter(Rate rate = {}, size_t max_keys = 0) : limiter_(rate, max_keys) {}
  // "n a minute, in bursts of n": the listeners' configured limits (0: none).
  static Rate per_minute(int n) { return Rate{n / 60.0, static_cast<double>(n)}; }
  void set_rate(Rate rate) {
    std::lock_guard lock(mutex_);
    limiter_.set_rate(rate);
  }

  // 0 when `key` may go on (a token taken); otherwise the whole seconds
  // until it may (at least 1: a Retry-After), nothing taken.
  int64_t take_or_retry_after(const std::string& key, int64_t now_ms) {
    std::lock_guard lock(mutex_);
    if (limiter_.take(key, now_ms)) return 0;
    return std::max<int64_t>(1, (limiter_.wait_ms(key, now_ms) + 999) / 1000);
  }
  bool take(const std::string& key, int64_t now_ms) {
    std::lock_guard lock(mutex_);
    return limiter_.take(key, now_ms);
  }
  int64_t wait_ms(const std::string& key, int64_t now_ms) {
    std::lock_guard lock(mutex_);
    return limiter_.wait_ms(key, now_ms);
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return limiter_.size();
  }

 private:
  mutable std::mutex mutex_;
  RateLimiter limiter_;
};

}  // namespace provision
