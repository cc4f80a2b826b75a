// The in-memory Store (see memory_store.h). One mutex serializes every
// transaction, readers included: the simulator is single-threaded, and a
// store that never runs two transactions at once has no snapshot or
// busy errors to retry. Reservations that hold capacity are indexed
// apart so that the sweeper's due scan and the doctor's checks do not
// walk the whole history of a long replay.
#include "daemon/memory_store.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "core/error.h"
#include "daemon/migrations.h"

namespace lrb::daemon {

namespace {

using core::Cluster;
using core::Reservation;

bool holds(const Reservation& r) {
  return r.status.phase == core::Phase::reserved ||
         r.status.phase == core::Phase::active;
}

// Everything the store holds.
struct State {
  std::map<std::string, Cluster, std::less<>> clusters;
  std::map<std::string, Reservation, std::less<>> reservations;
  std::set<std::string, std::less<>> holding; // ids of Reserved/Active
  std::map<std::pair<std::string, std::string>,
           std::pair<std::string, core::WallMs>>
      idempotency;
  std::deque<StoredEvent> events;
  EventBounds bounds;
};

// One transaction: writes go straight to the state, each with its undo.
class MemoryTx : public StoreTx {
public:
  explicit MemoryTx(State& s) : s_(s) {}

  // Undoes every write of this transaction, newest first.
  void rollback() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      (*it)();
    }
    undo_.clear();
  }

  std::vector<Cluster> load_clusters() override {
    std::vector<Cluster> out;
    for (const auto& [id, c] : s_.clusters) {
      out.push_back(c);
    }
    return out;
  }

  std::optional<Cluster> find_cluster(std::string_view id) override {
    auto it = s_.clusters.find(id);
    return it == s_.clusters.end() ? std::nullopt
                                   : std::optional<Cluster>(it->second);
  }

  void insert_cluster(const Cluster& cluster) override {
    auto id = cluster.ad.cluster_id;
    auto [it, inserted] = s_.clusters.emplace(id, cluster);
    if (!inserted) {
      throw core::Error(core::Code::conflict, "cluster " + id + " exists",
                        "clusterID", "AlreadyExists");
    }
    undo_.push_back([this, id] { s_.clusters.erase(id); });
  }

  bool update_cluster(const Cluster& cluster,
                      std::int64_t expected_version) override {
    auto it = s_.clusters.find(cluster.ad.cluster_id);
    if (it == s_.clusters.end() || it->second.version != expected_version) {
      return false;
    }
    undo_.push_back(
        [this, old = it->second] { s_.clusters[old.ad.cluster_id] = old; });
    it->second = cluster;
    return true;
  }

  std::optional<Reservation> find_reservation(std::string_view id) override {
    auto it = s_.reservations.find(id);
    return it == s_.reservations.end() ? std::nullopt
                                       : std::optional<Reservation>(it->second);
  }

  std::vector<Reservation>
  list_reservations(const ReservationFilter& f) override {
    std::vector<Reservation> out;
    for (const auto& [id, r] : s_.reservations) {
      if (matches(r, f)) {
        out.push_back(r);
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
    });
    if (out.size() > static_cast<std::size_t>(std::max(f.limit, 0))) {
      out.resize(static_cast<std::size_t>(std::max(f.limit, 0)));
    }
    return out;
  }

  std::vector<Reservation>
  holding_reservations(std::string_view cluster_id) override {
    std::vector<Reservation> out;
    for (const auto& id : s_.holding) {
      const auto& r = s_.reservations.find(id)->second;
      if (r.target_cluster_id == cluster_id) {
        out.push_back(r);
      }
    }
    return out;
  }

  std::vector<Reservation> all_holding_reservations() override {
    return holding_reservations_if([](const Reservation&) { return true; });
  }

  std::vector<Reservation> due_reservations(core::WallMs now,
                                            int limit) override {
    auto due = holding_reservations_if([now](const Reservation& r) {
      bool lease = r.status.expires_at && *r.status.expires_at <= now;
      bool deadline = r.status.phase == core::Phase::reserved &&
                      r.status.activation_deadline &&
                      *r.status.activation_deadline <= now;
      return lease || deadline;
    });
    if (due.size() > static_cast<std::size_t>(std::max(limit, 0))) {
      due.resize(static_cast<std::size_t>(std::max(limit, 0)));
    }
    return due;
  }

  void insert_reservation(const Reservation& r) override {
    if (s_.reservations.count(r.id) != 0) {
      throw core::Error(core::Code::conflict, "reservation " + r.id + " exists",
                        "id", "AlreadyExists");
    }
    put(r);
    undo_.push_back([this, id = r.id] {
      s_.reservations.erase(id);
      s_.holding.erase(id);
    });
  }

  bool update_reservation(const Reservation& r,
                          std::int64_t expected_version) override {
    auto it = s_.reservations.find(r.id);
    if (it == s_.reservations.end() || it->second.version != expected_version) {
      return false;
    }
    undo_.push_back([this, old = it->second] { put(old); });
    put(r);
    return true;
  }

