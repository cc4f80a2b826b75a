// The real workload lrb is demonstrated and measured on: the Alibaba GPU
// cluster trace (nodes and pods, alibaba/clusterdata
// cluster-trace-gpu-v2023) and the per-region unit prices carried in
// data/pricing. Parsing is pure (text in, structs out) so that core keeps
// its no-I/O rule and the parser is testable on strings; the caller reads
// the file and passes its name, which every error message starts with,
// followed by the line and column at fault, so a bad row is found at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrb::core {

// One node of the trace (`openb_node_list_*.csv`).
struct TraceNode {
  std::string name; // sn
  std::int64_t cpu_milli = 0;
  std::int64_t memory_mib = 0;
  std::int64_t gpus = 0;
  std::string model; // GPU model; "" for CPU-only nodes
};

// One pod of the trace (`openb_pod_list_*.csv`); times are seconds from
// the trace's origin.
struct TracePod {
  std::string name;
  std::int64_t cpu_milli = 0;
  std::int64_t memory_mib = 0;
  std::int64_t num_gpu = 0;
  std::int64_t gpu_milli = 0; // per GPU; < 1000 means a shared GPU
  std::string gpu_spec;
  std::string qos;
  std::string phase;
  std::int64_t creation_time = 0;
  std::optional<std::int64_t> deletion_time;  // none: runs to the end
  std::optional<std::int64_t> scheduled_time; // none: never scheduled
};

// The unit prices of one region (`data/pricing/regions.csv`).
struct RegionPrice {
  std::string cloud;  // gcp, aws, azure
  std::string region; // europe-west8
  double cpu_per_hour = 0;
  double memory_gib_per_hour = 0;
  std::string gpu_model;              // "" when the region lists none
  std::optional<double> gpu_per_hour; // nullopt when it lists none
  std::string source;
};

// Returns the whole GPUs a pod needs: lrb reserves whole devices, so a
// pod sharing one GPU (num_gpu 1, gpu_milli < 1000) needs 1, and a pod of
// num_gpu full GPUs needs num_gpu.
std::int64_t whole_gpus(const TracePod& pod);

// Splits CSV text into rows of fields (RFC 4180: quoted fields may hold
// commas, quotes and newlines; "" is a quote). Throws
// Error(invalid_argument) naming `file` and the line of an unterminated
// quote.
std::vector<std::vector<std::string>> parse_csv(std::string_view text,
                                                std::string_view file);

// Parses the trace's node list; the header must name the columns sn,
// cpu_milli, memory_mib, gpu, model (in any order, extra columns
// ignored). Throws Error(invalid_argument) as "<file>:<line>:<col>: ..."
// with `field` set to the column.
std::vector<TraceNode> parse_trace_nodes(std::string_view text,
                                         std::string_view file);

// Parses the trace's pod list (columns name, cpu_milli, memory_mib,
// num_gpu, gpu_milli, creation_time, deletion_time required; gpu_spec,
// qos, pod_phase, scheduled_time optional). Errors as for nodes.
std::vector<TracePod> parse_trace_pods(std::string_view text,
                                       std::string_view file);

// Parses the prices file (columns cloud, region, cpu_per_hour_usd,
// mem_gib_per_hour_usd, gpu_model, gpu_per_hour_usd, source). Errors as
// for nodes.
std::vector<RegionPrice> parse_region_prices(std::string_view text,
                                             std::string_view file);

// Returns the GPU-hour price of `region`: its own, else the fallback,
// which is the median of the GPU prices listed for regions of the same
// cloud (nullopt when that cloud lists none). Regions such as GCP
// europe-west8 sell no GPU on their own list, yet a cluster there with
// GPUs needs a price to be compared at all.
std::optional<double>
gpu_price_or_fallback(const RegionPrice& region,
                      const std::vector<RegionPrice>& all);

// Returns the row named "cloud/region" (or just "region" when unique);
// throws Error(invalid_argument) naming `field` when there is none.
const RegionPrice& find_region(const std::vector<RegionPrice>& all,
                               std::string_view name, std::string_view field);

} // namespace lrb::core
