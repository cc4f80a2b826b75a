// Measures the scoring core the way the broker uses it: one decision over
// a whole fleet snapshot per reservation, on the request's thread. The
// fleet is synthetic but shaped like a real one (some clusters stale or
// cordoned, some too small, some with GPUs, prices from a handful of
// regions, a few without prices) so that every filter and both score
// terms do their share of the work. Each decision is timed on its own,
// many times, and the table reports the median, p99 and best time per
// decision and the median cost per cluster, for each fleet size, policy
// and detail level. Run it from a Release build; it prints, it does not
// judge.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/scoring.h"
#include "daemon/bench_fleet.h"

namespace {

using lrb::core::Cluster;
using lrb::core::ClusterState;
using lrb::core::Detail;
using lrb::core::Prices;
using lrb::core::ReservationRequest;
using lrb::core::ResourceList;
using lrb::core::Slot;
using lrb::daemon::bench::k_region_prices;
using lrb::daemon::bench::RegionPrice;

constexpr std::int64_t k_gi = std::int64_t{1} << 30;
constexpr std::int64_t k_sizes[] = {10, 1'000, 10'000, 100'000};

ResourceList cores_gib(std::int64_t cores, std::int64_t gib) {
  ResourceList list;
  list.set(Slot::cpu, cores * 1000);
  list.set(Slot::memory, gib * k_gi);
  return list;
}

Prices region_prices(const RegionPrice& region) {
  Prices prices;
  prices.cpu_per_hour = region.cpu;
  prices.memory_gib_per_hour = region.memory;
  if (region.t4 > 0) {
    prices.gpu_per_hour = {{"T4", region.t4}};
  }
  return prices;
}

// Returns one synthetic cluster: 8 to 512 cpus at 4 GiB each, 10 %
// stale, 2 % cordoned, ~15 % nearly full, 20 % with T4s, 1 % unpriced.
Cluster make_cluster(std::int64_t id, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> percent(0, 99);
  const std::int64_t cores = 8 << (rng() % 7);
  const RegionPrice& region =
      k_region_prices[rng() % std::size(k_region_prices)];
  const bool full = percent(rng) < 15;
  const std::int64_t free_cores =
      full ? 1 : cores / 4 + static_cast<std::int64_t>(rng() % (cores / 2));

  Cluster cluster;
  cluster.ad.cluster_id = fmt::format("cluster-{:06}", id);
  cluster.ad.region = region.region;
  cluster.ad.labels = {{"cloud", "gcp"}, {"tier", id % 3 ? "std" : "gold"}};
  cluster.ad.resources.allocatable = cores_gib(cores, 4 * cores);
  cluster.free = cores_gib(free_cores, 4 * free_cores);
  if (percent(rng) < 20 && region.t4 > 0) {
    cluster.ad.resources.allocatable.set(Slot::gpu, 8);
    cluster.free.set(Slot::gpu, static_cast<std::int64_t>(rng() % 9));
    cluster.ad.gpu_models = {{"T4", 8}};
  }
  if (percent(rng) >= 1) {
    cluster.ad.prices = region_prices(region);
  }
  const int state = percent(rng);
  cluster.state = state < 10 ? ClusterState::stale : ClusterState::ready;
  cluster.cordoned = state >= 10 && state < 12;
  return cluster;
}

std::vector<Cluster> make_fleet(std::int64_t count) {
  std::mt19937_64 rng(20261204);
  std::vector<Cluster> fleet;
  fleet.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    fleet.push_back(make_cluster(i, rng));
  }
  // The broker's snapshot comes in no particular order.
  std::shuffle(fleet.begin(), fleet.end(), rng);
  return fleet;
}

// A named request the table reports on.
struct Scenario {
  const char* name;
  ReservationRequest request;
};

std::vector<Scenario> scenarios() {
  ReservationRequest plain;
  plain.requester_id = "cluster-000000";
  plain.requested = cores_gib(4, 16);

  ReservationRequest gpu = plain;
  gpu.requested.set(Slot::gpu, 2);
  gpu.constraints.gpu_model = "T4";

  ReservationRequest constrained = plain;
  constrained.constraints.regions = {"europe-west3", "europe-west8"};
  constrained.constraints.labels = {{"tier", "gold"}};
  constrained.constraints.max_price_per_hour = 0.25;

  ReservationRequest random = plain;
  random.policy = {"random", {}, {}, 42};
  ReservationRequest binpack = plain;
  binpack.policy.name = "binpack";
  return {{"weighted", plain},
          {"gpu T4", gpu},
          {"constrained", constrained},
          {"random", random},
          {"binpack", binpack}};
}

// Timings of one row of the table, in nanoseconds.
struct Stats {
  double median = 0;
  double p99 = 0;
  double min = 0;
  int iterations = 0;
  int candidates = 0;
};

int iterations_for(std::int64_t clusters, Detail detail) {
  const std::int64_t budget = detail == Detail::full ? 4'000'000 : 20'000'000;
  return static_cast<int>(
      std::clamp<std::int64_t>(budget / clusters, 30, 20'000));
}

Stats measure(const ReservationRequest& request,
              const std::vector<Cluster>& fleet, Detail detail) {
  using Clock = std::chrono::steady_clock;
  const lrb::core::ScoringConfig config;
  const int iterations =
      iterations_for(static_cast<std::int64_t>(fleet.size()), detail);
  std::vector<double> times;
  times.reserve(static_cast<std::size_t>(iterations));
  Stats stats;
  for (int i = -3; i < iterations; ++i) { // three warm-up rounds
    const auto start = Clock::now();
    const auto decision = lrb::core::decide(request, fleet, config, detail);
    const auto stop = Clock::now();
    stats.candidates = decision.candidates;
    if (i >= 0) {
      times.push_back(
          std::chrono::duration<double, std::nano>(stop - start).count());
    }
  }
  std::sort(times.begin(), times.end());
  stats.iterations = iterations;
  stats.median = times[times.size() / 2];
  stats.p99 = times[std::min(times.size() - 1, times.size() * 99 / 100)];
  stats.min = times.front();
  return stats;
}

const char* detail_name(Detail detail) {
  switch (detail) {
  case Detail::full:
    return "full";
  case Detail::summary:
    return "summary";
  case Detail::none:
    return "none";
  }
  return "?";
}

std::string micros(double ns) {
  return fmt::format("{:.1f}", ns / 1000.0);
}

} // namespace

// Takes `decisions` decisions (weighted policy, the broker's summary
// detail) over a fleet of `clusters` and prints nothing but a checksum:
// the mode scripts/bench-callgrind.sh counts instructions of, once with
// N decisions and once with 0, so that building the fleet cancels out.
int run_once(std::int64_t clusters, std::int64_t decisions) {
  const std::vector<Cluster> fleet = make_fleet(clusters);
  const ReservationRequest request = scenarios().front().request;
  const lrb::core::ScoringConfig config;
  std::int64_t checksum = 0;
  for (std::int64_t i = 0; i < decisions; ++i) {
    checksum +=
        lrb::core::decide(request, fleet, config, Detail::summary).candidates;
  }
  fmt::print("clusters={} decisions={} checksum={}\n", clusters, decisions,
             checksum);
  return 0;
}

// Runs the table for the fleet sizes given as arguments, or for all of
// k_sizes; `--once N [CLUSTERS]` runs N decisions at CLUSTERS (default
// 10,000) for instruction counting.
int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--once") {
    const std::int64_t decisions = argc > 2 ? std::atoll(argv[2]) : 1;
    const std::int64_t clusters = argc > 3 ? std::atoll(argv[3]) : 10'000;
    return run_once(std::max<std::int64_t>(1, clusters),
                    std::max<std::int64_t>(0, decisions));
  }
  std::vector<std::int64_t> sizes(std::begin(k_sizes), std::end(k_sizes));
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) {
      sizes.push_back(std::max<std::int64_t>(1, std::atoll(argv[i])));
    }
  }
  fmt::print("{:>8} {:<12} {:<8} {:>6} {:>10} {:>10} {:>10} {:>8} {:>10}\n",
             "clusters", "scenario", "detail", "iters", "median_us", "p99_us",
             "min_us", "ns/clu", "candidates");
  for (const std::int64_t size : sizes) {
    const std::vector<Cluster> fleet = make_fleet(size);
    for (const Scenario& scenario : scenarios()) {
      for (const Detail detail :
           {Detail::none, Detail::summary, Detail::full}) {
        const Stats s = measure(scenario.request, fleet, detail);
        fmt::print("{:>8} {:<12} {:<8} {:>6} {:>10} {:>10} {:>10} {:>8.1f} "
                   "{:>10}\n",
                   size, scenario.name, detail_name(detail), s.iterations,
                   micros(s.median), micros(s.p99), micros(s.min),
                   s.median / static_cast<double>(size), s.candidates);
      }
    }
  }
  return 0;
}
