// Kubernetes Nodes and Pods reduced to what the inventory needs. A Node
// or Pod as the API server (or `kubectl get -o json`) prints it carries
// hundreds of fields; the agent needs a dozen, and a pod's request is a
// derived figure, not a field: it is computed here once, while the JSON
// is at hand, with the rules kube-scheduler charges a node by. Every
// decoding error names the object ("pod default/web-1: ...") and the JSON
// path at fault, because a snapshot of a large cluster is not read by
// eye.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "core/resources.h"

namespace lrb::kube {

// Limits for a kubectl snapshot: a large cluster's is one array of some
// 150,000 items and, with managedFields, deeper than an API request ever
// is.
inline constexpr core::JsonLimits k_snapshot_limits{64, 5'000'000};

// Items per page when listing a live cluster, as kubectl's default.
inline constexpr std::int64_t k_list_page_size = 500;

// Returns the whole of the snapshot file `path` ("-": stdin); throws
// Error(`code`) naming the path and the --snapshot flag when it cannot be
// read (the CLI reports a wrong path, the agent a file being rewritten).
std::string read_snapshot_file(const std::string& path, core::Code code);

// One taint of a node ("key=value:Effect").
struct Taint {
  std::string key;
  std::string value;
  std::string effect; // NoSchedule, PreferNoSchedule or NoExecute
};

// The parts of a Node the inventory reads.
struct NodeInfo {
  std::string name;
  bool ready = false; // condition Ready is "True"
  bool unschedulable = false;
  std::vector<Taint> taints;
  std::map<std::string, std::string> labels;
  core::ResourceList capacity;
  core::ResourceList allocatable; // defaults to capacity when absent
  std::string gpu_model;          // "" when no known label is set
  std::string region;
  std::string zone;
};

// The parts of a Pod the inventory reads, with its request computed.
struct PodInfo {
  std::string pod_namespace;
  std::string name;
  std::string node_name; // "" while the pod is not bound
  std::string phase;     // Pending, Running, Succeeded, Failed, Unknown
  core::ResourceList requests;
  bool terminating = false; // metadata.deletionTimestamp is set
};

// Node labels that name the GPU model, tried in order after any label
// given by the operator: NVIDIA GPU feature discovery, GKE, AMD's node
// labeller.
inline constexpr std::string_view k_gpu_model_labels[] = {
    "nvidia.com/gpu.product", "cloud.google.com/gke-accelerator",
    "amd.com/gpu.product-name", "beta.amd.com/gpu.product-name"};

// Choices that shape how objects are decoded.
struct DecodeOptions {
  // A node label naming the GPU model, tried before k_gpu_model_labels.
  std::string gpu_model_label;
};

// Decodes a Node; `path` is its JSON path in the document ("items[3]")
// and prefixes the field of any Error(invalid_argument) thrown.
NodeInfo decode_node(const core::Json& node, const DecodeOptions& options = {},
                     std::string_view path = "");

// Decodes a Pod and computes its request with pod_requests().
PodInfo decode_pod(const core::Json& pod, std::string_view path = "");

// Returns what kube-scheduler charges a node for `pod`: app containers
// summed, init containers as a high-water mark with restartable (sidecar)
// init containers added to everything after them, the larger of the two,
// pod-level cpu/memory requests where set, the larger of spec and status
// during an in-place resize, and the pod overhead on top. Limits stand in
// for absent requests, as API defaulting makes them.
core::ResourceList pod_requests(const core::Json& pod,
                                std::string_view path = "");

// What add_list found besides nodes and pods.
struct ListCounts {
  int nodes = 0;
  int pods = 0;
  int ignored = 0; // items of other kinds (Services, Deployments, ...)
};

// Appends the Nodes and Pods of `document` — a List, NodeList or PodList
// as kubectl or the API server prints it, or a single Node or Pod — to
// `nodes` and `pods`. An item's kind comes from the item, else from the
// list's kind. Throws Error(invalid_argument) naming the item for a
// malformed one.
ListCounts add_list(const core::Json& document, std::vector<NodeInfo>& nodes,
                    std::vector<PodInfo>& pods,
                    const DecodeOptions& options = {});

// Appends the items of one page of a list — the `items` array of a
// NodeList or PodList as the API server pages it — to `nodes` and
// `pods`. Items without a kind are of `kind` ("Node" or "Pod"); `path`
// names the array in errors ("items").
ListCounts add_items(const core::Json& items, std::string_view kind,
                     std::vector<NodeInfo>& nodes, std::vector<PodInfo>& pods,
                     const DecodeOptions& options = {},
                     std::string_view path = "items");

} // namespace lrb::kube
