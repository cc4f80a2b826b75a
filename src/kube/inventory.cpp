// Node eligibility and the cluster totals.
//
// Pods are charged to their node through a hash index by node name, so
// a cluster of 5,000 nodes and 150,000 pods is summed in one pass. Each
// node's available capacity is clamped at zero before the sum, as
// DESIGN.md section 4 defines `available`: a node whose pods ask for more
// than it has (possible after a kubelet shrinks allocatable) offers
// nothing, but takes nothing away from its neighbours either.
#include "kube/inventory.h"

#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"

namespace lrb::kube {

namespace {

using core::Code;
using core::Error;
using core::ResourceList;

// Returns the reason a taint keeps a node out, or "" when it does not.
// Kubernetes mirrors NotReady, unreachable and cordoned nodes in taints;
// those follow the matching filter choice rather than include_tainted.
std::string taint_reason(const Taint& taint, const NodeFilter& filter) {
  if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") {
    return {};
  }
  if (taint.key == "node.kubernetes.io/not-ready" ||
      taint.key == "node.kubernetes.io/unreachable") {
    return filter.include_not_ready ? "" : "NotReady";
  }
  if (taint.key == "node.kubernetes.io/unschedulable") {
    return filter.include_unschedulable ? "" : "Cordoned";
  }
  if (filter.include_tainted) {
    return {};
  }
  for (const auto& key : filter.tolerated_taints) {
    if (key == taint.key) {
      return {};
    }
  }
  if (taint.value.empty()) {
    return fmt::format("Tainted {}:{}", taint.key, taint.effect);
  }
  return fmt::format("Tainted {}={}:{}", taint.key, taint.value, taint.effect);
}

// Appends `reason` to `reasons` unless empty or already there.
void add_reason(std::vector<std::string>& reasons, std::string reason) {
  if (reason.empty()) {
    return;
  }
  for (const auto& r : reasons) {
    if (r == reason) {
      return;
    }
  }
  reasons.push_back(std::move(reason));
}

// Returns whether a pod in `phase` holds nothing on its node any more.
bool terminal_phase(std::string_view phase) {
  return phase == "Succeeded" || phase == "Failed";
}

// Returns the row for `node` before any pod is charged.
NodeRow make_row(const NodeInfo& node, const NodeFilter& filter) {
  NodeRow row;
  row.name = node.name;
  row.why_not = ineligibility(node, filter);
  row.eligible = row.why_not.empty();
  row.gpu_model = node.gpu_model;
  row.region = node.region;
  row.zone = node.zone;
  row.capacity = node.capacity;
  row.allocatable = node.allocatable;
  return row;
}

// A pod's namespace and name, viewed in place.
using PodKey = std::pair<std::string_view, std::string_view>;

// Hashes a PodKey without building "namespace/name".
struct PodKeyHash {
  std::size_t operator()(const PodKey& key) const {
    std::hash<std::string_view> h;
    return h(key.first) * 31 + h(key.second);
  }
};

// Charges every pod that counts to its row; fills the pod counts.
void charge_pods(const std::vector<PodInfo>& pods,
                 const std::unordered_map<std::string_view, std::size_t>& index,
                 std::vector<NodeRow>& rows, InventoryCounts& counts) {
  std::unordered_set<PodKey, PodKeyHash> seen;
  seen.reserve(pods.size());
  for (const PodInfo& pod : pods) {
    if (!seen.emplace(pod.pod_namespace, pod.name).second) {
      throw Error(Code::invalid_argument,
                  fmt::format("pod {}/{} is listed twice; give each snapshot "
                              "file once",
                              pod.pod_namespace, pod.name),
                  "items");
    }
    ++counts.pods;
    if (terminal_phase(pod.phase)) {
      ++counts.terminal_pods;
      continue;
    }
    if (pod.node_name.empty()) {
      ++counts.unbound_pods;
      continue;
    }
    auto it = index.find(pod.node_name);
    if (it == index.end()) {
      ++counts.unknown_node_pods;
      continue;
    }
    NodeRow& row = rows[it->second];
    row.allocated += pod.requests;
    ++row.pods;
    ++counts.counted_pods;
    counts.terminating_pods += pod.terminating ? 1 : 0;
  }
}

// Returns the region most eligible nodes are in (ties: the smaller name);
// all nodes are asked when none is eligible.
std::string main_region(const std::vector<NodeRow>& rows) {
  for (bool eligible_only : {true, false}) {
    std::map<std::string, int> votes;
    for (const NodeRow& row : rows) {
      if (!row.region.empty() && (row.eligible || !eligible_only)) {
        ++votes[row.region];
      }
    }
    const std::pair<const std::string, int>* best = nullptr;
    for (const auto& vote : votes) {
      if (best == nullptr || vote.second > best->second) {
        best = &vote;
      }
    }
    if (best != nullptr) {
      return best->first;
    }
  }
  return {};
}

// Adds an eligible row to the cluster totals.
void add_to_totals(const NodeRow& row, Inventory& inv) {
  core::ResourceSummary& t = inv.totals;
  t.capacity += row.capacity;
  t.allocatable += row.allocatable;
  t.allocated += row.allocated;
  t.available += row.available;
  t.largest_node_available =
      ResourceList::max(t.largest_node_available, row.available);

  std::int64_t gpus = row.allocatable.get(core::Slot::gpu);
  if (gpus > 0) {
    std::string model = row.gpu_model.empty() ? std::string(k_unknown_gpu_model)
                                              : row.gpu_model;
    inv.gpu_models[model] += gpus;
  }
}

} // namespace

std::string ineligibility(const NodeInfo& node, const NodeFilter& filter) {
  std::vector<std::string> reasons;
  if (!node.ready && !filter.include_not_ready) {
    add_reason(reasons, "NotReady");
  }
  if (node.unschedulable && !filter.include_unschedulable) {
    add_reason(reasons, "Cordoned");
  }
  for (const Taint& taint : node.taints) {
    add_reason(reasons, taint_reason(taint, filter));
  }
  return fmt::format("{}", fmt::join(reasons, "; "));
}

Inventory build_inventory(const std::vector<NodeInfo>& nodes,
                          const std::vector<PodInfo>& pods,
                          const NodeFilter& filter) {
  Inventory inv;
  inv.nodes.reserve(nodes.size());
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(nodes.size());
  for (const NodeInfo& node : nodes) {
    if (!index.emplace(node.name, inv.nodes.size()).second) {
      throw Error(Code::invalid_argument,
                  fmt::format("node {} is listed twice; give each snapshot "
                              "file once",
                              node.name),
                  "items");
    }
    inv.nodes.push_back(make_row(node, filter));
  }

  charge_pods(pods, index, inv.nodes, inv.counts);

  // The scheduler also counts pods against allocatable "pods".
  for (NodeRow& row : inv.nodes) {
    row.allocated.set(core::Slot::pods, row.pods);
    row.available = core::subtract_clamped(row.allocatable, row.allocated);
    ++inv.counts.nodes;
    if (row.eligible) {
      ++inv.counts.eligible_nodes;
      add_to_totals(row, inv);
    }
  }
  inv.region = main_region(inv.nodes);

  LRB_LOG(debug, "inventory built", kv("nodes", inv.counts.nodes),
          kv("eligible", inv.counts.eligible_nodes),
          kv("pods", inv.counts.pods), kv("counted", inv.counts.counted_pods));
  return inv;
}

} // namespace lrb::kube
