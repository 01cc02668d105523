#include "rate_limits.h"

#include <algorithm>
#include <charconv>

#include "util/error.h"

namespace provision::plugin {
namespace {

bool parse_number(std::string_view s, double& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0 && out <= 1e9;
}

}  // namespace

Rate parse_rate(const std::string& key, const std::string& text) {
  Rate rate;
  std::string_view s = text;
  auto slash = s.find('/');
  bool ok = parse_number(s.substr(0, slash), rate.per_second);
  if (ok && slash != std::string_view::npos) ok = parse_number(s.substr(slash + 1), rate.burst) && rate.burst >= 1;
  else rate.burst = std::max(rate.per_second, 1.0);
  if (!ok) throw Error("plugin_opt_" + key + ": expected RATE or RATE/BURST (per second), got '" + text + "'");
  return rate;
}

void RateLimiter::refill(Bucket& bucket, int64_t now_ms) const {
  if (now_ms > bucket.updated_ms) {
    bucket.tokens = std::min(rate_.burst, bucket.tokens + rate_.per_second * static_cast<double>(now_ms - bucket.updated_ms) / 1000.0);
    bucket.updated_ms = now_ms;
  }
}

bool RateLimiter::take(const std::string& key, int64_t now_ms) {
  if (rate_.unlimited()) return true;
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{rate_.burst, now_ms});
  Bucket& bucket = it->second;
  if (!inserted) refill(bucket, now_ms);
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

void RateLimiter::prune(int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now_ms);
    if (rate_.unlimited() || it->second.tokens >= rate_.burst) it = buckets_.erase(it);
    else ++it;
  }
}

}  // namespace provision::plugin
