// The replay engine of `lrb sim`. Its one rule is to measure the broker,
// not a model of it: every arrival is Broker::create (so core::decide and
// the versioned lock on the chosen cluster), then activate, and every
// deletion is Broker::release, over the in-memory store. Time is a
// ManualClock moved to each trace event in turn; between two events
// nothing changes, so the time-weighted measures are exact sums of
// (value x interval) read from the broker's own cluster table.
#include "daemon/sim.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/error.h"
#include "daemon/broker.h"
#include "daemon/memory_store.h"
#include "daemon/metrics.h"

namespace lrb::daemon {

namespace {

using core::ResourceList;
using core::Slot;

constexpr std::int64_t k_mib = 1LL << 20;
constexpr std::int64_t k_pods_per_node = 110; // the kubelet default
constexpr std::int64_t k_century_ms = 100LL * 365 * 86'400'000;
constexpr int k_arrivals_per_sweep = 512;
constexpr double k_ms_per_hour = 3'600'000.0;

// One trace event. Departures sort before arrivals at the same second
// (capacity freed then is usable), except a pod deleted the second it
// was created, which must arrive first.
struct Event {
  std::int64_t time = 0; // seconds
  int kind = 0;          // 0 departure, 1 arrival, 2 instant departure
  std::size_t pod = 0;

  friend bool operator<(const Event& a, const Event& b) {
    return std::tie(a.time, a.kind, a.pod) < std::tie(b.time, b.kind, b.pod);
  }
};

// Resource-seconds accumulated by one cluster.
struct Integrals {
  double cpu = 0;
  double memory = 0;
  double gpu = 0;
};

std::int64_t last_event_time(const std::vector<core::TracePod>& pods) {
  std::int64_t end = 0;
  for (const auto& p : pods) {
    end = std::max({end, p.creation_time, p.deletion_time.value_or(0)});
  }
  return end;
}

std::vector<Event> schedule(const std::vector<core::TracePod>& pods) {
  std::vector<Event> events;
  events.reserve(pods.size() * 2);
  for (std::size_t i = 0; i < pods.size(); ++i) {
    const auto& p = pods[i];
    events.push_back({p.creation_time, 1, i});
    if (p.deletion_time) {
      bool instant = *p.deletion_time == p.creation_time;
      events.push_back({*p.deletion_time, instant ? 2 : 0, i});
    }
  }
  std::sort(events.begin(), events.end());
  return events;
}

double ratio(double part, double whole) {
  return whole > 0 ? part / whole : 0;
}

BrokerConfig sim_broker_config(const SimOptions& options) {
  // The replay releases every reservation itself and advertises once:
  // no lease, deadline or silence may end anything on its own.
  BrokerConfig config;
  config.stale_after_ms = k_century_ms;
  config.activation_timeout_ms = k_century_ms;
  config.max_duration_ms = k_century_ms;
  config.event_retention_ms = 60'000;
  if (!options.policy.name.empty()) {
    config.scoring.policy = options.policy.name;
  }
  return config;
}

// One replay: the broker, its clock and the running measures.
class Replay {
public:
  Replay(const std::vector<SimCluster>& clusters,
         const std::vector<core::TracePod>& pods, const SimOptions& options)
      : clusters_(clusters), pods_(pods), options_(options),
        store_(open_memory_store()),
        broker_(*store_, clock_, sim_broker_config(options), metrics_),
        ids_(pods.size()), integrals_(clusters.size()) {}

  SimResult run();

private:
  void advertise_all();
  void advance_to(std::int64_t time);
  void integrate(double seconds);
  void arrive(std::size_t i);
  void depart(std::size_t i);
  SimResult result() const;

  const std::vector<SimCluster>& clusters_;
  const std::vector<core::TracePod>& pods_;
  SimOptions options_;
  core::ManualClock clock_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  Broker broker_;
  RequestContext ctx_;

