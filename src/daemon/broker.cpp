#include "daemon/broker.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <random>
#include <span>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/json.h"
#include "core/lifecycle.h"
#include "core/log.h"
#include "core/quoting.h"
#include "daemon/accounting.h"

namespace lrb::daemon {

using core::Cluster;
using core::Code;
using core::Error;
using core::Phase;
using core::Reservation;

namespace {

constexpr int k_max_attempts = 8;
constexpr std::size_t k_max_batch = 128;
constexpr int k_due_batch = 256;
constexpr std::size_t k_watch_page = 500;
constexpr int k_store_scan = 2000;
constexpr std::int64_t k_max_watch_ms = 10 * 60'000;
constexpr std::size_t k_max_reason = 1024;
constexpr std::size_t k_max_idempotency_key = 255;
// Events read per step when the start walks the log back from its end.
constexpr std::int64_t k_load_chunk = 256;

// Thrown inside a transaction when a versioned UPDATE found another
// version: the transaction rolls back and the caller decides again.
struct VersionConflict {};

using SteadyTime = std::chrono::steady_clock::time_point;

double seconds_since(SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// Returns the store's newest events, in seq order, as many as the event
// log keeps in memory: read back from the end a chunk at a time, so that
// a start reads about the log's byte bound, not its count bound of
// kilobyte-sized reservation events.
std::vector<StoredEvent> newest_events(StoreTx& tx, const EventBounds& bounds,
                                       const EventLog& log) {
  std::vector<std::vector<StoredEvent>> chunks; // newest first
  std::size_t bytes = 0;
  std::size_t count = 0;
  std::int64_t to = bounds.last_seq;
  while (to > bounds.compacted_through && bytes < log.max_bytes() &&
         count < log.capacity()) {
    std::int64_t from = std::max(bounds.compacted_through, to - k_load_chunk);
    auto rows = tx.events_after(from, static_cast<int>(to - from));
    for (const auto& e : rows) {
      bytes += event_size_estimate(e);
    }
    count += rows.size();
    chunks.push_back(std::move(rows));
    to = from;
  }
  std::vector<StoredEvent> out;
  out.reserve(count);
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) {
    std::move(it->begin(), it->end(), std::back_inserter(out));
  }
  return out;
}

Error not_found(std::string_view what, std::string_view id) {
  return Error(Code::not_found,
               fmt::format("{} {} not found", what, core::quote_input(id)),
               "id", "NotFound");
}

Error too_many_conflicts(std::string_view what) {
  return Error(Code::conflict,
               fmt::format("{}: the rows kept changing under concurrent "
                           "writers after {} attempts; retry the request",
                           what, k_max_attempts),
               "", "LockConflict");
}

void check_idempotency_key(std::string_view key) {
  bool printable = std::all_of(key.begin(), key.end(),
                               [](char c) { return c > ' ' && c < 0x7f; });
  if (key.size() > k_max_idempotency_key || !printable) {
    throw Error(Code::invalid_argument,
                fmt::format("Idempotency-Key must be 1 to {} printable ASCII "
                            "characters without spaces",
                            k_max_idempotency_key),
                "Idempotency-Key", "InvalidIdempotencyKey");
  }
}

// Explains a failed decision in one line: every excluded cluster kept in
// the decision with its reason, and how many more there were.
std::string failure_message(const core::Decision& decision) {
  if (decision.clusters == 0) {
    return "no cluster has advertised capacity yet";
  }
  std::string message = fmt::format(
      "no cluster can take the request ({} considered)", decision.clusters);
  int shown = 0;
  for (const auto& row : decision.rows) {
    if (!row.candidate) {
      message += fmt::format("{} {}: {}", shown == 0 ? ":" : ";",
                             row.cluster_id, row.reason);
      ++shown;
    }
  }
  if (shown < decision.clusters) {
    message += fmt::format("; and {} more", decision.clusters - shown);
  }
  return message;
}

// Applies an activation's grant: each named resource must have been
// reserved and may only go down.
core::ResourceList granted_after(const Reservation& r,
                                 const core::ResourceList& granted) {
  core::ResourceList out = r.granted;
  granted.for_each([&](std::string_view name, std::int64_t value) {
    std::string field = fmt::format("grantedResources.{}", name);
    if (!r.granted.has(name)) {
      throw Error(Code::invalid_argument,
                  fmt::format("{} was not reserved: grant only the reserved "
                              "resources",
                              name),
                  field, "GrantNotReserved");
    }
    if (value > r.granted.get(name)) {
      throw Error(
          Code::invalid_argument,
          fmt::format("{} {} is above the reserved {}: grant at most the "
                      "reserved amount",
                      name, core::format_resource(name, value),
                      core::format_resource(name, r.granted.get(name))),
          field, "GrantAboveReserved");
    }
    out.set(name, value);
  });
  return out;
}

void check_duration(std::int64_t duration_ms, std::int64_t max_ms) {
  if (duration_ms > max_ms) {
    throw Error(Code::invalid_argument,
                fmt::format("duration {} is above the broker's maximum {}: "
                            "ask for at most {} and renew",
                            core::format_duration(duration_ms),
                            core::format_duration(max_ms),
                            core::format_duration(max_ms)),
                "duration", "DurationTooLong");
  }
}

} // namespace

// A decision with what the lock needs to check it is still valid.
struct Broker::Plan {
  core::Decision decision;
  std::string cluster_id; // chosen; "" when nothing fits
  std::int64_t cluster_version = 0;
  std::string endpoint;
  std::uint64_t epoch = 0;
  std::string message; // why nothing fits
  double seconds = 0;
};

// One create waiting for (or done by) a group commit. Written by the
// thread that commits it, under the writer mutex; read by its own thread
// after taking that mutex.
struct Broker::CreateJob {
  core::ReservationRequest request;
  std::string key;
  Plan plan;
  bool done = false;
  std::optional<CreateResult> result;
  std::exception_ptr error;
};

// What one create of a batch produced inside the transaction.
struct Broker::CreateOutcome {
  Reservation reservation;
  bool replayed = false;
  std::optional<StoredEvent> event;
  double decision_seconds = 0;
  std::exception_ptr error;
};

std::string new_reservation_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("r-{:016x}", rng());
}

