// The broker service: advertisements, decisions, locks and the
// reservation lifecycle of DESIGN.md section 7, independent of HTTP.
//
// The cluster table lives in memory, loaded from the store at start, and
// is the snapshot every decision reads (under a shared lock, without
// copying it). The store stays the source of truth: a change is committed
// first and applied to memory after, and the whole commit-then-apply step
// runs under one writer mutex, so memory never runs ahead of the
// database nor behind it once the mutex is released. Decisions are taken
// outside that mutex; the lock on the chosen cluster is an UPDATE that
// must find the version the decision saw. When another writer got there
// first, the decision is taken again on fresh rows, holding the writer
// mutex so that the retry cannot lose again to this process, a bounded
// number of times.
//
// Creates are group-committed: each is decided, then queued; the thread
// that next holds the writer mutex commits every queued create in one
// durable transaction (one fsync for the lot). Inside the batch a create
// whose decision went out of date (an earlier create of the batch locked
// the same cluster) decides again on the batch's uncommitted rows,
// swapped into the table under its exclusive lock for that decision only,
// so no reader ever sees them before the commit.
//
// Elapsed time (leases, activation deadlines, staleness) is measured on
// the injected clock's monotonic side; stored timestamps are the wall
// time at start plus the monotonic time since, so a wall-clock step
// never expires a lease early.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/scoring.h"
#include "core/types.h"
#include "daemon/events.h"
#include "daemon/identity.h"
#include "daemon/metrics.h"
#include "daemon/store.h"

namespace lrb::daemon {

// The broker's tunables (the `lrb broker` flags).
struct BrokerConfig {
  std::int64_t stale_after_ms = 45'000;
  std::int64_t startup_grace_ms = -1; // < 0: the same as stale_after_ms
  std::int64_t activation_timeout_ms = 600'000;
  std::int64_t default_duration_ms = 3'600'000;
  std::int64_t max_duration_ms = 86'400'000;
  std::int64_t event_retention_ms = 3'600'000;
  int max_watchers = 512;
  core::ScoringConfig scoring;
};

// The outcome of an advertisement.
struct AdvertiseResult {
  core::Cluster cluster;
  bool created = false;
  bool ignored = false; // a lower generation than the stored one
  std::string note;
};

// The outcome of a create.
struct CreateResult {
  core::Reservation reservation;
  bool replayed = false; // an Idempotency-Key matched an earlier create
};

// What one sweep did.
struct SweepResult {
  int expired = 0;
  int stale = 0;
  std::int64_t compacted = 0;
};

// The service. Thread-safe: every public member may be called from any
// HTTP worker and from the sweeper at once.
class Broker {
public:
  // Loads the cluster table and the event tail from `store`. Clusters
  // start Ready (or Cordoned) and go stale only after the startup grace.
  Broker(Store& store, const core::Clock& clock, BrokerConfig config,
         Metrics& metrics);

  // Upserts a cluster's advertisement (its heartbeat).
  AdvertiseResult advertise(const RequestContext& ctx, core::Advertisement ad);
  // Returns every cluster, sorted by id.
  std::vector<core::Cluster> clusters() const;
  // Returns one cluster; throws Error(not_found).
  core::Cluster cluster(std::string_view id) const;
  // Cordons or uncordons a cluster; idempotent.
  core::Cluster set_cordoned(const RequestContext& ctx, std::string_view id,
                             bool cordoned);

  // Decides, locks and stores a reservation (Reserved, or Failed with
  // the reasons). With a non-empty `idempotency_key`, a repeat of an
  // earlier create by the same requester returns that reservation.
  CreateResult create(const RequestContext& ctx,
                      core::ReservationRequest request,
                      std::string_view idempotency_key);
  // Returns the full decision for a request without locking anything.
  core::Decision explain(core::ReservationRequest request) const;

  // Returns one reservation; throws Error(not_found).
  core::Reservation reservation(std::string_view id);
  // Returns the reservations matching `filter`.
  std::vector<core::Reservation> reservations(const ReservationFilter& filter);

  // Moves a Reserved reservation to Active; `granted`, when given, lowers
  // the held amounts (each at most the reserved amount).
  core::Reservation activate(const RequestContext& ctx, std::string_view id,
                             const std::optional<core::ResourceList>& granted);
  // Extends a Reserved or Active lease to now + `duration_ms` (default:
  // the broker's default duration).
  core::Reservation renew(const RequestContext& ctx, std::string_view id,
                          std::optional<std::int64_t> duration_ms);
  // Releases a Reserved or Active reservation.
  core::Reservation release(const RequestContext& ctx, std::string_view id,
                            std::string_view reason);

