#include "util/rate_limits.h"

#include <algorithm>
#include <charconv>

#include <cmath>

namespace provision {
namespace {

bool parse_number(std::string_view s, double& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0 && out <= 1e9;
}

}  // namespace

std::optional<Rate> parse_rate(std::string_view s) {
  Rate rate;
  auto slash = s.find('/');
  bool ok = parse_number(s.substr(0, slash), rate.per_second);
  if (ok && slash != std::string_view::npos) ok = parse_number(s.substr(slash + 1), rate.burst) && rate.burst >= 1;
  else rate.burst = std::max(rate.per_second, 1.0);
  if (!ok) return std::nullopt;
  return rate;
}

bool TokenBucket::take(const Rate& rate, int64_t now_ms) {
  if (rate.unlimited()) return true;
  if (tokens < 0) {
    tokens = rate.burst;
  } else if (now_ms > updated_ms) {
    tokens = std::min(rate.burst, tokens + rate.per_second * static_cast<double>(now_ms - updated_ms) / 1000.0);
  }
  updated_ms = std::max(updated_ms, now_ms);
  if (tokens < 1.0) return false;
  tokens -= 1.0;
  return true;
}

void RateLimiter::refill(Bucket& bucket, int64_t now_ms) const {
  if (now_ms > bucket.updated_ms) {
    bucket.tokens = std::min(rate_.burst, bucket.tokens + rate_.per_second * static_cast<double>(now_ms - bucket.updated_ms) / 1000.0);
    bucket.updated_ms = now_ms;
  }
}

bool RateLimiter::take(const std::string& key, int64_t now_ms) {
  if (rate_.unlimited()) return true;
  if (max_keys_ && buckets_.size() >= max_keys_ && !buckets_.count(key)) {
    prune(now_ms);
    if (buckets_.size() >= max_keys_) return false;
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{rate_.burst, now_ms});
  Bucket& bucket = it->second;
  if (!inserted) refill(bucket, now_ms);
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

int64_t RateLimiter::wait_ms(const std::string& key, int64_t now_ms) {
  if (rate_.unlimited()) return 0;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return max_keys_ && buckets_.size() >= max_keys_ ? 1000 : 0;
  refill(it->second, now_ms);
  if (it->second.tokens >= 1.0) return 0;
  return static_cast<int64_t>(std::ceil((1.0 - it->second.tokens) * 1000.0 / rate_.per_second));
}

void RateLimiter::prune(int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now_ms);
    if (rate_.unlimited() || it->second.tokens >= rate_.burst) it = buckets_.erase(it);
    else ++it;
  }
}

}  // namespace provision
