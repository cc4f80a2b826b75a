// Tests of the trace replay and the snapshot generator on hand-made
// traces small enough that acceptance, cost, utilisation and
// fragmentation are worked out by hand in the comments.
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "daemon/sim.h"
#include "kube/inventory.h"
#include "kube/objects.h"

namespace lrb::daemon {

namespace {

using core::Slot;

constexpr std::uint64_t k_seed = 7;

core::TraceNode node(std::string name, std::int64_t cpu, std::int64_t mib,
                     std::int64_t gpus) {
  return {std::move(name), cpu, mib, gpus, gpus > 0 ? "T4" : ""};
}

// Returns a pod name starting with `prefix` that requester_index sends
// from cluster `requester` of `n`, so a test can fix who asks.
std::string name_from(const std::string& prefix, int requester, int n = 2) {
  for (int k = 0;; ++k) {
    auto name = prefix + "-" + std::to_string(k);
    if (requester_index(name, k_seed, n) == requester) {
      return name;
    }
  }
}

core::TracePod pod(std::string name, std::int64_t cpu, std::int64_t mib,
                   std::int64_t gpus, std::int64_t from, std::int64_t to) {
  core::TracePod p;
  p.name = std::move(name);
  p.cpu_milli = cpu;
  p.memory_mib = mib;
  p.num_gpu = gpus;
  p.gpu_milli = gpus > 0 ? 500 : 0;
  p.creation_time = from;
  p.deletion_time = to;
  return p;
}

// Two clusters of one node each: 4 cores, 8 GiB, `gpus` T4 GPUs, priced
// 0.1 per core-hour, 0.01 per GiB-hour, 1.0 per GPU-hour.
std::vector<SimCluster> two_clusters(std::int64_t gpus) {
  core::Prices prices;
  prices.cpu_per_hour = 0.1;
  prices.memory_gib_per_hour = 0.01;
  prices.gpu_per_hour["default"] = 1.0;
  return {{"a", "gcp", "r1", prices, {node("a0", 4000, 8192, gpus)}},
          {"b", "gcp", "r2", prices, {node("b0", 4000, 8192, gpus)}}};
}

} // namespace

TEST_CASE("replay: acceptance, cost and utilisation by hand") {
  // Every pod is asked by cluster a, so cluster b serves all of them.
  std::vector<core::TracePod> pods = {
      pod(name_from("p0", 0), 2000, 4096, 0, 0, 3600), // 1 h
      pod(name_from("p1", 0), 1000, 1024, 1, 0, 7200), // 2 h, shared GPU
      pod(name_from("p2", 0), 8000, 1024, 0, 10, 20),  // 8 cores: no fit
      pod(name_from("p3", 0), 1000, 1024, 2, 10, 20),  // 2 GPUs: no fit
      // Arrives the second p0 leaves: fits only once p0 is released
      // (2000 + 1000 + 3000 = 6000 > 4000 millicores otherwise).
      pod(name_from("p4", 0), 3000, 1024, 0, 3600, 3700),
  };
  auto r = run_simulation(two_clusters(1), pods, {{}, k_seed});

  CHECK(r.requests == 5);
  CHECK(r.accepted == 3); // p0, p1, p4
  CHECK(r.rejected == 2);
  CHECK(r.acceptance_rate == doctest::Approx(0.6)); // 3 / 5
  // p0: (2 x 0.1 + 4 x 0.01) = 0.24/h x 1 h = 0.24
  // p1: (1 x 0.1 + 1 x 0.01 + 1 x 1.0) = 1.11/h x 2 h = 2.22
  // p4: (3 x 0.1 + 1 x 0.01) = 0.31/h x 100/3600 h = 0.0086111
  CHECK(r.total_cost_usd == doctest::Approx(0.24 + 2.22 + 0.31 / 36));
  CHECK(r.mean_cost_usd == doctest::Approx((0.24 + 2.22 + 0.31 / 36) / 3));
  REQUIRE(r.clusters.size() == 2);
  CHECK(r.clusters[0].requested == 5);
  CHECK(r.clusters[0].served == 0);
  CHECK(r.clusters[1].served == 3);
  CHECK(r.clusters[0].util_cpu == 0);
  // Span 0..7200 s. b's cpu: 2000 x 3600 + 1000 x 7200 + 3000 x 100
  // = 14.7e6 milli-seconds over 4000 x 7200 = 28.8e6 -> 0.5104167.
  CHECK(r.clusters[1].util_cpu == doctest::Approx(14.7 / 28.8));
  // b's memory: 4096 x 3600 + 1024 x 7200 + 1024 x 100 MiB-seconds over
  // 8192 x 7200 -> (14745600 + 7372800 + 102400) / 58982400 = 0.3767361.
  CHECK(r.clusters[1].util_memory == doctest::Approx(22220800.0 / 58982400.0));
  // b's one GPU is held by p1 the whole span: 1.
  CHECK(r.clusters[1].util_gpu == doctest::Approx(1.0));
  CHECK(r.span_seconds == 7200);
}

TEST_CASE("replay: GPU fragmentation by hand") {
  // Both pods asked by a, so b serves. q0 takes 3500m and one of b's two
  // GPUs; q1 then finds 500m free on b and is rejected.
  std::vector<core::TracePod> pods = {
      pod(name_from("q0", 0), 3500, 1024, 1, 0, 100),
      pod(name_from("q1", 0), 1000, 1024, 1, 0, 100),
  };
  auto r = run_simulation(two_clusters(2), pods, {{}, k_seed});
  CHECK(r.accepted == 1);
  // Typical GPU request: medians of [1000, 3500] m -> 3500 m (upper),
  // 1024 MiB, 1 GPU.
  CHECK(r.typical_gpu_request.get(Slot::cpu) == 3500);
  CHECK(r.typical_gpu_request.get(Slot::gpu) == 1);
  // Over 0..100 s: a has 2 free GPUs and 4000m (the typical fits); b has
  // 1 free GPU but 500m (it does not): 1 x 100 / ((2 + 1) x 100) = 1/3.
  CHECK(r.gpu_fragmentation == doctest::Approx(1.0 / 3));
}

TEST_CASE("replay is deterministic for a seed and refuses one cluster") {
  std::vector<core::TraceNode> nodes;
  for (int i = 0; i < 9; ++i) {
    nodes.push_back(node("n" + std::to_string(i), 8000, 16384, i % 3));
  }
  std::vector<SimCluster> clusters;
  auto groups = split_round_robin(nodes, 3);
  for (int i = 0; i < 3; ++i) {
    core::Prices p;
    p.cpu_per_hour = 0.03 + 0.01 * i;
    p.memory_gib_per_hour = 0.004;
    p.gpu_per_hour["default"] = 0.35;
    clusters.push_back(
        {"c" + std::to_string(i), "gcp", "r", p, groups[std::size_t(i)]});
  }
  std::vector<core::TracePod> pods;
  for (int i = 0; i < 60; ++i) {
    pods.push_back(pod("pod-" + std::to_string(i), 1000 + 500 * (i % 5), 2048,
                       i % 4 == 0 ? 1 : 0, i * 10, i * 10 + 300));
  }
  SimOptions options{{}, 42};
  options.policy.name = "random";
  auto one = run_simulation(clusters, pods, options);
  auto two = run_simulation(clusters, pods, options);
  CHECK(one.accepted == two.accepted);
  CHECK(one.total_cost_usd == two.total_cost_usd);
  CHECK(one.gpu_fragmentation == two.gpu_fragmentation);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(one.clusters[i].served == two.clusters[i].served);
    CHECK(one.clusters[i].util_cpu == two.clusters[i].util_cpu);
  }
  CHECK(one.accepted > 0);

