// The broker's persistence seam. The broker service speaks only to this
// interface, so a PostgreSQL backend can join the SQLite one with the
// same semantics: every change runs inside a transaction that a writer
// opens exclusively (SQLite's BEGIN IMMEDIATE, PostgreSQL's serializable
// transaction), cluster and reservation rows carry a version that every
// UPDATE checks (`... WHERE id = ? AND version = ?` must change exactly
// one row), and a transaction that hits a busy or serialization error is
// run again from the start. Rows are core types, so nothing above this
// file knows a column name.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.h"

namespace lrb::daemon {

// How a transaction uses the store.
enum class TxMode {
  read,         // a consistent snapshot, never blocks writers (WAL)
  write,        // exclusive writer; durable up to the OS (synchronous=NORMAL)
  durable_write // exclusive writer; fsynced before commit returns (FULL)
};

// Which reservations a list returns; empty fields do not filter.
struct ReservationFilter {
  std::string requester_id;
  std::string target_cluster_id;
  std::string either_cluster_id; // requester or provider
  std::vector<core::Phase> phases;
  int limit = 1000;
};

// One entry of the watch log as stored.
struct StoredEvent {
  std::int64_t seq = 0;
  core::WallMs time = 0;
  std::string type;           // "ReservationReserved", "ClusterStale", ...
  std::string cluster_id;     // the cluster concerned (provider)
  std::string requester_id;   // for reservation events
  std::string reservation_id; // "" for cluster events
  std::string phase;          // the reservation's phase after the event
  std::string message;
  std::string reservation; // the reservation's JSON, or ""
};

// The seq range the watch log still holds.
struct EventBounds {
  std::int64_t last_seq = 0;          // highest seq ever written
  std::int64_t compacted_through = 0; // highest seq removed by compaction
};

// The operations of one transaction. Reads see the transaction's
// snapshot; writes are visible to others only after commit. Instances
// live only inside Store::transact and are used by one thread.
class StoreTx {
public:
  virtual ~StoreTx() = default;

  // Returns every cluster row, in id order.
  virtual std::vector<core::Cluster> load_clusters() = 0;
  // Returns the cluster row `id`, or nullopt.
  virtual std::optional<core::Cluster> find_cluster(std::string_view id) = 0;
  // Inserts a new cluster row (its version is stored as given).
  virtual void insert_cluster(const core::Cluster& cluster) = 0;
  // Overwrites the row whose stored version is `expected_version` with
  // `cluster` (including cluster.version); returns false when the row is
  // missing or its version moved on (a conflict).
  virtual bool update_cluster(const core::Cluster& cluster,
                              std::int64_t expected_version) = 0;

  // Returns reservation `id`, or nullopt.
  virtual std::optional<core::Reservation>
  find_reservation(std::string_view id) = 0;
  // Returns reservations matching `filter`, oldest first (createdAt, id).
  virtual std::vector<core::Reservation>
  list_reservations(const ReservationFilter& filter) = 0;
  // Returns the Reserved and Active reservations placed on `cluster_id`.
  virtual std::vector<core::Reservation>
  holding_reservations(std::string_view cluster_id) = 0;
  // Returns every Reserved and Active reservation (for the doctor).
  virtual std::vector<core::Reservation> all_holding_reservations() = 0;
  // Returns up to `limit` holding reservations whose lease or activation
  // deadline is at or before `now`.
  virtual std::vector<core::Reservation> due_reservations(core::WallMs now,
                                                          int limit) = 0;
  // Inserts a new reservation row (version as given).
  virtual void insert_reservation(const core::Reservation& reservation) = 0;
  // Overwrites the row whose stored version is `expected_version`;
  // returns false on a conflict.
  virtual bool update_reservation(const core::Reservation& reservation,
                                  std::int64_t expected_version) = 0;
  // Returns the number of reservation rows.
  virtual std::int64_t count_reservations() = 0;
  // Returns (reservation id, provider id) for every reservation whose
  // provider has no cluster row (for the doctor).
  virtual std::vector<std::pair<std::string, std::string>>
  dangling_targets() = 0;

  // Returns the reservation id recorded for (requester, key), or nullopt.
  virtual std::optional<std::string>
  find_idempotency(std::string_view requester_id, std::string_view key) = 0;
  // Records (requester, key) -> reservation id; returns false when the
  // pair is already taken (the unique key decides, across processes).
  virtual bool insert_idempotency(std::string_view requester_id,
                                  std::string_view key,
                                  std::string_view reservation_id,
                                  core::WallMs now) = 0;
  // Returns every (requester, key, reservation id) row (for the doctor).
  virtual std::vector<std::array<std::string, 3>> list_idempotency() = 0;

  // Appends an event and returns its seq (event.seq is ignored).
  virtual std::int64_t append_event(const StoredEvent& event) = 0;
  // Returns up to `limit` events with seq > `after`, in seq order.
  virtual std::vector<StoredEvent> events_after(std::int64_t after,
                                                int limit) = 0;
  // Returns the seq range of the log.
  virtual EventBounds event_bounds() = 0;
  // Removes events older than `before`, keeping at least the newest one
  // so last_seq survives; returns how many were removed.
  virtual std::int64_t compact_events(core::WallMs before) = 0;
};

// A transactional store of clusters, reservations and events.
// Thread-safe: transact may be called from any thread; writers are
// serialized by the store (and by the database across processes).
class Store {
public:
  virtual ~Store() = default;

  // Runs `fn` inside one transaction and commits it (or rolls back if
  // `fn` throws, rethrowing). A busy or snapshot error runs the whole
  // transaction again, a bounded number of times, so `fn` must be
  // repeatable: it may only change state through the StoreTx. Throws
  // Error(unavailable) when retries run out.
  virtual void transact(TxMode mode,
                        const std::function<void(StoreTx&)>& fn) = 0;

  // Returns the schema version of the open database.
  virtual int schema_version() = 0;

  // Returns whether the store is open, migrated and answering.
  virtual bool healthy() = 0;

  // Returns a description for logs (the path).
  virtual std::string describe() const = 0;
};

} // namespace lrb::daemon
