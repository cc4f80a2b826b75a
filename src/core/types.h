// The domain types lrb's roles exchange: what a cluster advertises, what
// the broker knows of it, what a requester asks for, and the reservation
// that results. They are plain values; their JSON lives in json.h and the
// rules that move a reservation through its phases in lifecycle.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/resources.h"

namespace lrb::core {

// Unit prices of one cluster, in `currency` per hour.
struct Prices {
  std::string currency = "USD";
  double cpu_per_hour = 0;        // per core
  double memory_gib_per_hour = 0; // per GiB
  double storage_gib_per_hour = 0;
  // Per GPU model; the key "default" applies to models not listed.
  std::map<std::string, double> gpu_per_hour;

  // Returns the GPU-hour price of `model` (or "default"), or nullopt.
  std::optional<double> gpu_price(const std::string& model) const;
};

// The price per hour of `request` at `prices`, with GPUs of `gpu_model`
// (empty: the "default" GPU price); nullopt when GPUs are asked and no
// GPU price applies.
std::optional<double> price_per_hour(const Prices& prices,
                                     const ResourceList& request,
                                     const std::string& gpu_model);

// The resource totals of a cluster as an agent computes them.
struct ResourceSummary {
  ResourceList capacity;
  ResourceList allocatable;
  ResourceList allocated;
  ResourceList available; // sum over nodes of max(0, alloc - allocated)
  ResourceList largest_node_available;
};

// What an agent publishes about its cluster (also its heartbeat).
struct Advertisement {
  std::string cluster_id;
  std::string cluster_name;
  std::int64_t generation = 0;
  WallMs timestamp = 0; // the agent's clock, informational only
  std::string endpoint;
  std::string region;
  std::map<std::string, std::string> labels;
  ResourceSummary resources;
  std::map<std::string, std::int64_t> gpu_models; // model -> GPUs
  std::optional<Prices> prices;
  // Per reservation id: what already runs here on its behalf.
  std::map<std::string, ResourceList> consumed;
};

// Whether a cluster may receive new reservations.
enum class ClusterState { ready, stale, cordoned };

// A cluster as the broker knows it: the last advertisement plus the
// broker-owned fields.
struct Cluster {
  Advertisement ad;
  ResourceList reserved; // effective: sum of max(0, granted - consumed)
  ResourceList free;     // max(0, available - reserved)
  ClusterState state = ClusterState::ready;
  bool cordoned = false;
  WallMs last_seen = 0; // broker receipt time
  std::int64_t version = 0;
};

// Where and how a reservation may be placed.
struct Constraints {
  std::string gpu_model;
  std::vector<std::string> regions;
  std::map<std::string, std::string> labels;
  std::optional<double> max_price_per_hour;
};

// Which policy decides, with optional weights and seed.
struct PolicySpec {
  std::string name; // "" means the broker's default
  std::optional<double> resource_weight;
  std::optional<double> cost_weight;
  std::optional<std::uint64_t> seed;
};

// A request for capacity, as the requester sends it.
struct ReservationRequest {
  std::string requester_id;
  ResourceList requested;
  std::string target_cluster_id; // "" lets the broker choose
  std::optional<std::int64_t> duration_ms;
  std::int32_t priority = 0;
  Constraints constraints;
  PolicySpec policy;
};

// The lifecycle phases of DESIGN.md section 7.
enum class Phase { pending, reserved, active, released, expired, failed };

// One cluster's line in a decision: its terms, or why it was left out.
struct DecisionRow {
  std::string cluster_id;
  bool candidate = false;
  double resource_score = 0; // R in [0, 1]
  double cost_score = 0;     // C in [0, 1]
  std::optional<double> price_per_hour;
  double score = 0;   // S in [0, 100]
  int rank = 0;       // 1 = chosen; 0 for excluded clusters
  std::string reason; // why excluded ("" for candidates)
};

// How a decision was taken and its outcome.
struct Decision {
  std::string policy;
  double resource_weight = 0.7;
  double cost_weight = 0.3;
  std::optional<std::uint64_t> seed;
  std::string chosen;            // "" when no cluster fits
  int clusters = 0;              // clusters considered
  int candidates = 0;            // clusters that passed every filter
  std::vector<DecisionRow> rows; // candidates ranked, then exclusions
};

// The lifecycle state of a reservation.
struct ReservationStatus {
  Phase phase = Phase::pending;
  std::string reason;
  std::string message;
  std::optional<WallMs> reserved_at;
  std::optional<WallMs> activated_at;
  std::optional<WallMs> activation_deadline;
  std::optional<WallMs> expires_at;
  std::optional<WallMs> ended_at;
};

// A reservation: the request, the decision and the lifecycle.
struct Reservation {
  std::string id;
  ReservationRequest request;
  std::string target_cluster_id;
  std::string target_endpoint;
  ResourceList granted;
  ReservationStatus status;
  Decision decision;
  WallMs created_at = 0;
  std::int64_t version = 0;
  std::string idempotency_key;
};

// Returns the wire name of a phase ("Reserved") and parses one back
// (throws Error(invalid_argument) naming `field`).
std::string_view phase_name(Phase phase);
Phase parse_phase(std::string_view text, std::string_view field);

// Returns the wire name of a cluster state ("Ready") and parses one.
std::string_view cluster_state_name(ClusterState state);
ClusterState parse_cluster_state(std::string_view text, std::string_view field);

// Returns whether `id` is a DNS label: [a-z0-9-], 1..63, no leading or
// trailing '-'.
bool is_dns_label(std::string_view id);

// Throws Error(invalid_argument, "InvalidID") naming `field` unless `id`
// is a DNS label.
void check_dns_label(std::string_view id, std::string_view field);

} // namespace lrb::core
