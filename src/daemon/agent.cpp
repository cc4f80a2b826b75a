// The agent's two loops. The advertiser reads the cluster every interval
// (and soon after a snapshot file changes or a reservation on this
// cluster moves), works out what already runs here on behalf of
// reservations, and posts the advertisement with a generation that only
// grows; while the broker is down it retries with capped, jittered
// backoff and never gives up. The reconciler follows the broker's events
// for this cluster; an event only says "look at this reservation": what
// to do is decided from the reservation as the broker has it now and the
// slice as the API server has it now (agent_liqo.cpp's table), so a
// replayed event, a restart between creating a slice and activating, or
// a missed event (410: list and start again) never makes it act twice.
// Each loop owns its HTTP clients, which are not thread-safe.
#include "daemon/agent.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/lifecycle.h"
#include "core/log.h"
#include "kube/client.h"

namespace lrb::daemon {

namespace {

using core::Code;
using core::Error;
using core::Json;
using core::Phase;

constexpr std::int64_t k_backoff_initial_ms = 500;
constexpr std::int64_t k_backoff_cap_ms = 30'000;
constexpr std::int64_t k_watch_ms = 5'000;   // long poll when idle
constexpr std::int64_t k_pending_ms = 1'000; // while slices await an answer
constexpr std::int64_t k_snapshot_check_ms = 500;
constexpr int k_sweep_every = 6; // intervals between full reconciliations
constexpr int k_max_head_pages = 100'000;

// The loops count what they do; the metrics endpoint reads it.
using Counters = AgentCounters;

// What the two loops share: the stop flag, a nudge for the advertiser,
// and the counters.
struct Shared {
  Shared(const AgentConfig& c, const std::atomic<bool>& s)
      : config(c), stop(s) {}

  const AgentConfig& config;
  const std::atomic<bool>& stop;
  std::atomic<bool> nudge{false};
  Counters counters;
};

// Sleeps up to `ms`, waking early on stop or (when `wake` is set) a nudge.
void nap(const Shared& s, std::int64_t ms, const std::atomic<bool>* wake) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!s.stop && (wake == nullptr || !*wake) &&
         std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Returns the delay before retry `attempt` (0-based): doubling from
// k_backoff_initial_ms, capped, with the upper half jittered so that many
// agents do not return in step.
std::int64_t backoff_ms(int attempt, std::mt19937_64& rng) {
  std::int64_t d = k_backoff_initial_ms << std::min(attempt, 16);
  d = std::min(d, k_backoff_cap_ms);
  return d / 2 + std::uniform_int_distribution<std::int64_t>(0, d / 2)(rng);
}

// The agent's side of the broker's HTTP API.
class BrokerApi {
public:
  explicit BrokerApi(const kube::HttpOptions& options) : http_(options) {}

  Json call(std::string_view method, const std::string& path,
            const Json& body = nullptr) {
    std::string text = body.is_null() ? "" : body.dump();
    kube::HttpResponse res = http_.request(method, path, text);
    if (res.status < 200 || res.status > 299) {
      throw Error(core::code_for_http_status(res.status),
                  fmt::format("broker {} {}: HTTP {}: {}", method, path,
                              res.status, res.body.substr(0, 300)));
    }
    return res.body.empty() ? Json::object() : core::parse_json(res.body);
  }

  std::vector<core::Reservation> list(const std::string& query) {
    Json page = call("GET", "/api/v1/reservations?" + query);
    std::vector<core::Reservation> out;
    for (const auto& item : page.value("items", Json::array())) {
      out.push_back(core::decode_reservation(item));
    }
    return out;
  }

  core::Reservation get(const std::string& id) {
    return core::decode_reservation(
        call("GET", "/api/v1/reservations/" + kube::url_encode(id)));
  }

private:
  kube::HttpClient http_;
};

std::string holding_query(const std::string& cluster, std::string_view role) {
  return fmt::format("clusterID={}&role={}&phase=Reserved,Active", cluster,
                     role);
}

// ---------------------------------------------------------------- advertiser

// Returns a stamp of the snapshot files (size and mtime), to notice a
// rewrite without reading them.
std::string snapshot_stamp(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) {
    std::error_code ec;
    auto size = std::filesystem::file_size(p, ec);
    auto time = std::filesystem::last_write_time(p, ec);
    out += fmt::format("{}:{}:{};", p, size, time.time_since_epoch().count());
  }
  return out;
}

class Advertiser {
public:
  explicit Advertiser(Shared& s)
      : s_(s), broker_(s.config.broker), generations_(s.config.state_dir),
        rng_(std::random_device{}()) {}

