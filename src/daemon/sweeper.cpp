#include "daemon/sweeper.h"

#include <chrono>

#include "core/log.h"

namespace lrb::daemon {

Sweeper::Sweeper(Broker& broker, std::int64_t interval_ms)
    : broker_(broker), interval_ms_(interval_ms) {}

Sweeper::~Sweeper() {
  stop();
}

void Sweeper::start() {
  thread_ = std::thread([this] { run(); });
}

void Sweeper::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Sweeper::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_),
                       [this] { return stopping_; })) {
    lock.unlock();
    try {
      auto r = broker_.sweep();
      if (r.expired > 0 || r.stale > 0) {
        LRB_LOG(debug, "sweep", kv("expired", r.expired), kv("stale", r.stale),
                kv("compacted", r.compacted));
      }
    } catch (const std::exception& e) {
      LRB_LOG(error, "sweep failed", kv("error", e.what()));
    }
    lock.lock();
  }
}

} // namespace lrb::daemon