Broker::Broker(Store& store, const core::Clock& clock, BrokerConfig config,
               Metrics& metrics)
    : store_(store), clock_(clock), config_(std::move(config)),
      metrics_(metrics), wall_origin_(clock.wall_ms()),
      mono_origin_(clock.mono_ms()) {
  if (config_.startup_grace_ms < 0) {
    config_.startup_grace_ms = config_.stale_after_ms;
  }
  load();
}

core::WallMs Broker::now() const {
  return wall_origin_ + (clock_.mono_ms() - mono_origin_);
}

void Broker::load() {
  std::vector<Cluster> clusters;
  EventBounds bounds;
  std::vector<StoredEvent> tail;
  store_.transact(TxMode::read, [&](StoreTx& tx) {
    clusters = tx.load_clusters();
    bounds = tx.event_bounds();
    tail = newest_events(tx, bounds, events_);
  });

  // Silence before the restart does not count: a cluster may go stale
  // only once the startup grace has passed.
  core::MonoMs heard =
      clock_.mono_ms() - config_.stale_after_ms + config_.startup_grace_ms;
  std::unique_lock lock(table_mu_);
  for (auto& c : clusters) {
    refresh_derived(c, false);
    table_.index.emplace(c.ad.cluster_id, table_.clusters.size());
    table_.clusters.push_back(std::move(c));
    table_.heard.push_back(heard);
    table_.stale.push_back(0);
  }
  events_.reset(bounds, std::move(tail));
}

// ---- clusters ----

void Broker::apply_cluster(const Cluster& next, bool stale,
                           std::optional<core::MonoMs> heard) {
  std::unique_lock lock(table_mu_);
  auto [it, inserted] =
      table_.index.emplace(next.ad.cluster_id, table_.clusters.size());
  if (inserted) {
    table_.clusters.push_back(next);
    table_.heard.push_back(heard.value_or(clock_.mono_ms()));
    table_.stale.push_back(stale ? 1 : 0);
  } else {
    table_.clusters[it->second] = next;
    table_.stale[it->second] = stale ? 1 : 0;
    if (heard) {
      table_.heard[it->second] = *heard;
    }
  }
  ++table_.epoch;
}

void Broker::reload_cluster(std::string_view id) {
  std::optional<Cluster> fresh;
  store_.transact(TxMode::read,
                  [&](StoreTx& tx) { fresh = tx.find_cluster(id); });
  if (fresh) {
    bool stale = false;
    {
      std::shared_lock lock(table_mu_);
      auto it = table_.index.find(std::string(id));
      stale = it != table_.index.end() && table_.stale[it->second] != 0;
    }
    refresh_derived(*fresh, stale);
    apply_cluster(*fresh, stale, std::nullopt);
  }
}

std::pair<std::optional<Cluster>, bool>
Broker::current_row(std::string_view id) const {
  std::shared_lock lock(table_mu_);
  auto it = table_.index.find(std::string(id));
  if (it == table_.index.end()) {
    return {std::nullopt, false};
  }
  return {table_.clusters[it->second], table_.stale[it->second] != 0};
}

bool Broker::store_advertisement(Cluster& next,
                                 const std::optional<Cluster>& current,
                                 bool was_stale,
                                 std::vector<StoredEvent>& events) {
  // Only a change of `consumed` can change the effective reserved total;
  // a plain heartbeat keeps it without reading reservations.
  bool recount = !current || current->ad.consumed != next.ad.consumed;
  const auto& id = next.ad.cluster_id;
  try {
    store_.transact(TxMode::write, [&](StoreTx& tx) {
      events.clear();
      next.reserved = recount
                          ? reserved_total(tx.holding_reservations(id), next.ad)
                          : current->reserved;
      refresh_derived(next, false);
      if (current ? !tx.update_cluster(next, current->version)
                  : tx.find_cluster(id).has_value()) {
        throw VersionConflict{};
      }
      if (!current) {
        tx.insert_cluster(next);
      }
      if (!current || was_stale) {
        auto e = cluster_event(current ? event_type::cluster_ready
                                       : event_type::cluster_registered,
                               id);
        e.seq = tx.append_event(e);
        events.push_back(std::move(e));
      }
    });
  } catch (const VersionConflict&) {
    return false;
  }
  return true;
}