  // Reads and posts once; returns whether the broker took it. Throws
  // only for a bad configuration.
  bool pass() {
    ClusterView view;
    try {
      view = read_cluster(s_.config);
    } catch (const std::exception& e) {
      LRB_LOG(warn, "cannot read the cluster", kv("error", e.what()));
      return false;
    }
    view.ad.consumed = consumed(view);
    return post(view.ad);
  }

  void run() {
    int failures = 0;
    while (!s_.stop) {
      s_.nudge = false;
      stamp_ = snapshot_stamp(s_.config.snapshots);
      bool ok = pass();
      failures = ok ? 0 : failures + 1;
      wait(ok ? s_.config.interval_ms : backoff_ms(failures - 1, rng_));
    }
  }

private:
  // Waits `ms`, or less when a snapshot file or a reservation changed.
  void wait(std::int64_t ms) {
    auto end = core::system_clock().mono_ms() + ms;
    while (!s_.stop && !s_.nudge) {
      std::int64_t left = end - core::system_clock().mono_ms();
      if (left <= 0) {
        return;
      }
      nap(s_, std::min(left, k_snapshot_check_ms), &s_.nudge);
      if (!s_.config.snapshots.empty() &&
          snapshot_stamp(s_.config.snapshots) != stamp_) {
        return;
      }
    }
  }

  // Returns what runs here per reservation; on a broker error, the last
  // figures, so that an outage does not make offloaded pods count twice.
  std::map<std::string, core::ResourceList> consumed(const ClusterView& v) {
    if (v.offloaded.empty()) {
      return {};
    }
    try {
      auto provided =
          broker_.list(holding_query(s_.config.cluster_id, "provider"));
      last_consumed_ = attribute_consumed(v.offloaded, provided);
    } catch (const std::exception& e) {
      LRB_LOG(warn, "cannot list provided reservations", kv("error", e.what()));
    }
    return last_consumed_;
  }

  bool post(core::Advertisement ad) {
    try {
      const auto now = core::system_clock().wall_ms();
      ad.generation = generations_.advance(now);
      ad.timestamp = now;
      broker_.call("POST", "/api/v1/advertisements",
                   core::encode_advertisement(ad));
    } catch (const std::exception& e) {
      ++s_.counters.advertise_errors;
      LRB_LOG(warn, "advertisement not accepted",
              kv("cluster", s_.config.cluster_id), kv("error", e.what()));
      return false;
    }
    ++s_.counters.advertisements;
    s_.counters.last_advertisement_ms = ad.timestamp;
    bool changed = !last_ || advertisement_changed(*last_, ad);
    if (changed) {
      LRB_LOG(info, "advertised", kv("cluster", ad.cluster_id),
              kv("generation", ad.generation),
              kv("cpu", core::format_resource("cpu", ad.resources.available.get(
                                                         core::Slot::cpu))),
              kv("consumed", ad.consumed.size()));
    }
    last_ = std::move(ad);
    return true;
  }

  Shared& s_;
  BrokerApi broker_;
  GenerationStore generations_;
  std::mt19937_64 rng_;
  std::string stamp_;
  std::optional<core::Advertisement> last_;
  std::map<std::string, core::ResourceList> last_consumed_;
};

// ---------------------------------------------------------------- reconciler

class Reconciler {
public:
  explicit Reconciler(Shared& s)
      : s_(s), c_(s.config), broker_(s.config.broker),
        rng_(std::random_device{}()) {
    if (c_.kube) {
      kube_.emplace(*c_.kube);
    }
    if (!c_.state_dir.empty()) {
      seq_path_ = (std::filesystem::path(c_.state_dir) / "events-seq").string();
    }
  }

