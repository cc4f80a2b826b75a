// The watch side of the event log. Every event is first committed to the
// store with the change it describes; this class then keeps the newest
// ones in memory, already rendered as JSON, so that hundreds of parked
// watchers are woken and served without touching the database. A watcher
// whose position is older than the memory window is served from the
// store instead, and one whose position was compacted away gets 410.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/store.h"

namespace lrb::daemon {

// Event types, as they appear in the "type" field.
namespace event_type {
inline constexpr std::string_view cluster_registered = "ClusterRegistered";
inline constexpr std::string_view cluster_ready = "ClusterReady";
inline constexpr std::string_view cluster_stale = "ClusterStale";
inline constexpr std::string_view cluster_cordoned = "ClusterCordoned";
inline constexpr std::string_view cluster_uncordoned = "ClusterUncordoned";
inline constexpr std::string_view reserved = "ReservationReserved";
inline constexpr std::string_view failed = "ReservationFailed";
inline constexpr std::string_view activated = "ReservationActivated";
inline constexpr std::string_view renewed = "ReservationRenewed";
inline constexpr std::string_view released = "ReservationReleased";
inline constexpr std::string_view expired = "ReservationExpired";
inline constexpr std::string_view provider_stale = "ReservationProviderStale";
} // namespace event_type

// Returns the wire JSON of one event: seq, type, time, clusterID and,
// for reservation events, requesterID, reservationID, phase and the
// reservation itself.
std::string render_event(const StoredEvent& event);

// Returns whether `event` concerns `cluster_id` as provider, requester
// or subject ("" matches every event).
bool event_concerns(const StoredEvent& event, std::string_view cluster_id);

// One page of a watch.
struct EventPage {
  std::vector<std::string> events; // rendered JSON objects
  std::int64_t last_seq = 0;       // resume position for the next call
};

// The in-memory tail of the log. Thread-safe.
class EventLog {
public:
  // Keeps at most `capacity` events in memory.
  explicit EventLog(std::size_t capacity = 65'536);

  // Replaces the contents at start: the store's bounds and newest events.
  void reset(const EventBounds& bounds, std::vector<StoredEvent> tail);

  // Adds committed events (in seq order) and wakes the watchers.
  void append(const std::vector<StoredEvent>& events);

  // Drops events up to `through`, which the store has compacted.
  void compacted(std::int64_t through);

  // Returns the events after `since` concerning `cluster_id`, at most
  // `limit`, or nullopt when some of them are no longer in memory (the
  // caller reads the store).
  std::optional<EventPage> collect(std::int64_t since,
                                   std::string_view cluster_id,
                                   std::size_t limit) const;

  // Waits until an event after `seen` exists, `deadline` passes or the
  // log is closed; returns whether a new event exists.
  bool wait_after(std::int64_t seen,
                  std::chrono::steady_clock::time_point deadline) const;

  // Wakes every waiter for good (shutdown).
  void close();

  // Returns the seq range.
  EventBounds bounds() const;

private:
  struct Entry {
    StoredEvent event;
    std::string json;
  };
  std::size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Entry> tail_;
  EventBounds bounds_;
  bool closed_ = false;
};

} // namespace lrb::daemon