AdvertiseResult Broker::advertise(const RequestContext& ctx,
                                  core::Advertisement ad) {
  authorize(ctx.identity, ad.cluster_id);
  core::check_dns_label(ad.cluster_id, "clusterID");
  std::lock_guard writer(write_mu_);
  for (int attempt = 1; attempt <= k_max_attempts; ++attempt) {
    auto [current, was_stale] = current_row(ad.cluster_id);
    if (current && ad.generation < current->ad.generation) {
      return {*current, false, true,
              fmt::format("generation {} is lower than the stored {}: "
                          "advertisement ignored",
                          ad.generation, current->ad.generation)};
    }

    Cluster next;
    next.ad = ad;
    next.cordoned = current && current->cordoned;
    next.last_seen = now();
    next.version = current ? current->version + 1 : 1;
    std::vector<StoredEvent> events;
    if (!store_advertisement(next, current, was_stale, events)) {
      metrics_.lock_conflict();
      reload_cluster(ad.cluster_id);
      continue;
    }

    apply_cluster(next, false, clock_.mono_ms());
    events_.append(events);
    if (!current || was_stale) {
      LRB_LOG(info, current ? "cluster ready" : "cluster registered",
              kv("cluster", ad.cluster_id), kv("generation", ad.generation));
    }
    return {next, !current, false, ""};
  }
  throw too_many_conflicts("advertisement");
}

std::vector<Cluster> Broker::clusters() const {
  std::vector<Cluster> out;
  {
    std::shared_lock lock(table_mu_);
    out = table_.clusters;
  }
  std::sort(out.begin(), out.end(), [](const Cluster& a, const Cluster& b) {
    return a.ad.cluster_id < b.ad.cluster_id;
  });
  return out;
}

Cluster Broker::cluster(std::string_view id) const {
  std::shared_lock lock(table_mu_);
  auto it = table_.index.find(std::string(id));
  if (it == table_.index.end()) {
    throw not_found("cluster", id);
  }
  return table_.clusters[it->second];
}

Cluster Broker::set_cordoned(const RequestContext& ctx, std::string_view id,
                             bool cordoned) {
  require_operator(ctx.identity, "cordon a cluster");
  std::lock_guard writer(write_mu_);
  for (int attempt = 1; attempt <= k_max_attempts; ++attempt) {
    Cluster next = cluster(id);
    bool stale = is_stale(id);
    if (next.cordoned == cordoned) {
      return next;
    }
    std::int64_t expected = next.version;
    next.cordoned = cordoned;
    next.version = expected + 1;
    refresh_derived(next, stale);
    auto e = cluster_event(cordoned ? event_type::cluster_cordoned
                                    : event_type::cluster_uncordoned,
                           id);
    try {
      store_.transact(TxMode::write, [&](StoreTx& tx) {
        if (!tx.update_cluster(next, expected)) {
          throw VersionConflict{};
        }
        e.seq = tx.append_event(e);
      });
    } catch (const VersionConflict&) {
      metrics_.lock_conflict();
      reload_cluster(id);
      continue;
    }
    apply_cluster(next, stale, std::nullopt);
    events_.append({e});
    LRB_LOG(info, cordoned ? "cluster cordoned" : "cluster uncordoned",
            kv("cluster", id));
    return next;
  }
  throw too_many_conflicts("cordon");
}

bool Broker::is_stale(std::string_view id) const {
  std::shared_lock lock(table_mu_);
  auto it = table_.index.find(std::string(id));
  return it != table_.index.end() && table_.stale[it->second] != 0;
}

// ---- decisions ----

core::ReservationRequest
Broker::normalized(core::ReservationRequest request) const {
  if (!request.duration_ms) {
    request.duration_ms = config_.default_duration_ms;
  }
  check_duration(*request.duration_ms, config_.max_duration_ms);
  // Validates the policy now, so a bad one is a 400 before any work.
  core::resolve_policy(request.policy, config_.scoring);
  return request;
}

Broker::Plan Broker::plan(const core::ReservationRequest& request) const {
  std::shared_lock lock(table_mu_);
  return plan_locked(request);
}

Broker::Plan
Broker::plan_with(const core::ReservationRequest& request,
                  std::unordered_map<std::string, Cluster>& overlay) {
  // Swap the batch's uncommitted rows in for the length of one decision.
  // The exclusive lock keeps every reader from seeing them.
  std::unique_lock lock(table_mu_);
  auto swap_all = [&] {
    for (auto& [id, row] : overlay) {
      std::swap(table_.clusters[table_.index.at(id)], row);
    }
  };
  swap_all();
  try {
    Plan p = plan_locked(request);
    swap_all();
    return p;
  } catch (...) {
    swap_all();
    throw;
  }
}

