// The watch side of the event log. Every event is first committed to the
// store with the change it describes; this class then keeps the newest
// ones in memory, already rendered as JSON, so that hundreds of parked
// watchers are woken and served without touching the database. A watcher
// whose position is older than the memory window is served from the
// store instead, and one whose position was compacted away gets 410.
//
// The window is bounded by bytes as well as by count: a reservation event
// carries the reservation's JSON with its decision rows (kilobytes), so a
// count bound alone let the tail grow to hundreds of MiB, and the start
// that refills it read as much. Watchers park per cluster: an event wakes
// only the watchers of the clusters it concerns (and those of every
// cluster), because with a thread per watcher a single wake-all made each
// event cost a thousand context switches.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
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

// Returns an estimate, from above, of the bytes render_event(event)
// takes, so that a caller can bound what it reads before rendering.
std::size_t event_size_estimate(const StoredEvent& event);

// One page of a watch.
struct EventPage {
  std::vector<std::string> events; // rendered JSON objects
  std::int64_t last_seq = 0;       // resume position for the next call
};

// The in-memory tail of the log. Thread-safe.
class EventLog {
public:
  // Keeps at most `capacity` events and `max_bytes` of rendered JSON in
  // memory, dropping the oldest.
  explicit EventLog(std::size_t capacity = 65'536,
                    std::size_t max_bytes = 8 * 1024 * 1024);

  // Returns the count bound.
  std::size_t capacity() const { return capacity_; }

  // Returns the byte bound.
  std::size_t max_bytes() const { return max_bytes_; }

  // Replaces the contents at start: the store's bounds and its newest
  // events, in seq order and ending at bounds.last_seq.
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

  // Waits until an event after `seen` concerning `cluster_id` ("" for
  // any) may exist, `deadline` passes or the log is closed; returns
  // whether one may exist (true also when `seen` is older than what
  // memory tracks, so that the caller reads the store).
  bool wait_after(std::int64_t seen, std::string_view cluster_id,
                  std::chrono::steady_clock::time_point deadline) const;

  // Returns the bytes of rendered JSON held.
  std::size_t bytes() const;

  // Returns how many events are held in memory.
  std::size_t size() const;

  // Wakes every waiter for good (shutdown).
  void close();

  // Returns the seq range.
  EventBounds bounds() const;

private:
  struct Entry {
    StoredEvent event;
    std::string json;
  };
  // The watchers parked on one cluster id; the node lives while any
  // waits on `cv`.
  struct Parked {
    std::condition_variable cv;
    int waiting = 0;
  };
  using Latest = std::map<std::string, std::int64_t, std::less<>>;

  // Adds one rendered event and records the clusters it concerns.
  void push(StoredEvent event, std::string json);
  // Drops the oldest events while a bound is exceeded.
  void trim();
  // Returns whether an event after `seen` concerning `cluster_id` may
  // exist (called with mu_ held).
  bool may_have(std::int64_t seen, std::string_view cluster_id) const;
  // Wakes the watchers parked on `cluster_id`, if any (mu_ held).
  void wake(std::string_view cluster_id) const;

  std::size_t capacity_;
  std::size_t max_bytes_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Parked, std::less<>> parked_;
  std::deque<Entry> tail_;
  std::size_t bytes_ = 0;
  // Newest seq concerning each cluster, complete for seqs after
  // tracked_from_ (before it, the log does not know).
  Latest latest_;
  std::int64_t tracked_from_ = 0;
  EventBounds bounds_;
  bool closed_ = false;
};

} // namespace lrb::daemon
