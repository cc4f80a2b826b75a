// Node eligibility, per-node clamping and cluster totals, ending with a
// realistic `kubectl get nodes,pods -A -o json` snapshot
// (tests/data/snapshots/rome-gpu.json: four nodes, sixteen pods, made up
// for these tests) whose every total is worked out in the comments.
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "kube/inventory.h"

namespace lrb::kube {

namespace {

constexpr std::int64_t k_ki = 1024;
constexpr std::int64_t k_mi = 1024 * k_ki;
constexpr std::int64_t k_gi = 1024 * k_mi;

// Returns a Ready, schedulable node with `cpu` millicores and `memory`
// bytes allocatable (capacity the same), and `gpus` when non-zero.
NodeInfo node(const std::string& name, std::int64_t cpu, std::int64_t memory,
              std::int64_t gpus = 0, const std::string& model = "") {
  NodeInfo n;
  n.name = name;
  n.ready = true;
  n.allocatable.set("cpu", cpu);
  n.allocatable.set("memory", memory);
  n.allocatable.set("pods", 110);
  if (gpus > 0) {
    n.allocatable.set("gpu", gpus);
    n.gpu_model = model;
  }
  n.capacity = n.allocatable;
  return n;
}

// Returns a Running pod bound to `node_name` asking for cpu and memory.
PodInfo pod(const std::string& name, const std::string& node_name,
            std::int64_t cpu, std::int64_t memory, std::int64_t gpus = 0) {
  PodInfo p;
  p.pod_namespace = "default";
  p.name = name;
  p.node_name = node_name;
  p.phase = "Running";
  p.requests.set("cpu", cpu);
  p.requests.set("memory", memory);
  if (gpus > 0) {
    p.requests.set("gpu", gpus);
  }
  return p;
}

// Returns the row named `name`.
const NodeRow& row_of(const Inventory& inv, const std::string& name) {
  for (const auto& row : inv.nodes) {
    if (row.name == name) {
      return row;
    }
  }
  FAIL("no row " << name);
  return inv.nodes.front();
}

} // namespace

TEST_CASE("node eligibility and the filter's options") {
  struct Row {
    const char* name;
    void (*edit)(NodeInfo&);
    NodeFilter filter;
    const char* want; // "" = eligible
  };
  const NodeFilter all{true, true, true, {}};
  const NodeFilter not_ready_ok{true, false, false, {}};
  const NodeFilter cordon_ok{false, true, false, {}};
  const NodeFilter gpu_tolerated{false, false, false, {"nvidia.com/gpu"}};
  auto not_ready = [](NodeInfo& n) { n.ready = false; };
  auto cordoned = [](NodeInfo& n) {
    n.unschedulable = true;
    n.taints.push_back({"node.kubernetes.io/unschedulable", "", "NoSchedule"});
  };
  auto gpu_taint = [](NodeInfo& n) {
    n.taints.push_back({"nvidia.com/gpu", "present", "NoSchedule"});
  };
  auto lost = [](NodeInfo& n) {
    n.ready = false;
    n.taints.push_back({"node.kubernetes.io/unreachable", "", "NoExecute"});
    n.taints.push_back({"node.kubernetes.io/unreachable", "", "NoSchedule"});
  };
  const Row rows[] = {
      {"healthy", [](NodeInfo&) {}, {}, ""},
      {"NotReady", not_ready, {}, "NotReady"},
      {"NotReady, included", not_ready, not_ready_ok, ""},
      {"cordoned (flag and taint) is one reason", cordoned, {}, "Cordoned"},
      {"cordoned, included", cordoned, cordon_ok, ""},
      {"NoSchedule taint",
       gpu_taint,
       {},
       "Tainted nvidia.com/gpu=present:NoSchedule"},
      {"NoExecute taint without value",
       [](NodeInfo& n) {
         n.taints.push_back({"dedicated", "", "NoExecute"});
       },
       {},
       "Tainted dedicated:NoExecute"},
      {"PreferNoSchedule does not exclude",
       [](NodeInfo& n) {
         n.taints.push_back({"spot", "true", "PreferNoSchedule"});
       },
       {},
       ""},
      {"tainted, included", gpu_taint, all, ""},
      {"tainted, key tolerated", gpu_taint, gpu_tolerated, ""},
      {"unreachable: the condition taints follow NotReady",
       lost,
       {},
       "NotReady"},
      {"unreachable, NotReady included", lost, not_ready_ok, ""},
      {"several reasons in order",
       [](NodeInfo& n) {
         n.ready = false;
         n.unschedulable = true;
         n.taints.push_back({"nvidia.com/gpu", "present", "NoSchedule"});
       },
       cordon_ok, "NotReady; Tainted nvidia.com/gpu=present:NoSchedule"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    NodeInfo n = node("n", 4000, 16 * k_gi);
    row.edit(n);
    CHECK(ineligibility(n, row.filter) == row.want);
  }
}

TEST_CASE("an overcommitted node is clamped at zero before summing") {
  std::vector<NodeInfo> nodes = {node("a", 4000, 8 * k_gi),
                                 node("b", 4000, 8 * k_gi)};
  // Node a: pods ask 3000 + 3000 = 6000m of 4000m (allocatable shrank
  // under them); node b: 1000m of 4000m.
  std::vector<PodInfo> pods = {pod("p1", "a", 3000, 2 * k_gi),
                               pod("p2", "a", 3000, 2 * k_gi),
                               pod("p3", "b", 1000, 1 * k_gi)};
  Inventory inv = build_inventory(nodes, pods);

  CHECK(row_of(inv, "a").available.get("cpu") == 0); // max(0, 4000 - 6000)
  CHECK(row_of(inv, "b").available.get("cpu") == 3000);
  // 0 + 3000, not (4000 + 4000) - (6000 + 1000) = 1000.
  CHECK(inv.totals.available.get("cpu") == 3000);
  CHECK(inv.totals.allocated.get("cpu") == 7000);
  CHECK(inv.totals.allocatable.get("cpu") == 8000);
  // Memory: a 8 - 4 = 4Gi, b 8 - 1 = 7Gi; sum 11Gi, largest 7Gi.
  CHECK(inv.totals.available.get("memory") == 11 * k_gi);
  CHECK(inv.totals.largest_node_available.get("memory") == 7 * k_gi);
  CHECK(inv.totals.largest_node_available.get("cpu") == 3000);
  // Pods: a 110 - 2 = 108, b 110 - 1 = 109.
  CHECK(inv.totals.available.get("pods") == 217);
}

TEST_CASE("which pods count") {
  std::vector<NodeInfo> nodes = {node("a", 8000, 32 * k_gi)};
  struct Row {
    const char* name;
    void (*edit)(PodInfo&);
    std::int64_t want_cpu; // allocated on node a (the pod asks 1000m)
  };
  const Row rows[] = {
      {"Running", [](PodInfo&) {}, 1000},
      {"Pending but bound", [](PodInfo& p) { p.phase = "Pending"; }, 1000},
      {"Unknown phase", [](PodInfo& p) { p.phase = "Unknown"; }, 1000},
      {"terminating", [](PodInfo& p) { p.terminating = true; }, 1000},
      {"Succeeded", [](PodInfo& p) { p.phase = "Succeeded"; }, 0},
      {"Failed", [](PodInfo& p) { p.phase = "Failed"; }, 0},
      {"not bound", [](PodInfo& p) { p.node_name.clear(); }, 0},
      {"bound to a node not listed", [](PodInfo& p) { p.node_name = "z"; }, 0},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    PodInfo p = pod("p", "a", 1000, k_gi);
    row.edit(p);
    Inventory inv = build_inventory(nodes, {p});
    CHECK(inv.nodes[0].allocated.get("cpu") == row.want_cpu);
    CHECK(inv.nodes[0].pods == (row.want_cpu > 0 ? 1 : 0));
  }
}

TEST_CASE("counts say what became of every pod and node") {
  NodeInfo cordoned = node("c", 4000, 8 * k_gi);
  cordoned.unschedulable = true;
  std::vector<NodeInfo> nodes = {node("a", 4000, 8 * k_gi), cordoned};
  std::vector<PodInfo> pods = {
      pod("run", "a", 100, k_mi),     pod("on-cordoned", "c", 100, k_mi),
      pod("done", "a", 100, k_mi),    pod("unbound", "", 100, k_mi),
      pod("lost", "gone", 100, k_mi), pod("leaving", "a", 100, k_mi)};
  pods[2].phase = "Succeeded";
  pods[5].terminating = true;
  Inventory inv = build_inventory(nodes, pods);

  CHECK(inv.counts.nodes == 2);
  CHECK(inv.counts.eligible_nodes == 1);
  CHECK(inv.counts.pods == 6);
  CHECK(inv.counts.counted_pods == 3); // run, on-cordoned, leaving
  CHECK(inv.counts.terminal_pods == 1);
  CHECK(inv.counts.unbound_pods == 1);
  CHECK(inv.counts.unknown_node_pods == 1);
  CHECK(inv.counts.terminating_pods == 1);
  // The cordoned node's row is charged (on-cordoned, 100m) but stays out
  // of the totals, which hold node a: run 100 + leaving 100 = 200m.
  CHECK(row_of(inv, "c").allocated.get("cpu") == 100);
  CHECK_FALSE(row_of(inv, "c").eligible);
  CHECK(row_of(inv, "c").why_not == "Cordoned");
  CHECK(inv.totals.allocated.get("cpu") == 200);
  CHECK(inv.totals.allocatable.get("cpu") == 4000);
}

TEST_CASE("GPUs come from allocatable, per model, on eligible nodes") {
  NodeInfo a100 = node("g1", 48000, 340 * k_gi, 6, "NVIDIA-A100-SXM4-80GB");
  a100.capacity.set("gpu", 8); // two GPUs unhealthy: allocatable 6
  NodeInfo l4 = node("g2", 16000, 64 * k_gi, 4, "NVIDIA-L4");
  NodeInfo unlabeled = node("g3", 16000, 64 * k_gi, 2);
  NodeInfo tainted = node("g4", 16000, 64 * k_gi, 4, "NVIDIA-L4");
  tainted.taints.push_back({"nvidia.com/gpu", "present", "NoSchedule"});
  std::vector<PodInfo> pods = {pod("train", "g1", 8000, 64 * k_gi, 2),
                               pod("infer", "g2", 4000, 16 * k_gi, 4)};
  Inventory inv = build_inventory({a100, l4, unlabeled, tainted}, pods);

  CHECK(inv.totals.capacity.get("gpu") == 14);              // 8 + 4 + 2
  CHECK(inv.totals.allocatable.get("gpu") == 12);           // 6 + 4 + 2
  CHECK(inv.totals.allocated.get("gpu") == 6);              // 2 + 4
  CHECK(inv.totals.available.get("gpu") == 6);              // 4 + 0 + 2
  CHECK(inv.totals.largest_node_available.get("gpu") == 4); // g1
  CHECK(inv.gpu_models ==
        std::map<std::string, std::int64_t>{
            {"NVIDIA-A100-SXM4-80GB", 6}, {"NVIDIA-L4", 4}, {"unknown", 2}});

  // With the taint tolerated, g4's 4 L4 GPUs join: 4 + 4 = 8.
  NodeFilter filter;
  filter.tolerated_taints = {"nvidia.com/gpu"};
  Inventory inv2 =
      build_inventory({a100, l4, unlabeled, tainted}, pods, filter);
  CHECK(inv2.gpu_models.at("NVIDIA-L4") == 8);
  CHECK(inv2.totals.available.get("gpu") == 10); // 4 + 0 + 2 + 4
}

TEST_CASE("the region is the most common among eligible nodes") {
  auto in = [](const std::string& name, const std::string& region) {
    NodeInfo n = node(name, 1000, k_gi);
    n.region = region;
    return n;
  };
  std::vector<NodeInfo> nodes = {in("a", "us-east1"), in("b", "europe-west8"),
                                 in("c", "europe-west8"), in("d", "")};
  CHECK(build_inventory(nodes, {}).region == "europe-west8"); // 2 votes to 1

  nodes[1].ready = false;
  nodes[2].ready = false;
  CHECK(build_inventory(nodes, {}).region == "us-east1"); // the eligible one

  nodes[0].ready = false;
  // None eligible: all nodes vote, europe-west8 2 to 1.
  CHECK(build_inventory(nodes, {}).region == "europe-west8");
}

TEST_CASE("a node or pod listed twice is an error") {
  CHECK_THROWS_WITH_AS(
      build_inventory({node("a", 1000, k_gi), node("a", 1000, k_gi)}, {}),
      doctest::Contains("node a is listed twice"), core::Error);
  CHECK_THROWS_WITH_AS(
      build_inventory({node("a", 1000, k_gi)},
                      {pod("p", "a", 1, 1), pod("p", "a", 1, 1)}),
      doctest::Contains("pod default/p is listed twice"), core::Error);
}

TEST_CASE("5,000 nodes and 150,000 pods sum exactly") {
  // Node i has 16 cores; 30 pods of 250m + (i % 7) millicores each.
  constexpr int k_nodes = 5000;
  constexpr int k_pods_per_node = 30;
  std::vector<NodeInfo> nodes;
  std::vector<PodInfo> pods;
  nodes.reserve(k_nodes);
  pods.reserve(k_nodes * k_pods_per_node);
  std::int64_t want_allocated = 0;
  for (int i = 0; i < k_nodes; ++i) {
    std::string name = "node-" + std::to_string(i);
    nodes.push_back(node(name, 16000, 64 * k_gi));
    for (int j = 0; j < k_pods_per_node; ++j) {
      pods.push_back(
          pod(name + "-" + std::to_string(j), name, 250 + i % 7, k_gi));
      want_allocated += 250 + i % 7;
    }
  }

  auto start = std::chrono::steady_clock::now();
  Inventory inv = build_inventory(nodes, pods);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  MESSAGE("build_inventory of 5000 nodes, 150000 pods: " << ms << " ms");

  CHECK(inv.counts.counted_pods == k_nodes * k_pods_per_node);
  CHECK(inv.totals.allocated.get("cpu") == want_allocated);
  // Every node: 16000 - 30 * (250 + i % 7) >= 16000 - 30 * 256 > 0, so
  // nothing is clamped and available = allocatable - allocated.
  CHECK(inv.totals.available.get("cpu") ==
        std::int64_t{16000} * k_nodes - want_allocated);
  // 64Gi - 30Gi = 34Gi on every node.
  CHECK(inv.totals.available.get("memory") == 34 * k_gi * k_nodes);
  // Nodes with i % 7 == 0 keep the most: 16000 - 30 * 250 = 8500m.
  CHECK(inv.totals.largest_node_available.get("cpu") == 8500);
}

namespace {

// Returns the parsed snapshot file `name` from tests/data/snapshots.
core::Json snapshot(const std::string& name) {
  std::ifstream in(std::string(LRB_TEST_DATA) + "/snapshots/" + name);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return core::Json::parse(text.str());
}

} // namespace

TEST_CASE("a realistic kubectl snapshot adds up") {
  std::vector<NodeInfo> nodes;
  std::vector<PodInfo> pods;
  ListCounts listed = add_list(snapshot("rome-gpu.json"), nodes, pods);
  CHECK(listed.nodes == 4);
  CHECK(listed.pods == 16);
  CHECK(listed.ignored == 0);
  Inventory inv = build_inventory(nodes, pods);

  // Requests per pod, as charged:
  //   etcd 100m/100Mi, kube-apiserver 250m, kube-proxy (x4) and the
  //   device plugin nothing, coredns (x2) 100m/70Mi;
  //   web (x2): init migrate 1000m/256Mi, then sidecar log-shipper
  //   100m/128Mi, app 500m/512Mi -> init peak max(1000, 100) = 1000m and
  //   max(256, 128) = 256Mi; apps 500 + 100 = 600m, 512 + 128 = 640Mi;
  //   max -> 1000m, 640Mi;
  //   web-55b8d6f9c4-h7kzd (terminating) 200m/256Mi;
  //   api (Pending, bound) 250m/256Mi; resnet-train-0 8000m/64Gi/2 GPUs;
  //   nightly-report (Succeeded) and llm-finetune (unbound): nothing.
  // worker-a: coredns + web + old web = 100 + 1000 + 200 = 1300m,
  //   70 + 640 + 256 = 966Mi, 4 pods (with kube-proxy).
  // worker-b: coredns + web + api = 100 + 1000 + 250 = 1350m, 966Mi,
  //   4 pods. gpu-a: 8000m, 64Gi, 2 GPUs, 3 pods.
  const NodeRow& wa = row_of(inv, "worker-a");
  CHECK(wa.allocated.get("cpu") == 1300);
  CHECK(wa.allocated.get("memory") == 966 * k_mi);
  CHECK(wa.allocated.get("pods") == 4);
  CHECK(row_of(inv, "worker-b").allocated.get("cpu") == 1350);
  CHECK(row_of(inv, "gpu-a").allocated.get("gpu") == 2);

  // cp-1 is tainted control-plane: out, but its 3 pods are charged to it
  // (etcd + apiserver = 350m).
  const NodeRow& cp = row_of(inv, "cp-1");
  CHECK_FALSE(cp.eligible);
  CHECK(cp.why_not ==
        "Tainted node-role.kubernetes.io/control-plane:NoSchedule");
  CHECK(cp.allocated.get("cpu") == 350);

  const core::ResourceSummary& t = inv.totals;
  // cpu capacity 8 + 8 + 48 = 64 cores; allocatable 7910 * 2 + 47810.
  CHECK(t.capacity.get("cpu") == 64000);
  CHECK(t.allocatable.get("cpu") == 63630);
  CHECK(t.allocated.get("cpu") == 10650); // 1300 + 1350 + 8000
  // (7910 - 1300) + (7910 - 1350) + (47810 - 8000) = 6610 + 6560 + 39810
  CHECK(t.available.get("cpu") == 52980);
  CHECK(t.largest_node_available.get("cpu") == 39810);

  // Memory (Ki from the kubelet): capacity 32863372 * 2 + 350797348 =
  // 416524092Ki; allocatable 29583500 * 2 + 338453540 = 397620540Ki.
  CHECK(t.capacity.get("memory") == 416524092 * k_ki);
  CHECK(t.allocatable.get("memory") == 397620540 * k_ki);
  CHECK(t.allocated.get("memory") == 2 * 966 * k_mi + 64 * k_gi);
  // gpu-a: 338453540Ki - 64Gi = 277856948224 bytes, the largest.
  CHECK(t.largest_node_available.get("memory") == 338453540 * k_ki - 64 * k_gi);
  CHECK(t.available.get("memory") ==
        397620540 * k_ki - (2 * 966 * k_mi + 64 * k_gi));

  // Storage: capacity 101203600Ki x 3; allocatable 93249886108 bytes x 3.
  CHECK(t.capacity.get("storage") == 3 * 101203600 * k_ki);
  CHECK(t.allocatable.get("storage") == 3 * 93249886108LL);

  // GPUs: 4 allocatable on gpu-a, 2 in use; pods: 330 - (4 + 4 + 3).
  CHECK(t.allocatable.get("gpu") == 4);
  CHECK(t.available.get("gpu") == 2);
  CHECK(t.available.get("pods") == 319);
  CHECK(inv.gpu_models ==
        std::map<std::string, std::int64_t>{{"NVIDIA-A100-SXM4-40GB", 4}});
  CHECK(inv.region == "europe-west8");

  CHECK(inv.counts.eligible_nodes == 3);
  CHECK(inv.counts.counted_pods == 14); // 16 - Succeeded - unbound
  CHECK(inv.counts.terminal_pods == 1);
  CHECK(inv.counts.unbound_pods == 1);
  CHECK(inv.counts.terminating_pods == 1);
}

} // namespace lrb::kube