Broker::Plan
Broker::plan_locked(const core::ReservationRequest& request) const {
  auto start = std::chrono::steady_clock::now();
  Plan p;
  p.epoch = table_.epoch;
  std::span<const Cluster> scope(table_.clusters);
  if (!request.target_cluster_id.empty()) {
    auto it = table_.index.find(request.target_cluster_id);
    if (it == table_.index.end()) {
      throw Error(Code::unprocessable,
                  fmt::format("targetClusterID {} names no cluster the "
                              "broker knows: wait for its advertisement or "
                              "omit targetClusterID",
                              core::quote_input(request.target_cluster_id)),
                  "targetClusterID", "UnknownCluster");
    }
    scope = scope.subspan(it->second, 1);
  }

  p.decision =
      core::decide(request, scope, config_.scoring, core::Detail::summary);
  if (!p.decision.chosen.empty()) {
    const auto& c = table_.clusters[table_.index.at(p.decision.chosen)];
    p.cluster_id = p.decision.chosen;
    p.cluster_version = c.version;
    p.endpoint = c.ad.endpoint;
  } else if (!request.target_cluster_id.empty()) {
    auto reason = core::exclusion_reason(request, scope.front());
    p.message = fmt::format("target {} cannot take the request: {}",
                            request.target_cluster_id,
                            reason.value_or("not a candidate"));
  } else {
    p.message = failure_message(p.decision);
  }
  p.seconds = seconds_since(start);
  return p;
}

core::Decision Broker::explain(core::ReservationRequest request) const {
  request = normalized(std::move(request));
  std::shared_lock lock(table_mu_);
  std::span<const Cluster> scope(table_.clusters);
  if (!request.target_cluster_id.empty()) {
    auto it = table_.index.find(request.target_cluster_id);
    if (it == table_.index.end()) {
      throw not_found("cluster", request.target_cluster_id);
    }
    scope = scope.subspan(it->second, 1);
  }
  return core::decide(request, scope, config_.scoring, core::Detail::full);
}

// ---- create ----

CreateResult Broker::create(const RequestContext& ctx,
                            core::ReservationRequest request,
                            std::string_view idempotency_key) {
  auto start = std::chrono::steady_clock::now();
  authorize(ctx.identity, request.requester_id);
  request = normalized(std::move(request));
  if (!idempotency_key.empty()) {
    check_idempotency_key(idempotency_key);
    if (auto earlier = replay(request, idempotency_key)) {
      return *earlier;
    }
  }

  // Decide outside the writer mutex, then queue for the next group
  // commit. Whoever holds the mutex commits every queued create in one
  // durable transaction; a thread whose create was committed by another
  // finds it done when its own turn comes.
  auto job = std::make_shared<CreateJob>();
  job->request = std::move(request);
  job->key = std::string(idempotency_key);
  job->plan = plan(job->request);
  {
    std::lock_guard queue(queue_mu_);
    queue_.push_back(job);
  }
  {
    // A batch takes at most k_max_batch creates from the front of the
    // queue, so under a burst this job may be behind several batches:
    // commit until it is done, never read a result that was not made.
    std::lock_guard writer(write_mu_);
    while (!job->done) {
      commit_queued();
    }
  }
  if (job->error) {
    std::rethrow_exception(job->error);
  }
  if (!job->result->replayed) {
    record_decision(job->result->reservation, job->plan.seconds,
                    seconds_since(start));
  }
  return *job->result;
}