  auto few = std::vector<SimCluster>{clusters[0]};
  CHECK_THROWS_AS(run_simulation(few, pods, options), core::Error);
}

TEST_CASE("round-robin split and requester hash") {
  std::vector<core::TraceNode> nodes;
  for (int i = 0; i < 7; ++i) {
    nodes.push_back(node("n" + std::to_string(i), 1, 1, 0));
  }
  auto groups = split_round_robin(nodes, 3);
  // 7 nodes over 3: sizes 3 (n0 n3 n6), 2 (n1 n4), 2 (n2 n5).
  CHECK(groups[0].size() == 3);
  CHECK(groups[1].size() == 2);
  CHECK(groups[0][2].name == "n6");
  CHECK(groups[2][1].name == "n5");
  for (int i = 0; i < 20; ++i) {
    int at = requester_index("x" + std::to_string(i), 3, 4);
    CHECK(at >= 0);
    CHECK(at < 4);
    CHECK(at == requester_index("x" + std::to_string(i), 3, 4));
  }
}

TEST_CASE("snapshot: nodes, first-fit pods, readable by the inventory") {
  std::vector<core::TraceNode> nodes = {
      node("n0", 4000, 8192, 0), node("n1", 4000, 8192, 2),
      node("n2", 4000, 8192, 0), node("n3", 4000, 8192, 1)};
  // Share 1 of 1 takes every pod; running at t=50 are r0..r2 (r3 ended
  // at 40, r4 starts at 60).
  std::vector<core::TracePod> pods = {
      pod("r0", 3000, 1024, 0, 0, 100), pod("r1", 3000, 1024, 0, 0, 100),
      pod("r2", 1000, 1024, 1, 0, 100), pod("r3", 1000, 1024, 0, 0, 40),
      pod("r4", 1000, 1024, 0, 60, 100)};
  SnapshotSpec spec;
  spec.cluster_id = "paris";
  spec.region = "europe-west9";
  spec.at = 50;
  auto snap = build_snapshot(nodes, pods, spec);
  CHECK(snap.nodes == 4);
  CHECK(snap.pods == 3);
  CHECK(snap.unplaced == 0);

  std::vector<kube::NodeInfo> node_infos;
  std::vector<kube::PodInfo> pod_infos;
  kube::add_list(snap.list, node_infos, pod_infos);
  auto inv = kube::build_inventory(node_infos, pod_infos);
  // First fit: r0 on n0 (3000m), r1 does not fit n0 (1000m left) -> n1,
  // r2 fits n0's last 1000m but needs a GPU -> n1 (1000m left, 2 GPUs).
  CHECK(pod_infos[0].node_name == "n0");
  CHECK(pod_infos[1].node_name == "n1");
  CHECK(pod_infos[2].node_name == "n1");
  // Totals: 16 cores, 3 GPUs; allocated 7 cores, 1 GPU.
  CHECK(inv.totals.allocatable.get(Slot::cpu) == 16000);
  CHECK(inv.totals.allocatable.get(Slot::gpu) == 3);
  CHECK(inv.totals.allocated.get(Slot::cpu) == 7000);
  CHECK(inv.totals.allocated.get(Slot::gpu) == 1);
  CHECK(inv.region == "europe-west9");
  CHECK(inv.gpu_models.at("T4") == 3);

  // Share 1 of 2, CPU-only: n0 and n2 (n1, n3 go to share 2 or have
  // GPUs).
  spec.shares = 2;
  spec.cpu_only = true;
  CHECK(build_snapshot(nodes, pods, spec).nodes == 2);
  spec.share = 3;
  CHECK_THROWS_AS(build_snapshot(nodes, pods, spec), core::Error);
}

} // namespace lrb::daemon