  void run() {
    int failures = 0;
    std::int64_t since = load_seq();
    std::int64_t next_sweep = 0;
    while (!s_.stop) {
      try {
        const auto now = core::system_clock().mono_ms();
        if (since < 0 || now >= next_sweep) {
          if (since < 0) {
            since = head();
          }
          reconcile_all();
          next_sweep = now + k_sweep_every * c_.interval_ms;
        }
        since = follow(since);
        check_pending();
        failures = 0;
      } catch (const Error& e) {
        if (e.code() == Code::gone) {
          LRB_LOG(info, "event log moved on; listing again",
                  kv("since", since));
          since = -1;
          continue;
        }
        LRB_LOG(warn, "reconciler error; retrying", kv("error", e.what()));
        nap(s_, backoff_ms(failures++, rng_), nullptr);
      } catch (const std::exception& e) {
        // A malformed answer (a JSON type error) must not end the agent.
        LRB_LOG(warn, "reconciler error; retrying", kv("error", e.what()));
        nap(s_, backoff_ms(failures++, rng_), nullptr);
      }
    }
  }

private:
  // Returns the persisted event position, or -1 to list first.
  std::int64_t load_seq() const {
    std::ifstream in(seq_path_);
    std::int64_t seq = -1;
    return seq_path_.empty() || !(in >> seq) ? -1 : seq;
  }

  void save_seq(std::int64_t seq) const {
    if (seq_path_.empty()) {
      return;
    }
    std::string tmp = seq_path_ + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << seq << "\n";
    std::error_code ec;
    std::filesystem::rename(tmp, seq_path_, ec);
  }

  Json events(std::int64_t since, std::int64_t timeout_ms) {
    return broker_.call(
        "GET",
        fmt::format("/api/v1/events?since={}&clusterID={}&timeout={}", since,
                    c_.cluster_id, core::format_duration(timeout_ms)));
  }

  // Returns the log's current end for this cluster, without acting on
  // what precedes it (the listing that follows covers that).
  std::int64_t head() {
    std::int64_t since = 0;
    for (int i = 0; i < k_max_head_pages; ++i) {
      Json page = events(since, 0);
      std::int64_t next = page.value("lastSeq", since);
      if (page.value("events", Json::array()).empty() || next == since) {
        return next;
      }
      since = next;
    }
    return since;
  }

  // Waits for events after `since`, handles them, returns the new end.
  std::int64_t follow(std::int64_t since) {
    Json page = events(since, pending_.empty() ? k_watch_ms : k_pending_ms);
    for (const auto& e : page.value("events", Json::array())) {
      if (e.contains("reservationID")) {
        on_event(e);
      }
    }
    std::int64_t next = page.value("lastSeq", since);
    save_seq(next);
    return next;
  }

  void on_event(const Json& e) {
    std::string id = e.value("reservationID", "");
    std::string phase = e.value("phase", "");
    if (e.value("requesterID", "") == c_.cluster_id) {
      handle(broker_.get(id), phase);
    } else if (e.value("clusterID", "") == c_.cluster_id) {
      on_provided(e.contains("reservation")
                      ? core::decode_reservation(e["reservation"])
                      : broker_.get(id),
                  phase);
    }
  }

  // Provider side: note it, run --on-provide once for a reservation that
  // holds capacity here (Reserved, or already Active when its Reserved
  // event was missed), and re-advertise so that `consumed` follows.
  void on_provided(const core::Reservation& r, const std::string& phase) {
    LRB_LOG(info, "reservation on this cluster", kv("reservation", r.id),
            kv("requester", r.request.requester_id), kv("phase", phase));
    s_.nudge = true;
    const bool holds = phase == "Reserved" || phase == "Active";
    if (!holds || !provided_.insert(r.id).second) {
      return;
    }
    ++s_.counters.provided;
    if (!c_.on_provide.empty()) {
      hook(c_.on_provide, "on-provide", r);
    }
  }

  // Acts on every reservation this cluster holds or provides as the
  // broker has them now: after a start, head() skipped the events that
  // came before, so the listing is what covers them.
  void reconcile_all() {
    auto holding = broker_.list(holding_query(c_.cluster_id, "requester"));
    std::set<std::string> ids;
    for (const auto& r : holding) {
      ids.insert(r.id);
      handle(r, "");
    }
    for (const auto& r :
         broker_.list(holding_query(c_.cluster_id, "provider"))) {
      if (provided_.count(r.id) == 0) {
        on_provided(r, std::string(core::phase_name(r.status.phase)));
      }
    }
    if (c_.liqo) {
      sweep_orphans(ids);
    }
  }