void Broker::commit_queued() {
  std::vector<std::shared_ptr<CreateJob>> batch;
  {
    std::lock_guard queue(queue_mu_);
    while (!queue_.empty() && batch.size() < k_max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  for (int attempt = 1; attempt <= k_max_attempts; ++attempt) {
    try {
      commit_batch(batch);
      return;
    } catch (const VersionConflict&) {
      // Another process changed a row: decide every create again on
      // rows reloaded from the store.
      metrics_.lock_conflict();
      for (auto& job : batch) {
        if (!job->plan.cluster_id.empty()) {
          reload_cluster(job->plan.cluster_id);
        }
        job->plan.cluster_version = -1;
      }
    } catch (...) {
      finish(batch, std::current_exception());
      return;
    }
  }
  try {
    throw too_many_conflicts("reservation");
  } catch (...) {
    finish(batch, std::current_exception());
  }
}

void Broker::finish(std::vector<std::shared_ptr<CreateJob>>& batch,
                    std::exception_ptr error) {
  for (auto& job : batch) {
    job->error = error;
    job->done = true;
  }
}

bool Broker::plan_is_current(
    const Plan& p,
    const std::unordered_map<std::string, Cluster>& overlay) const {
  std::shared_lock lock(table_mu_);
  if (p.cluster_id.empty()) {
    // Nothing fitted: only a committed change (a release, a new
    // advertisement) can make something fit now.
    return p.epoch == table_.epoch;
  }
  auto i = table_.index.at(p.cluster_id);
  return overlay.count(p.cluster_id) == 0 && table_.stale[i] == 0 &&
         table_.clusters[i].version == p.cluster_version;
}

void Broker::commit_batch(std::vector<std::shared_ptr<CreateJob>>& batch) {
  // Rows this batch changed, not yet committed: later creates of the
  // batch decide and lock on these.
  std::unordered_map<std::string, Cluster> overlay;
  std::vector<CreateOutcome> outcomes;
  store_.transact(TxMode::durable_write, [&](StoreTx& tx) {
    overlay.clear();
    outcomes.assign(batch.size(), CreateOutcome{});
    for (std::size_t i = 0; i < batch.size(); ++i) {
      create_in(tx, *batch[i], overlay, outcomes[i]);
    }
  });

  for (const auto& [id, row] : overlay) {
    apply_cluster(row, false, std::nullopt);
  }
  std::vector<StoredEvent> events;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& job = *batch[i];
    auto& out = outcomes[i];
    if (out.error) {
      job.error = out.error;
    } else {
      job.result = CreateResult{std::move(out.reservation), out.replayed};
      job.plan.seconds = out.decision_seconds;
      if (out.event) {
        events.push_back(std::move(*out.event));
      }
    }
    job.done = true;
  }
  events_.append(events);
}

void Broker::create_in(StoreTx& tx, CreateJob& job,
                       std::unordered_map<std::string, Cluster>& overlay,
                       CreateOutcome& out) {
  const auto& request = job.request;
  Plan p;
  try {
    if (!job.key.empty()) {
      if (auto id = tx.find_idempotency(request.requester_id, job.key)) {
        out.reservation = *tx.find_reservation(*id);
        out.replayed = true;
        check_same_request(out.reservation, request, job.key);
        return;
      }
    }
    p = plan_is_current(job.plan, overlay) ? job.plan
                                           : plan_with(request, overlay);
  } catch (const Error&) {
    out.error = std::current_exception(); // this create's own mistake
    return;
  }

  Reservation r = new_reservation(request, job.key, p);
  if (!p.cluster_id.empty()) {
    auto it = overlay.find(p.cluster_id);
    Cluster next = it != overlay.end() ? it->second : cluster(p.cluster_id);
    std::int64_t expected = next.version;
    next.reserved += hold_of(r, next.ad);
    next.version = expected + 1;
    refresh_derived(next, false);
    if (!tx.update_cluster(next, expected)) {
      throw VersionConflict{};
    }
    overlay[p.cluster_id] = std::move(next);
  }
  tx.insert_reservation(r);
  if (!job.key.empty() && !tx.insert_idempotency(request.requester_id, job.key,
                                                 r.id, r.created_at)) {
    throw VersionConflict{};
  }
  auto e = reservation_event(
      p.cluster_id.empty() ? event_type::failed : event_type::reserved, r);
  e.seq = tx.append_event(e);
  out.reservation = std::move(r);
  out.event = std::move(e);
  out.decision_seconds = p.seconds;
}

Reservation Broker::new_reservation(const core::ReservationRequest& request,
                                    std::string_view key, const Plan& p) const {
  Reservation r;
  r.id = new_reservation_id();
  r.request = request;
  r.decision = p.decision;
  r.created_at = now();
  r.version = 1;
  r.idempotency_key = std::string(key);
  if (p.cluster_id.empty()) {
    r.status.phase = Phase::failed;
    r.status.reason = "NoCapacity";
    r.status.message = p.message;
    r.status.ended_at = r.created_at;
    return r;
  }
  r.target_cluster_id = p.cluster_id;
  r.target_endpoint = p.endpoint;
  r.granted = request.requested;
  r.status.phase = Phase::reserved;
  r.status.reason = "Reserved";
  r.status.reserved_at = r.created_at;
  r.status.activation_deadline = r.created_at + config_.activation_timeout_ms;
  r.status.expires_at = r.created_at + *request.duration_ms;
  return r;
}

std::optional<CreateResult>
Broker::replay(const core::ReservationRequest& request, std::string_view key) {
  std::optional<Reservation> earlier;
  store_.transact(TxMode::read, [&](StoreTx& tx) {
    earlier.reset();
    if (auto id = tx.find_idempotency(request.requester_id, key)) {
      earlier = tx.find_reservation(*id);
    }
  });
  if (!earlier) {
    return std::nullopt;
  }
  check_same_request(*earlier, request, key);
  return CreateResult{*earlier, true};
}

void Broker::check_same_request(const Reservation& earlier,
                                const core::ReservationRequest& request,
                                std::string_view key) const {
  if (core::encode_request(earlier.request) == core::encode_request(request)) {
    return;
  }
  throw Error(Code::unprocessable,
              fmt::format("Idempotency-Key {} was already used by {} for a "
                          "different request: use a new key",
                          core::quote_input(key), earlier.id),
              "Idempotency-Key", "IdempotencyKeyReused");
}

void Broker::record_decision(const Reservation& r, double decision_seconds,
                             double total_seconds) {
  const auto phase = core::phase_name(r.status.phase);
  metrics_.reservation_phase(phase, r.request.requester_id,
                             r.target_cluster_id);
  metrics_.decision_seconds(decision_seconds);
  std::optional<double> chosen_price;
  double highest = 0;
  for (const auto& row : r.decision.rows) {
    if (!row.candidate) {
      continue;
    }
    metrics_.cluster_score(row.cluster_id, row.score);
    if (row.price_per_hour) {
      highest = std::max(highest, *row.price_per_hour);
      if (row.cluster_id == r.target_cluster_id) {
        chosen_price = row.price_per_hour;
      }
    }
  }
  if (r.status.phase == Phase::reserved) {
    metrics_.reservation_seconds(total_seconds);
    if (chosen_price) {
      metrics_.cost_saving(r.request.requester_id, highest - *chosen_price);
    }
  }
  const auto* top = r.decision.rows.empty() ? nullptr : &r.decision.rows[0];
  LRB_LOG(debug, "reservation decided", kv("reservation", r.id),
          kv("requester", r.request.requester_id), kv("phase", phase),
          kv("chosen", r.decision.chosen),
          kv("score", top && top->candidate ? top->score : 0.0),
          kv("candidates", r.decision.candidates),
          kv("clusters", r.decision.clusters),
          kv("decide_ms", decision_seconds * 1e3),
          kv("dur_ms", total_seconds * 1e3));
}

// ---- lifecycle ----

Reservation Broker::reservation(std::string_view id) {
  std::optional<Reservation> found;
  store_.transact(TxMode::read,
                  [&](StoreTx& tx) { found = tx.find_reservation(id); });
  if (!found) {
    throw not_found("reservation", id);
  }
  return *found;
}

std::vector<Reservation> Broker::reservations(const ReservationFilter& filter) {
  std::vector<Reservation> out;
  store_.transact(TxMode::read,
                  [&](StoreTx& tx) { out = tx.list_reservations(filter); });
  return out;
}

std::optional<Cluster> Broker::held_change(const Reservation& before,
                                           const Reservation& after) const {
  std::shared_lock lock(table_mu_);
  auto it = table_.index.find(before.target_cluster_id);
  if (it == table_.index.end()) {
    return std::nullopt; // Failed reservations have no provider
  }
  const Cluster& current = table_.clusters[it->second];
  auto old_hold = hold_of(before, current.ad);
  auto new_hold = hold_of(after, current.ad);
  if (old_hold == new_hold) {
    return std::nullopt;
  }
  Cluster next = current;
  next.reserved = next.reserved - old_hold + new_hold;
  if (next.reserved.any_negative()) {
    LRB_LOG(error, "reserved total would go negative",
            kv("cluster", current.ad.cluster_id), kv("reservation", before.id));
    next.reserved = next.reserved.clamped();
  }
  next.version = current.version + 1;
  refresh_derived(next, table_.stale[it->second] != 0);
  return next;
}

Reservation Broker::transition(std::string_view id, const Change& change,
                               std::string_view event, TxMode mode) {
  std::lock_guard writer(write_mu_);
  for (int attempt = 1; attempt <= k_max_attempts; ++attempt) {
    Reservation before;
    Reservation after;
    std::optional<Cluster> next;
    bool changed = false;
    StoredEvent e;
    try {
      store_.transact(mode, [&](StoreTx& tx) {
        auto found = tx.find_reservation(id);
        if (!found) {
          throw not_found("reservation", id);
        }
        before = *found;
        after = before;
        changed = change(after);
        if (!changed) {
          return;
        }
        after.version = before.version + 1;
        next = held_change(before, after);
        if (next && !tx.update_cluster(*next, next->version - 1)) {
          throw VersionConflict{};
        }
        if (!tx.update_reservation(after, before.version)) {
          throw VersionConflict{};
        }
        e = reservation_event(event, after);
        e.seq = tx.append_event(e);
      });
    } catch (const VersionConflict&) {
      metrics_.lock_conflict();
      reload_cluster(before.target_cluster_id);
      continue;
    }
    if (!changed) {
      return before;
    }
    if (next) {
      apply_cluster(*next, is_stale(next->ad.cluster_id), std::nullopt);
    }
    events_.append({e});
    if (after.status.phase != before.status.phase) {
      metrics_.reservation_phase(core::phase_name(after.status.phase),
                                 after.request.requester_id,
                                 after.target_cluster_id);
    }
    return after;
  }
  throw too_many_conflicts("reservation update");
}

Reservation Broker::activate(const RequestContext& ctx, std::string_view id,
                             const std::optional<core::ResourceList>& granted) {
  auto change = [&](Reservation& r) {
    authorize(ctx.identity, r.request.requester_id);
    core::check_transition(r.status.phase, Phase::active);
    if (granted) {
      r.granted = granted_after(r, *granted);
    }
    r.status.phase = Phase::active;
    r.status.reason = "Activated";
    r.status.activated_at = now();
    return true;
  };
  auto r = transition(id, change, event_type::activated, TxMode::durable_write);
  LRB_LOG(info, "reservation activated", kv("reservation", r.id),
          kv("provider", r.target_cluster_id));
  return r;
}

Reservation Broker::renew(const RequestContext& ctx, std::string_view id,
                          std::optional<std::int64_t> duration_ms) {
  std::int64_t duration = duration_ms.value_or(config_.default_duration_ms);
  check_duration(duration, config_.max_duration_ms);
  auto change = [&](Reservation& r) {
    authorize(ctx.identity, r.request.requester_id);
    if (!core::holds_capacity(r.status.phase)) {
      throw Error(Code::conflict,
                  fmt::format("cannot renew reservation {}: it is {}, and "
                              "only Reserved or Active ones can be renewed",
                              r.id, core::phase_name(r.status.phase)),
                  "status.phase", "InvalidTransition");
    }
    r.status.expires_at = now() + duration;
    return true;
  };
  return transition(id, change, event_type::renewed, TxMode::durable_write);
}

Reservation Broker::release(const RequestContext& ctx, std::string_view id,
                            std::string_view reason) {
  if (reason.size() > k_max_reason) {
    throw Error(Code::invalid_argument,
                fmt::format("reason is {} bytes: keep it under {}",
                            reason.size(), k_max_reason),
                "reason", "TooLong");
  }
  auto change = [&](Reservation& r) {
    authorize(ctx.identity, r.request.requester_id);
    core::check_transition(r.status.phase, Phase::released);
    r.status.phase = Phase::released;
    r.status.reason = "Released";
    r.status.message =
        reason.empty() ? "released by the requester" : std::string(reason);
    r.status.ended_at = now();
    return true;
  };
  auto r = transition(id, change, event_type::released, TxMode::durable_write);
  LRB_LOG(info, "reservation released", kv("reservation", r.id),
          kv("provider", r.target_cluster_id));
  return r;
}

// ---- sweeper work ----

SweepResult Broker::sweep() {
  SweepResult result;
  if (stopping_) {
    return result;
  }
  result.expired = expire_due();
  result.stale = mark_stale();
  result.compacted = compact();
  return result;
}

int Broker::expire_due() {
  std::vector<Reservation> due;
  store_.transact(TxMode::read, [&](StoreTx& tx) {
    due = tx.due_reservations(now(), k_due_batch);
  });
  int expired = 0;
  for (const auto& candidate : due) {
    // The row may have been renewed or released since the scan: decide
    // again on the row the transaction reads.
    auto change = [&](Reservation& r) {
      auto t = now();
      bool lease_over = r.status.expires_at && *r.status.expires_at <= t;
      bool deadline_over = r.status.phase == Phase::reserved &&
                           r.status.activation_deadline &&
                           *r.status.activation_deadline <= t;
      if (!core::holds_capacity(r.status.phase) ||
          !(lease_over || deadline_over)) {
        return false;
      }
      r.status.phase = Phase::expired;
      r.status.reason = lease_over ? "LeaseExpired" : "ActivationTimeout";
      r.status.message = lease_over ? "the lease ran out without a renewal"
                                    : "not activated before the deadline";
      r.status.ended_at = t;
      return true;
    };
    try {
      auto r =
          transition(candidate.id, change, event_type::expired, TxMode::write);
      if (r.status.phase == Phase::expired) {
        ++expired;
        LRB_LOG(info, "reservation expired", kv("reservation", r.id),
                kv("reason", r.status.reason));
      }
    } catch (const Error& err) {
      LRB_LOG(warn, "expiry failed", kv("reservation", candidate.id),
              kv("error", err.what()));
    }
  }
  return expired;
}

bool Broker::silent(std::size_t i, core::MonoMs mono) const {
  return table_.stale[i] == 0 &&
         mono - table_.heard[i] >= config_.stale_after_ms;
}

std::vector<std::string> Broker::silent_clusters() const {
  auto mono = clock_.mono_ms();
  std::vector<std::string> out;
  std::shared_lock lock(table_mu_);
  for (std::size_t i = 0; i < table_.clusters.size(); ++i) {
    if (silent(i, mono)) {
      out.push_back(table_.clusters[i].ad.cluster_id);
    }
  }
  return out;
}

bool Broker::still_silent(const std::string& id) const {
  std::shared_lock lock(table_mu_);
  return silent(table_.index.at(id), clock_.mono_ms());
}

int Broker::mark_stale() {
  int marked = 0;
  for (const auto& id : silent_clusters()) {
    std::lock_guard writer(write_mu_);
    // Re-check under the writer mutex: an advertisement may have landed.
    if (!still_silent(id)) {
      continue;
    }
    std::vector<StoredEvent> events;
    store_.transact(TxMode::write, [&](StoreTx& tx) {
      events.clear();
      auto e = cluster_event(
          event_type::cluster_stale, id,
          fmt::format("no advertisement for {}",
                      core::format_duration(config_.stale_after_ms)));
      e.seq = tx.append_event(e);
      events.push_back(std::move(e));
      // Flag what runs there, so each requester's agent hears of it.
      for (const auto& r : tx.holding_reservations(id)) {
        auto flag = reservation_event(event_type::provider_stale, r,
                                      fmt::format("provider {} is stale", id));
        flag.seq = tx.append_event(flag);
        events.push_back(std::move(flag));
      }
    });
    Cluster c = cluster(id);
    refresh_derived(c, true);
    apply_cluster(c, true, std::nullopt);
    events_.append(events);
    LRB_LOG(warn, "cluster stale", kv("cluster", id),
            kv("stale_after_ms", config_.stale_after_ms));
    ++marked;
  }
  return marked;
}

std::int64_t Broker::compact() {
  std::int64_t removed = 0;
  EventBounds bounds;
  auto cutoff = now() - config_.event_retention_ms;
  store_.transact(TxMode::write, [&](StoreTx& tx) {
    removed = tx.compact_events(cutoff);
    bounds = tx.event_bounds();
  });
  if (removed > 0) {
    events_.compacted(bounds.compacted_through);
    LRB_LOG(debug, "events compacted", kv("removed", removed),
            kv("through", bounds.compacted_through));
  }
  return removed;
}

// ---- events ----

StoredEvent Broker::reservation_event(std::string_view type,
                                      const Reservation& r,
                                      std::string message) const {
  StoredEvent e;
  e.time = now();
  e.type = std::string(type);
  e.cluster_id = r.target_cluster_id;
  e.requester_id = r.request.requester_id;
  e.reservation_id = r.id;
  e.phase = std::string(core::phase_name(r.status.phase));
  e.message = std::move(message);
  e.reservation = core::encode_reservation(r).dump();
  return e;
}

StoredEvent Broker::cluster_event(std::string_view type, std::string_view id,
                                  std::string message) const {
  StoredEvent e;
  e.time = now();
  e.type = std::string(type);
  e.cluster_id = std::string(id);
  e.message = std::move(message);
  return e;
}

EventPage Broker::collect(std::int64_t since,
                          std::string_view cluster_id) const {
  if (auto page = events_.collect(since, cluster_id, k_watch_page)) {
    return *page;
  }
  // Older than the memory window: read the store.
  std::vector<StoredEvent> rows;
  store_.transact(TxMode::read, [&](StoreTx& tx) {
    rows = tx.events_after(since, k_store_scan);
  });
  EventPage page;
  page.last_seq = since;
  for (const auto& e : rows) {
    if (event_concerns(e, cluster_id)) {
      if (page.events.size() == k_watch_page) {
        break;
      }
      page.events.push_back(render_event(e));
    }
    page.last_seq = e.seq;
  }
  return page;
}

EventPage Broker::watch(std::int64_t since, std::string_view cluster_id,
                        std::int64_t timeout_ms) {
  if (timeout_ms < 0 || timeout_ms > k_max_watch_ms) {
    throw Error(Code::invalid_argument,
                fmt::format("timeout must be between 0s and {}",
                            core::format_duration(k_max_watch_ms)),
                "timeout", "InvalidDuration");
  }
  auto bounds = events_.bounds();
  if (since < 0) {
    throw Error(Code::invalid_argument, "since must be 0 or a positive seq",
                "since", "InvalidArgument");
  }
  if (since > 0 && since < bounds.compacted_through) {
    throw Error(Code::gone,
                fmt::format("events up to seq {} were compacted away, so a "
                            "watch cannot resume from {}: list the current "
                            "state, then watch from lastSeq {}",
                            bounds.compacted_through, since, bounds.last_seq),
                "since", "Expired");
  }
  if (since > bounds.last_seq) {
    throw Error(Code::gone,
                fmt::format("seq {} is ahead of the log (last seq {}): the "
                            "broker's database was replaced; list again and "
                            "watch from lastSeq {}",
                            since, bounds.last_seq, bounds.last_seq),
                "since", "Expired");
  }
  return wait_for_events(since == 0 ? bounds.compacted_through : since,
                         cluster_id, timeout_ms);
}

EventPage Broker::wait_for_events(std::int64_t since,
                                  std::string_view cluster_id,
                                  std::int64_t timeout_ms) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool parked = false;
  EventPage page;
  for (;;) {
    page = collect(since, cluster_id);
    if (!page.events.empty() || timeout_ms == 0 || stopping_) {
      break;
    }
    since = page.last_seq;
    // Past the bound, answer at once: the agent polls instead of parking.
    if (!parked) {
      if (parked_.fetch_add(1) >= config_.max_watchers) {
        parked_.fetch_sub(1);
        break;
      }
      parked = true;
      metrics_.watchers(parked_.load());
    }
    if (!events_.wait_after(since, cluster_id, deadline)) {
      break;
    }
  }
  if (parked) {
    metrics_.watchers(parked_.fetch_sub(1) - 1);
  }
  return page;
}

