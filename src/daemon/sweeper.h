// The sweeper: one background thread that calls Broker::sweep on a fixed
// interval, so leases, activation deadlines and staleness are enforced
// even when no request arrives. A sweep that throws is logged and the
// next one runs as usual: timers must not stop because of one bad row.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "daemon/broker.h"

namespace lrb::daemon {

// Runs Broker::sweep every `interval_ms` until stopped.
class Sweeper {
public:
  Sweeper(Broker& broker, std::int64_t interval_ms);
  ~Sweeper();
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Starts the thread.
  void start();
  // Stops and joins the thread; idempotent.
  void stop();

private:
  void run();

  Broker& broker_;
  std::int64_t interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace lrb::daemon