  // Deletes slices labelled with a reservation that no longer holds.
  void sweep_orphans(const std::set<std::string>& holding) {
    Json list = kube_->get(slice_path(""));
    for (const auto& item : list.value("items", Json::array())) {
      const Json meta = item.value("metadata", Json::object());
      std::string id = meta.value("labels", Json::object())
                           .value(std::string(k_reservation_label), "");
      if (!id.empty() && holding.count(id) == 0) {
        LRB_LOG(info, "deleting orphan slice", kv("reservation", id),
                kv("namespace", meta.value("namespace", "")));
        remove_slice(meta.value("namespace", ""), meta.value("name", ""));
      }
    }
  }

  void check_pending() {
    for (const auto& id : std::set<std::string>(pending_)) {
      handle(broker_.get(id), "");
    }
  }

  // Requester side: acts on `r` as the broker has it now. `event_phase`
  // is the phase an event reported ("" when listing).
  void handle(const core::Reservation& r, const std::string& event_phase) {
    if (c_.liqo) {
      handle_liqo(r);
      return;
    }
    if (r.status.phase == Phase::reserved) {
      run_reserved_hook(r);
    } else if ((event_phase == "Released" || event_phase == "Expired") &&
               ended_.insert(r.id).second && !c_.on_released.empty()) {
      hook(c_.on_released, "on-released", r);
    }
  }

  std::optional<Json> get_slice(const std::string& ns, const std::string& id) {
    try {
      return kube_->get(slice_path(ns) + "/" + id);
    } catch (const Error& e) {
      if (e.code() == Code::not_found) {
        return std::nullopt;
      }
      throw;
    }
  }

  void handle_liqo(const core::Reservation& r) {
    const std::string ns =
        tenant_namespace(c_.namespace_template, r.target_cluster_id);
    std::optional<Json> slice = get_slice(ns, r.id);
    for (int step = 0; step < 3; ++step) {
      SliceAnswer answer = slice ? slice_answer(*slice) : SliceAnswer::none;
      Action action = decide(r.status.phase, true, slice.has_value(), answer);
      LRB_LOG(debug, "reconcile", kv("reservation", r.id),
              kv("phase", core::phase_name(r.status.phase)),
              kv("action", action_name(action)));
      pending_.erase(r.id);
      switch (action) {
      case Action::create_slice:
        slice = create_slice(r, ns);
        continue; // an auto-accepting provider answers at once
      case Action::wait:
        pending_.insert(r.id);
        return;
      case Action::activate:
        activate(r, slice->value("status", Json::object())
                        .value("resources", Json::object()));
        return;
      case Action::release:
        release(r, "ResourceSlice denied by " + r.target_cluster_id + ": " +
                       denial_message(*slice));
        return;
      case Action::delete_slice:
        remove_slice(ns, r.id);
        return;
      case Action::none:
      case Action::run_hook:
        return;
      }
    }
  }

  static std::string denial_message(const Json& slice) {
    for (const auto& c : slice.value("status", Json::object())
                             .value("conditions", Json::array())) {
      if (c.value("type", "") == "Resources") {
        return c.value("message", c.value("reason", "Denied"));
      }
    }
    return "Denied";
  }

  Json create_slice(const core::Reservation& r, const std::string& ns) {
    try {
      Json created = kube_->create(slice_path(ns), slice_object(r, ns));
      ++s_.counters.slices_created;
      LRB_LOG(info, "slice created", kv("reservation", r.id),
              kv("namespace", ns), kv("provider", r.target_cluster_id));
      return created;
    } catch (const Error& e) {
      if (e.code() != Code::conflict) {
        throw;
      }
      return kube_->get(slice_path(ns) + "/" + r.id);
    }
  }

  void remove_slice(const std::string& ns, const std::string& name) {
    try {
      kube_->remove(slice_path(ns) + "/" + name);
      ++s_.counters.slices_deleted;
      LRB_LOG(info, "slice deleted", kv("reservation", name),
              kv("namespace", ns));
    } catch (const Error& e) {
      if (e.code() != Code::not_found) {
        throw;
      }
    }
  }

