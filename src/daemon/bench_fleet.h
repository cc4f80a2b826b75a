// The synthetic fleet `lrb bench` advertises and its floors scan: one
// seeded list of clusters, so that the broker, the bare scan and the
// in-process decision all see the same table. Capacities are made up
// (8 to 512 cores at 4 GiB each); the unit prices are real GCP
// on-demand list prices of a few regions (vCPU and GiB prices solved
// from the n2d machine prices, T4 prices GPU-only, from
// skypilot-org/skypilot-catalog, catalogs/v7/gcp/vms.csv).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"
#include "kube/http.h"

namespace lrb::daemon::bench {

// Unit prices per core-hour and GiB-hour of a few regions, with a T4
// price where the region sells one (0: it sells none), as in
// data/pricing/regions.csv.
struct RegionPrice {
  const char* region;
  double cpu;
  double memory;
  double t4;
};
inline constexpr RegionPrice k_region_prices[] = {
    {"europe-west8", 0.031902, 0.004276, 0},
    {"europe-west9", 0.031902, 0.004276, 0},
    {"europe-west3", 0.035435, 0.004748, 0.41},
    {"us-central1", 0.027502, 0.003686, 0.35},
    {"us-east1", 0.027502, 0.003686, 0.35},
    {"us-west1", 0.027502, 0.003686, 0.35},
};

// One simulated cluster.
struct FleetMember {
  std::string id; // "bench-000042"
  std::int64_t cores = 0;
  std::int64_t gib = 0;
  std::int64_t gpus = 0; // T4s
  int region = 0;        // index into the region table
};

// Returns `clusters` members drawn from `seed`; the same seed gives the
// same fleet.
std::vector<FleetMember> make_fleet(int clusters, std::uint64_t seed);

// Returns the advertisement body of `member` at `generation`.
std::string advertisement_json(const FleetMember& member,
                               std::int64_t generation);

// Returns `member` as the broker would hold it, freshly advertised and
// with nothing reserved (for the in-process decision floor).
core::Cluster to_cluster(const FleetMember& member);

// Returns client options for the plain-HTTP broker (or floor) at `url`.
kube::HttpOptions
http_options(const std::string& url,
             std::chrono::milliseconds read_timeout = std::chrono::seconds(10));

// Pins the calling thread to `cpu`; returns false when the kernel
// refuses (the CPU is not in the allowed set, or there is only one).
bool pin_thread(int cpu);

} // namespace lrb::daemon::bench