  std::int64_t count_reservations() override {
    return static_cast<std::int64_t>(s_.reservations.size());
  }

  std::vector<std::pair<std::string, std::string>> dangling_targets() override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [id, r] : s_.reservations) {
      if (!r.target_cluster_id.empty() &&
          s_.clusters.count(r.target_cluster_id) == 0) {
        out.emplace_back(id, r.target_cluster_id);
      }
    }
    return out;
  }

  std::optional<std::string> find_idempotency(std::string_view requester_id,
                                              std::string_view key) override {
    auto it =
        s_.idempotency.find({std::string(requester_id), std::string(key)});
    return it == s_.idempotency.end()
               ? std::nullopt
               : std::optional<std::string>(it->second.first);
  }

  bool insert_idempotency(std::string_view requester_id, std::string_view key,
                          std::string_view reservation_id,
                          core::WallMs now) override {
    std::pair<std::string, std::string> k{requester_id, key};
    auto [it, inserted] = s_.idempotency.emplace(
        k, std::make_pair(std::string(reservation_id), now));
    if (inserted) {
      undo_.push_back([this, k] { s_.idempotency.erase(k); });
    }
    return inserted;
  }

  std::vector<std::array<std::string, 3>> list_idempotency() override {
    std::vector<std::array<std::string, 3>> out;
    for (const auto& [k, v] : s_.idempotency) {
      out.push_back({k.first, k.second, v.first});
    }
    return out;
  }

  std::int64_t append_event(const StoredEvent& event) override {
    StoredEvent e = event;
    e.seq = s_.bounds.last_seq + 1;
    s_.events.push_back(e);
    s_.bounds.last_seq = e.seq;
    undo_.push_back([this] {
      s_.events.pop_back();
      --s_.bounds.last_seq;
    });
    return e.seq;
  }

  std::vector<StoredEvent> events_after(std::int64_t after,
                                        int limit) override {
    std::vector<StoredEvent> out;
    auto it = std::upper_bound(
        s_.events.begin(), s_.events.end(), after,
        [](std::int64_t seq, const StoredEvent& e) { return seq < e.seq; });
    for (; it != s_.events.end() && std::ssize(out) < limit; ++it) {
      out.push_back(*it);
    }
    return out;
  }

  EventBounds event_bounds() override { return s_.bounds; }

  std::int64_t compact_events(core::WallMs before) override {
    // Keep at least the newest event so that last_seq survives.
    std::deque<StoredEvent> removed;
    while (s_.events.size() > 1 && s_.events.front().time < before) {
      removed.push_back(std::move(s_.events.front()));
      s_.events.pop_front();
    }
    if (removed.empty()) {
      return 0;
    }
    auto old_bounds = s_.bounds;
    s_.bounds.compacted_through =
        std::max(s_.bounds.compacted_through, removed.back().seq);
    auto count = static_cast<std::int64_t>(removed.size());
    undo_.push_back([this, old_bounds, removed = std::move(removed)] {
      s_.events.insert(s_.events.begin(), removed.begin(), removed.end());
      s_.bounds = old_bounds;
    });
    return count;
  }

private:
  static bool matches(const Reservation& r, const ReservationFilter& f) {
    auto same = [](const std::string& want, const std::string& have) {
      return want.empty() || want == have;
    };
    bool either = f.either_cluster_id.empty() ||
                  r.request.requester_id == f.either_cluster_id ||
                  r.target_cluster_id == f.either_cluster_id;
    bool phase = f.phases.empty() ||
                 std::find(f.phases.begin(), f.phases.end(), r.status.phase) !=
                     f.phases.end();
    return same(f.requester_id, r.request.requester_id) &&
           same(f.target_cluster_id, r.target_cluster_id) && either && phase;
  }

  template <typename Pred>
  std::vector<Reservation> holding_reservations_if(Pred pred) const {
    std::vector<Reservation> out;
    for (const auto& id : s_.holding) {
      const auto& r = s_.reservations.find(id)->second;
      if (pred(r)) {
        out.push_back(r);
      }
    }
    return out;
  }

  void put(const Reservation& r) {
    s_.reservations[r.id] = r;
    if (holds(r)) {
      s_.holding.insert(r.id);
    } else {
      s_.holding.erase(r.id);
    }
  }

  State& s_;
  std::vector<std::function<void()>> undo_;
};

class MemoryStore : public Store {
public:
  void transact(TxMode /*mode*/,
                const std::function<void(StoreTx&)>& fn) override {
    std::lock_guard lock(mu_);
    MemoryTx tx(state_);
    try {
      fn(tx);
    } catch (...) {
      tx.rollback();
      throw;
    }
  }

  int schema_version() override {
    const auto& all = embedded_migrations();
    return all.empty() ? 0 : all.back().version;
  }

  bool healthy() override { return true; }

  std::string describe() const override { return "memory"; }

private:
  std::mutex mu_;
  State state_;
};

} // namespace

std::unique_ptr<Store> open_memory_store() {
  return std::make_unique<MemoryStore>();
}

} // namespace lrb::daemon