  // Expires due reservations, marks silent clusters Stale and compacts
  // old events; called by the sweeper.
  SweepResult sweep();

  // Returns the events after `since` that concern `cluster_id` (all when
  // empty), waiting up to `timeout_ms` for one when there are none yet.
  // Throws Error(gone) when `since` was compacted away.
  EventPage watch(std::int64_t since, std::string_view cluster_id,
                  std::int64_t timeout_ms);

  // Wakes every parked watcher and makes new ones answer at once.
  void shutdown();

  // Returns whether the store is open and migrated.
  bool ready();

  // Appends the broker's metrics and the per-cluster gauges.
  void write_metrics(std::string& out) const;

  // Returns the current broker time (wall milliseconds).
  core::WallMs now() const;

private:
  struct Plan;
  struct CreateJob;
  struct CreateOutcome;
  struct Table {
    std::vector<core::Cluster> clusters; // what decide() reads
    std::vector<core::MonoMs> heard;     // last advertisement, monotonic
    std::vector<char> stale;
    std::unordered_map<std::string, std::size_t> index;
    std::uint64_t epoch = 0; // bumps on every change
  };
  using Change = std::function<bool(core::Reservation&)>;

  void load();
  bool is_stale(std::string_view id) const;
  void apply_cluster(const core::Cluster& next, bool stale,
                     std::optional<core::MonoMs> heard);
  void reload_cluster(std::string_view id);
  std::pair<std::optional<core::Cluster>, bool>
  current_row(std::string_view id) const;
  bool store_advertisement(core::Cluster& next,
                           const std::optional<core::Cluster>& current,
                           bool was_stale, std::vector<StoredEvent>& events);

  core::ReservationRequest normalized(core::ReservationRequest request) const;
  Plan plan(const core::ReservationRequest& request) const;
  Plan plan_locked(const core::ReservationRequest& request) const;
  Plan plan_with(const core::ReservationRequest& request,
                 std::unordered_map<std::string, core::Cluster>& overlay);
  bool plan_is_current(
      const Plan& plan,
      const std::unordered_map<std::string, core::Cluster>& overlay) const;
  core::Reservation new_reservation(const core::ReservationRequest& request,
                                    std::string_view key,
                                    const Plan& plan) const;
  void commit_queued();
  void commit_batch(std::vector<std::shared_ptr<CreateJob>>& batch);
  void create_in(StoreTx& tx, CreateJob& job,
                 std::unordered_map<std::string, core::Cluster>& overlay,
                 CreateOutcome& out);
  static void finish(std::vector<std::shared_ptr<CreateJob>>& batch,
                     std::exception_ptr error);
  std::optional<CreateResult> replay(const core::ReservationRequest& request,
                                     std::string_view key);
  void check_same_request(const core::Reservation& earlier,
                          const core::ReservationRequest& request,
                          std::string_view key) const;
  void record_decision(const core::Reservation& r, double decision_seconds,
                       double total_seconds);

  std::optional<core::Cluster>
  held_change(const core::Reservation& before,
              const core::Reservation& after) const;
  core::Reservation transition(std::string_view id, const Change& change,
                               std::string_view event, TxMode mode);

  int expire_due();
  bool silent(std::size_t index, core::MonoMs mono) const;
  std::vector<std::string> silent_clusters() const;
  bool still_silent(const std::string& id) const;
  int mark_stale();
  std::int64_t compact();

  StoredEvent reservation_event(std::string_view type,
                                const core::Reservation& r,
                                std::string message = {}) const;
  StoredEvent cluster_event(std::string_view type, std::string_view id,
                            std::string message = {}) const;
  EventPage collect(std::int64_t since, std::string_view cluster_id) const;
  EventPage wait_for_events(std::int64_t since, std::string_view cluster_id,
                            std::int64_t timeout_ms);

  Store& store_;
  const core::Clock& clock_;
  BrokerConfig config_;
  Metrics& metrics_;
  core::WallMs wall_origin_;
  core::MonoMs mono_origin_;

  mutable std::shared_mutex table_mu_;
  Table table_;
  std::mutex write_mu_; // commit-then-apply, one writer at a time
  std::mutex queue_mu_;
  std::deque<std::shared_ptr<CreateJob>> queue_; // creates to commit
  EventLog events_;
  std::atomic<int> parked_{0};
  std::atomic<bool> stopping_{false};
};

// Returns a fresh reservation id: "r-" and 16 random lowercase hex
// digits (a DNS label, so agents can name Kubernetes objects after it).
std::string new_reservation_id();

} // namespace lrb::daemon
