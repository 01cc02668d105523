#pragma once
// Requests per key (a source address, a MAC) per minute, in fixed one-minute
// windows, with bounded memory: at most `max_keys` keys are tracked; expired
// windows are pruned when the table is full (and every minute); when it is
// still full, a new key is refused (fail closed) rather than the table growing.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace provision::service::bootstrap {

class WindowLimiter {
 public:
  WindowLimiter(int per_minute, size_t max_keys) : per_minute_(per_minute), max_keys_(max_keys) {}
  // 0 when allowed; otherwise the seconds until the key may ask again (Retry-After).
  int64_t take(const std::string& key, int64_t now_ms) {
    if (per_minute_ <= 0) return 0;
    std::lock_guard lock(mutex_);
    if (now_ms - last_prune_ms_ >= 60000) prune(now_ms);
    auto it = windows_.find(key);
    if (it == windows_.end() || now_ms - it->second.start_ms >= 60000) {
      if (it == windows_.end() && windows_.size() >= max_keys_) {
        prune(now_ms);
        if (windows_.size() >= max_keys_) return 60;  // full of live keys: refuse rather than grow
      }
      windows_[key] = {now_ms, 1};
      return 0;
    }
    if (it->second.count >= per_minute_) return std::max<int64_t>(1, (it->second.start_ms + 60000 - now_ms + 999) / 1000);
    ++it->second.count;
    return 0;
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return windows_.size();
  }

 private:
  struct Window {
    int64_t start_ms = 0;
    int count = 0;
  };
  void prune(int64_t now_ms) {
    for (auto it = windows_.begin(); it != windows_.end();)
      it = now_ms - it->second.start_ms >= 60000 ? windows_.erase(it) : std::next(it);
    last_prune_ms_ = now_ms;
  }
  int per_minute_;
  size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
  int64_t last_prune_ms_ = 0;
};

}  // namespace provision::service::bootstrap