  void activate(const core::Reservation& r, const Json& granted) {
    Json body = Json::object();
    if (!granted.empty()) {
      body["grantedResources"] =
          core::encode_resources(core::decode_resources(granted, "granted"));
    }
    try {
      broker_.call(
          "POST",
          "/api/v1/reservations/" + kube::url_encode(r.id) + "/activate", body);
    } catch (const Error& e) {
      if (e.code() != Code::conflict) {
        throw;
      }
      LRB_LOG(info, "activation refused; the reservation moved on",
              kv("reservation", r.id), kv("error", e.what()));
      return;
    }
    ++s_.counters.activations;
    LRB_LOG(info, "reservation activated", kv("reservation", r.id),
            kv("provider", r.target_cluster_id));
  }

  void release(const core::Reservation& r, const std::string& reason) {
    try {
      broker_.call(
          "POST", "/api/v1/reservations/" + kube::url_encode(r.id) + "/release",
          Json{{"reason", reason}});
    } catch (const Error& e) {
      if (e.code() != Code::conflict) {
        throw;
      }
      return;
    }
    ++s_.counters.releases;
    LRB_LOG(info, "reservation released", kv("reservation", r.id),
            kv("reason", reason));
  }

  HookResult hook(const std::string& command, std::string_view name,
                  const core::Reservation& r) {
    ++s_.counters.hooks_run;
    HookResult result =
        run_hook(command, hook_environment(r),
                 core::encode_reservation(r).dump(), c_.hook_timeout_ms);
    LRB_LOG(info, "hook ran", kv("hook", name), kv("reservation", r.id),
            kv("exit", result.exit_code), kv("timed_out", result.timed_out));
    return result;
  }

  void run_reserved_hook(const core::Reservation& r) {
    if (c_.on_reserved.empty()) {
      activate(r, Json::object());
      return;
    }
    HookResult result = hook(c_.on_reserved, "on-reserved", r);
    if (result.exit_code == 0) {
      activate(r, Json::object());
      return;
    }
    std::string reason = result.last_line();
    if (reason.empty()) {
      reason = result.timed_out ? "on-reserved hook timed out after " +
                                      core::format_duration(c_.hook_timeout_ms)
                                : fmt::format("on-reserved hook exited {}",
                                              result.exit_code);
    }
    release(r, reason);
  }

  Shared& s_;
  const AgentConfig& c_;
  BrokerApi broker_;
  std::optional<kube::KubeClient> kube_;
  std::mt19937_64 rng_;
  std::string seq_path_;
  std::set<std::string> pending_;  // slices awaiting the provider
  std::set<std::string> provided_; // provider-side reservations seen
  std::set<std::string> ended_;    // on-released already run
};

void log_counters(const Counters& c) {
  LRB_LOG(info, "agent counters", kv("advertisements", c.advertisements),
          kv("advertise_errors", c.advertise_errors),
          kv("slices_created", c.slices_created),
          kv("slices_deleted", c.slices_deleted),
          kv("activations", c.activations), kv("releases", c.releases),
          kv("hooks_run", c.hooks_run), kv("provided", c.provided));
}

} // namespace

int run_agent(const AgentConfig& config, const std::atomic<bool>& stop) {
  Shared shared(config, stop);
  if (config.once) {
    Advertiser advertiser(shared);
    if (!advertiser.pass()) {
      throw Error(Code::unavailable,
                  "agent --once: the advertisement was not accepted (see the "
                  "warning above)");
    }
    return 0;
  }
  LRB_LOG(info, "agent starting", kv("cluster", config.cluster_id),
          kv("broker", config.broker.base_url), kv("liqo", config.liqo));
  // Both are built here so that bad TLS material fails the start.
  Advertiser advertiser(shared);
  Reconciler reconciler(shared);
  std::atomic<bool> running{true};
  AgentMetricsServer metrics(config, shared.counters, running);
  std::thread thread([&reconciler] { reconciler.run(); });
  advertiser.run();
  running = false;
  thread.join();
  log_counters(shared.counters);
  LRB_LOG(info, "agent stopped", kv("cluster", config.cluster_id));
  return 0;
}

} // namespace lrb::daemon
