// Time as lrb sees it. Wall time (for timestamps shown to people and
// stored in rows) and monotonic time (for every elapsed-time decision:
// leases, deadlines, staleness) come from one injectable Clock, so timer
// behaviour is tested without sleeping and never jumps with the wall.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace lrb::core {

// Milliseconds since the Unix epoch (wall clock).
using WallMs = std::int64_t;
// Milliseconds on a monotonic clock with an arbitrary origin.
using MonoMs = std::int64_t;

// A source of wall and monotonic time; implementations are thread-safe.
class Clock {
public:
  virtual ~Clock() = default;
  // Returns the wall time in milliseconds since the epoch.
  virtual WallMs wall_ms() const = 0;
  // Returns monotonic milliseconds (never goes backwards).
  virtual MonoMs mono_ms() const = 0;
};

// Returns the process-wide real clock.
const Clock& system_clock();

// A clock that moves only when told to; for tests and the simulator.
class ManualClock : public Clock {
public:
  explicit ManualClock(WallMs wall_start = 1'764'000'000'000,
                       MonoMs mono_start = 1'000'000)
      : wall_(wall_start), mono_(mono_start) {}
  WallMs wall_ms() const override { return wall_.load(); }
  MonoMs mono_ms() const override { return mono_.load(); }
  // Moves both clocks forward by `ms`.
  void advance(std::int64_t ms) {
    wall_ += ms;
    mono_ += ms;
  }

private:
  std::atomic<WallMs> wall_;
  std::atomic<MonoMs> mono_;
};

// Formats wall time as RFC 3339 UTC with milliseconds
// ("2026-12-04T15:00:00.123Z"; the fraction is omitted when zero).
std::string format_rfc3339(WallMs t);

// Parses RFC 3339 (with 'Z' or a numeric offset, optional fraction);
// throws Error(invalid_argument) naming `field`.
WallMs parse_rfc3339(std::string_view text, std::string_view field);

} // namespace lrb::core
