// The trace replay behind `lrb sim`: a fleet of clusters cut from the
// trace's nodes, and the trace's pods arriving as reservation requests.
// It drives the real broker service (core::decide, the versioned locks,
// the lifecycle) over an in-memory store with a ManualClock that jumps
// from one trace event to the next, so a months-long trace replays in
// seconds and what it measures is what the broker would have done.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/resources.h"
#include "core/trace.h"
#include "core/types.h"

namespace lrb::daemon {

// One simulated cluster: its id, where it is priced, and its nodes.
struct SimCluster {
  std::string id;
  std::string cloud;
  std::string region;
  core::Prices prices;
  std::vector<core::TraceNode> nodes;
};

// How the replay decides.
struct SimOptions {
  core::PolicySpec policy; // name, weights; the seed is set per request
  std::uint64_t seed = 1;
};

// What one cluster saw during the replay.
struct SimClusterResult {
  std::string id;
  std::string region;
  std::int64_t nodes = 0;
  core::ResourceList allocatable;
  std::int64_t requested = 0; // requests it sent as requester
  std::int64_t served = 0;    // reservations it provided
  double cost_usd = 0;        // what its served reservations cost
  double util_cpu = 0;        // time-weighted mean reserved / allocatable
  double util_memory = 0;
  double util_gpu = 0; // 0 when it has no GPUs
};

// The outcome of a replay.
struct SimResult {
  std::string policy;
  std::uint64_t seed = 0;
  std::int64_t requests = 0;
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
  double acceptance_rate = 0; // accepted / requests (0 with no requests)
  double total_cost_usd = 0;  // sum of price/h x held hours
  double mean_cost_usd = 0;   // total / accepted (0 with none accepted)
  double gpu_fragmentation = 0;
  core::ResourceList typical_gpu_request;
  std::int64_t span_seconds = 0; // first arrival to last event
  std::vector<SimClusterResult> clusters;
};

// Returns the nodes split round-robin over `n` clusters (node i goes to
// cluster i mod n), keeping the trace's order inside each.
std::vector<std::vector<core::TraceNode>>
split_round_robin(const std::vector<core::TraceNode>& nodes, int n);

// Returns the index in [0, n) of the cluster requesting `pod_name`: a
// 64-bit FNV-1a hash of the seed and the name, so it depends on nothing
// but those two.
int requester_index(std::string_view pod_name, std::uint64_t seed, int n);

// Returns what a pod asks lrb for: its cpu and memory (at least one
// millicore and one MiB, since a request must ask for both) and its
// whole GPUs.
core::ResourceList pod_request(const core::TracePod& pod);

// Returns the advertisement of a simulated cluster: allocatable and
// available are its nodes' totals (nothing runs but the reservations),
// the largest node per resource, its GPU models and prices.
core::Advertisement sim_advertisement(const SimCluster& cluster);

// Returns the typical GPU request of `pods`: the median, per resource,
// of the pods that need GPUs (cpu, memory, whole GPUs); empty when no
// pod needs one.
core::ResourceList typical_gpu_request(const std::vector<core::TracePod>& pods);

// Replays `pods` (in creation order; each is held until its deletion,
// or to the trace's last event when it has none) on `clusters` through
// a broker service and returns the measures. GPU fragmentation is the
// share of free GPU-time that sat on clusters where the typical GPU
// request did not fit: the integral over time of the free GPUs of such
// clusters divided by that of all free GPUs. Deterministic for a seed.
// Throws Error(invalid_argument) with fewer than two clusters (a cluster
// never serves itself).
SimResult run_simulation(const std::vector<SimCluster>& clusters,
                         const std::vector<core::TracePod>& pods,
                         const SimOptions& options);

} // namespace lrb::daemon

namespace lrb::daemon {

// What a generated snapshot holds and how it was cut.
struct SnapshotSpec {
  std::string cluster_id; // written as a label on every node
  std::string region;     // topology.kubernetes.io/region
  int share = 1;          // this cluster's share, 1-based ...
  int shares = 1;         // ... of this many (nodes round-robin)
  bool cpu_only = false;  // keep only the share's nodes without GPUs
  std::int64_t at = 0;    // trace second whose running pods are placed
  std::uint64_t seed = 1; // picks the share's pods, as `lrb sim` does
};

// A `kubectl get nodes,pods -A -o json` List and what was left out.
struct Snapshot {
  core::Json list;
  std::int64_t nodes = 0;
  std::int64_t pods = 0;
  std::int64_t unplaced = 0; // running pods of the share that fit no node
};

// Builds the List of one cluster: the share's nodes as Ready Node
// objects (capacity = allocatable = the trace's totals, GPU model
// labelled), and the trace's pods running at `at` (created at or before,
// deleted after) whose requester_index is this share, bound first-fit
// to those nodes as Running Pod objects. Throws Error(invalid_argument)
// naming "share" when share is not in [1, shares].
Snapshot build_snapshot(const std::vector<core::TraceNode>& nodes,
                        const std::vector<core::TracePod>& pods,
                        const SnapshotSpec& spec);

} // namespace lrb::daemon