  std::vector<std::string> ids_; // reservation id per accepted pod
  std::vector<Integrals> integrals_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<std::int64_t> requested_, served_;
  std::vector<double> cost_;
  ResourceList typical_;
  std::int64_t start_ = 0, now_ = 0, end_ = 0;
  std::int64_t accepted_ = 0;
  double frag_gpu_seconds_ = 0, free_gpu_seconds_ = 0;
};

SimResult Replay::run() {
  auto events = schedule(pods_);
  typical_ = typical_gpu_request(pods_);
  end_ = last_event_time(pods_);
  start_ = now_ = events.empty() ? 0 : events.front().time;
  requested_.assign(clusters_.size(), 0);
  served_.assign(clusters_.size(), 0);
  cost_.assign(clusters_.size(), 0);
  advertise_all();

  int arrivals = 0;
  for (const auto& e : events) {
    advance_to(e.time);
    if (e.kind == 1) {
      arrive(e.pod);
      if (++arrivals % k_arrivals_per_sweep == 0) {
        broker_.sweep(); // compacts the event log of a long replay
      }
    } else {
      depart(e.pod);
    }
  }
  advance_to(end_);
  return result();
}

void Replay::advertise_all() {
  for (std::size_t i = 0; i < clusters_.size(); ++i) {
    index_.emplace(clusters_[i].id, i);
    broker_.advertise(ctx_, sim_advertisement(clusters_[i]));
  }
}

void Replay::advance_to(std::int64_t time) {
  if (time <= now_) {
    return;
  }
  integrate(static_cast<double>(time - now_));
  clock_.advance((time - now_) * 1000);
  now_ = time;
}

void Replay::integrate(double seconds) {
  for (const auto& c : broker_.clusters()) {
    auto& in = integrals_[index_.at(c.ad.cluster_id)];
    in.cpu += static_cast<double>(c.reserved.get(Slot::cpu)) * seconds;
    in.memory += static_cast<double>(c.reserved.get(Slot::memory)) * seconds;
    in.gpu += static_cast<double>(c.reserved.get(Slot::gpu)) * seconds;

    auto free_gpus = static_cast<double>(c.free.get(Slot::gpu));
    free_gpu_seconds_ += free_gpus * seconds;
    if (!typical_.empty() && !c.free.fits(typical_)) {
      frag_gpu_seconds_ += free_gpus * seconds;
    }
  }
}

void Replay::arrive(std::size_t i) {
  const auto& pod = pods_[i];
  auto requester = static_cast<std::size_t>(requester_index(
      pod.name, options_.seed, static_cast<int>(clusters_.size())));
  ++requested_[requester];

  core::ReservationRequest request;
  request.requester_id = clusters_[requester].id;
  request.requested = pod_request(pod);
  std::int64_t held = pod.deletion_time.value_or(end_) - pod.creation_time;
  request.duration_ms = std::max<std::int64_t>(held * 1000, 1);
  request.policy = options_.policy;
  request.policy.seed = options_.seed ^ static_cast<std::uint64_t>(i);

  auto created = broker_.create(ctx_, request, "").reservation;
  if (created.status.phase != core::Phase::reserved) {
    return;
  }
  broker_.activate(ctx_, created.id, std::nullopt);
  ids_[i] = created.id;
  ++accepted_;

  auto provider = index_.at(created.target_cluster_id);
  ++served_[provider];
  for (const auto& row : created.decision.rows) {
    if (row.cluster_id == created.target_cluster_id) {
      cost_[provider] += row.price_per_hour.value_or(0) *
                         static_cast<double>(held * 1000) / k_ms_per_hour;
    }
  }
}

void Replay::depart(std::size_t i) {
  if (!ids_[i].empty()) {
    broker_.release(ctx_, ids_[i], "pod deleted in the trace");
  }
}

SimResult Replay::result() const {
  SimResult r;
  r.policy = options_.policy.name.empty() ? "weighted" : options_.policy.name;
  r.seed = options_.seed;
  r.requests = static_cast<std::int64_t>(pods_.size());
  r.accepted = accepted_;
  r.rejected = r.requests - r.accepted;
  r.acceptance_rate = ratio(double(r.accepted), double(r.requests));
  r.gpu_fragmentation = ratio(frag_gpu_seconds_, free_gpu_seconds_);
  r.typical_gpu_request = typical_;
  r.span_seconds = end_ - start_;
  auto span = static_cast<double>(r.span_seconds);
  for (std::size_t i = 0; i < clusters_.size(); ++i) {
    SimClusterResult c;
    c.id = clusters_[i].id;
    c.region = clusters_[i].region;
    c.nodes = static_cast<std::int64_t>(clusters_[i].nodes.size());
    c.allocatable = sim_advertisement(clusters_[i]).resources.allocatable;
    c.requested = requested_[i];
    c.served = served_[i];
    c.cost_usd = cost_[i];
    auto mean = [&](double integral, Slot slot) {
      return ratio(integral, double(c.allocatable.get(slot)) * span);
    };
    c.util_cpu = mean(integrals_[i].cpu, Slot::cpu);
    c.util_memory = mean(integrals_[i].memory, Slot::memory);
    c.util_gpu = mean(integrals_[i].gpu, Slot::gpu);
    r.total_cost_usd += c.cost_usd;
    r.clusters.push_back(std::move(c));
  }
  r.mean_cost_usd = ratio(r.total_cost_usd, double(r.accepted));
  return r;
}

std::int64_t median(std::vector<std::int64_t> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

} // namespace

std::vector<std::vector<core::TraceNode>>
split_round_robin(const std::vector<core::TraceNode>& nodes, int n) {
  std::vector<std::vector<core::TraceNode>> out(
      static_cast<std::size_t>(std::max(n, 0)));
  for (std::size_t i = 0; i < nodes.size() && n > 0; ++i) {
    out[i % out.size()].push_back(nodes[i]);
  }
  return out;
}

int requester_index(std::string_view pod_name, std::uint64_t seed, int n) {
  std::uint64_t h = 14695981039346656037ULL; // FNV-1a offset basis
  auto mix = [&h](unsigned char byte) {
    h ^= byte;
    h *= 1099511628211ULL; // FNV-1a prime
  };
  for (int shift = 0; shift < 64; shift += 8) {
    mix(static_cast<unsigned char>(seed >> shift));
  }
  for (char c : pod_name) {
    mix(static_cast<unsigned char>(c));
  }
  return static_cast<int>(h % static_cast<std::uint64_t>(n));
}

core::ResourceList pod_request(const core::TracePod& pod) {
  ResourceList r;
  r.set(Slot::cpu, std::max<std::int64_t>(pod.cpu_milli, 1));
  r.set(Slot::memory, std::max<std::int64_t>(pod.memory_mib, 1) * k_mib);
  if (auto gpus = core::whole_gpus(pod); gpus > 0) {
    r.set(Slot::gpu, gpus);
  }
  return r;
}

core::Advertisement sim_advertisement(const SimCluster& cluster) {
  core::Advertisement ad;
  ad.cluster_id = cluster.id;
  ad.cluster_name = cluster.id;
  ad.generation = 1;
  ad.region = cluster.region;
  ad.labels = {{"cloud", cluster.cloud}};
  ad.prices = cluster.prices;

  ResourceList total, largest;
  for (const auto& node : cluster.nodes) {
    ResourceList n;
    n.set(Slot::cpu, node.cpu_milli);
    n.set(Slot::memory, node.memory_mib * k_mib);
    n.set(Slot::gpu, node.gpus);
    n.set(Slot::pods, k_pods_per_node);
    total += n;
    largest = ResourceList::max(largest, n);
    if (node.gpus > 0) {
      ad.gpu_models[node.model] += node.gpus;
    }
  }
  ad.resources.capacity = total;
  ad.resources.allocatable = total;
  ad.resources.allocated = ResourceList{};
  ad.resources.available = total;
  ad.resources.largest_node_available = largest;
  return ad;
}

core::ResourceList
typical_gpu_request(const std::vector<core::TracePod>& pods) {
  std::vector<std::int64_t> cpu, memory, gpus;
  for (const auto& pod : pods) {
    auto r = pod_request(pod);
    if (r.get(Slot::gpu) > 0) {
      cpu.push_back(r.get(Slot::cpu));
      memory.push_back(r.get(Slot::memory));
      gpus.push_back(r.get(Slot::gpu));
    }
  }
  ResourceList typical;
  if (!gpus.empty()) {
    typical.set(Slot::cpu, median(cpu));
    typical.set(Slot::memory, median(memory));
    typical.set(Slot::gpu, median(gpus));
  }
  return typical;
}

SimResult run_simulation(const std::vector<SimCluster>& clusters,
                         const std::vector<core::TracePod>& pods,
                         const SimOptions& options) {
  if (clusters.size() < 2) {
    throw core::Error(core::Code::invalid_argument,
                      fmt::format("the replay needs at least 2 clusters, got "
                                  "{}: a cluster never serves itself",
                                  clusters.size()),
                      "clusters", "TooFewClusters");
  }
  Replay replay(clusters, pods, options);
  return replay.run();
}

} // namespace lrb::daemon

// ---- snapshots ----

namespace lrb::daemon {

namespace {

// The capacity of one trace node in Kubernetes' own spelling.
core::Json node_resources(const core::TraceNode& node) {
  core::Json r = {
      {"cpu", core::format_resource("cpu", node.cpu_milli)},
      {"memory", core::format_resource("memory", node.memory_mib * k_mib)},
      {"pods", std::to_string(k_pods_per_node)}};
  if (node.gpus > 0) {
    r["nvidia.com/gpu"] = std::to_string(node.gpus);
  }
  return r;
}

core::Json node_object(const core::TraceNode& node, const SnapshotSpec& spec) {
  core::Json labels = {{"kubernetes.io/hostname", node.name},
                       {"topology.kubernetes.io/region", spec.region},
                       {"lrb.io/cluster", spec.cluster_id}};
  if (node.gpus > 0) {
    labels["nvidia.com/gpu.product"] = node.model;
  }
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", node.name}, {"labels", labels}}},
          {"spec", core::Json::object()},
          {"status",
           {{"capacity", node_resources(node)},
            {"allocatable", node_resources(node)},
            {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
}

core::Json pod_object(const core::TracePod& pod, const std::string& node) {
  auto request = pod_request(pod);
  core::Json requests = {
      {"cpu", core::format_resource("cpu", request.get(Slot::cpu))},
      {"memory", core::format_resource("memory", request.get(Slot::memory))}};
  core::Json resources = {{"requests", requests}};
  if (auto gpus = request.get(Slot::gpu); gpus > 0) {
    // Kubernetes wants an extended resource's limit equal to its request.
    resources["requests"]["nvidia.com/gpu"] = std::to_string(gpus);
    resources["limits"] = {{"nvidia.com/gpu", std::to_string(gpus)}};
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", pod.name}, {"namespace", "default"}}},
          {"spec",
           {{"nodeName", node},
            {"containers",
             {{{"name", "main"},
               {"image", "registry.k8s.io/pause:3.9"},
               {"resources", resources}}}}}},
          {"status", {{"phase", "Running"}}}};
}

bool running_at(const core::TracePod& pod, std::int64_t at) {
  return pod.creation_time <= at &&
         (!pod.deletion_time || *pod.deletion_time > at);
}

void check_share(const SnapshotSpec& spec) {
  if (spec.shares < 1 || spec.share < 1 || spec.share > spec.shares) {
    throw core::Error(core::Code::invalid_argument,
                      fmt::format("share {}/{} is not a share: write I/N "
                                  "with 1 <= I <= N, such as 1/3",
                                  spec.share, spec.shares),
                      "share", "InvalidShare");
  }
}

} // namespace

Snapshot build_snapshot(const std::vector<core::TraceNode>& nodes,
                        const std::vector<core::TracePod>& pods,
                        const SnapshotSpec& spec) {
  check_share(spec);
  // Held by name: a range-for over an element of a temporary would
  // outlive the temporary.
  auto shares = split_round_robin(nodes, spec.shares);
  std::vector<core::TraceNode> mine;
  for (const auto& n : shares[std::size_t(spec.share - 1)]) {
    if (!spec.cpu_only || n.gpus == 0) {
      mine.push_back(n);
    }
  }

  Snapshot out;
  out.list = {
      {"apiVersion", "v1"}, {"kind", "List"}, {"items", core::Json::array()}};
  std::vector<ResourceList> room; // per node, what is left
  for (const auto& n : mine) {
    out.list["items"].push_back(node_object(n, spec));
    room.push_back(
        sim_advertisement({"", "", "", {}, {n}}).resources.allocatable);
  }
  out.nodes = static_cast<std::int64_t>(mine.size());

  // First fit, in the trace's order, of the share's running pods.
  for (const auto& pod : pods) {
    if (!running_at(pod, spec.at) ||
        requester_index(pod.name, spec.seed, spec.shares) != spec.share - 1) {
      continue;
    }
    auto request = pod_request(pod);
    request.set(Slot::pods, 1);
    auto fit = std::find_if(room.begin(), room.end(),
                            [&](const auto& r) { return r.fits(request); });
    if (fit == room.end()) {
      ++out.unplaced;
      continue;
    }
    *fit -= request;
    auto node = mine[std::size_t(fit - room.begin())].name;
    out.list["items"].push_back(pod_object(pod, node));
    ++out.pods;
  }
  return out;
}

} // namespace lrb::daemon
