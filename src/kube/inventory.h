// A cluster's inventory: which nodes may take new pods, what the pods
// bound to them already hold, and the totals an agent advertises. The
// arithmetic is done per node and only then summed, because free capacity
// is only usable where it is: an overcommitted node contributes zero, not
// a negative that would hide another node's free cores. Everything here
// is pure (no I/O); the agent and `lrb inventory` feed it decoded objects.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/types.h"
#include "kube/objects.h"

namespace lrb::kube {

// Which nodes count. By default a node counts when it is Ready, not
// cordoned, and has no NoSchedule or NoExecute taint.
struct NodeFilter {
  bool include_not_ready = false;
  bool include_unschedulable = false; // cordoned nodes
  bool include_tainted = false;
  // Taint keys to ignore (as a toleration of every effect would).
  std::vector<std::string> tolerated_taints;
};

// Returns why `node` does not count under `filter` ("NotReady",
// "Cordoned", "Tainted key=value:NoSchedule", joined by "; "), or "" when
// it counts. The taints Kubernetes itself puts on a NotReady, unreachable
// or cordoned node follow the NotReady and Cordoned choices.
std::string ineligibility(const NodeInfo& node, const NodeFilter& filter);

// One node's line of the inventory.
struct NodeRow {
  std::string name;
  bool eligible = false;
  std::string why_not; // "" when eligible
  std::string gpu_model;
  std::string region;
  std::string zone;
  core::ResourceList capacity;
  core::ResourceList allocatable;
  core::ResourceList allocated; // counted pods' requests, plus "pods"
  core::ResourceList available; // max(0, allocatable - allocated)
  int pods = 0;                 // pods charged to this node
};

// How the input was used.
struct InventoryCounts {
  int nodes = 0;
  int eligible_nodes = 0;
  int pods = 0;              // pods in the input
  int counted_pods = 0;      // charged to a listed node
  int terminal_pods = 0;     // Succeeded or Failed: hold nothing
  int unbound_pods = 0;      // no spec.nodeName yet
  int unknown_node_pods = 0; // bound to a node not in the input
  int terminating_pods = 0;  // counted although being deleted
};

// A cluster's inventory.
struct Inventory {
  core::ResourceSummary totals;                   // sums over eligible nodes
  std::map<std::string, std::int64_t> gpu_models; // model -> GPUs
  std::string region;         // the most common among eligible nodes
  std::vector<NodeRow> nodes; // in input order
  InventoryCounts counts;
};

// Model name under which GPUs of nodes without a model label are counted.
inline constexpr std::string_view k_unknown_gpu_model = "unknown";

// Builds the inventory of `nodes` and `pods`. A pod counts on its node
// when bound (spec.nodeName), even while Pending or terminating, unless
// Succeeded or Failed. Throws Error(invalid_argument) for a node or a pod
// listed twice.
Inventory build_inventory(const std::vector<NodeInfo>& nodes,
                          const std::vector<PodInfo>& pods,
                          const NodeFilter& filter = {});

} // namespace lrb::kube