void Broker::shutdown() {
  stopping_ = true;
  events_.close();
}

bool Broker::ready() {
  return !stopping_ && store_.healthy();
}

// ---- metrics ----

void Broker::write_metrics(std::string& out) const {
  metrics_.write(out);
  MetricsWriter w(out);
  std::shared_lock lock(table_mu_);
  const struct {
    const char* name;
    const char* help;
    const core::ResourceList Cluster::*list;
  } families[] = {
      {"broker_cluster_reserved", "Capacity reserved on each cluster.",
       &Cluster::reserved},
      {"broker_cluster_free",
       "Free capacity of each cluster: available minus reserved.",
       &Cluster::free},
  };

  // cpu is exported in cores, memory and storage in bytes (base units).
  auto value = [](std::string_view name, std::int64_t v) {
    return name == "cpu" ? static_cast<double>(v) / 1000.0
                         : static_cast<double>(v);
  };
  w.family("broker_cluster_allocatable", "gauge",
           "Allocatable capacity each cluster advertises (cpu in cores, "
           "memory and storage in bytes).");
  for (const auto& c : table_.clusters) {
    c.ad.resources.allocatable.for_each([&](std::string_view n, auto v) {
      w.sample("broker_cluster_allocatable",
               {"cluster_id", c.ad.cluster_id, "resource", n}, value(n, v));
    });
  }
  for (const auto& f : families) {
    w.family(f.name, "gauge", f.help);
    for (const auto& c : table_.clusters) {
      (c.*f.list).for_each([&](std::string_view n, auto v) {
        w.sample(f.name, {"cluster_id", c.ad.cluster_id, "resource", n},
                 value(n, v));
      });
    }
  }
  w.family("broker_cluster_stale", "gauge",
           "1 when the cluster has not advertised within --stale-after.");
  for (std::size_t i = 0; i < table_.clusters.size(); ++i) {
    w.sample("broker_cluster_stale",
             {"cluster_id", table_.clusters[i].ad.cluster_id},
             table_.stale[i] != 0 ? 1 : 0);
  }
}

} // namespace lrb::daemon
