// The scoring core shared by the broker, `lrb explain` and `lrb sim`
// (DESIGN.md section 6). It is shaped like kube-scheduler's framework:
// filter plugins that each exclude a cluster with a reason, score plugins
// (resource headroom, cost) combined by a policy, and one documented
// tie-break. It never changes its input and, for a given snapshot, request
// and seed, always gives the same answer.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "core/types.h"

namespace lrb::core {

// The broker-wide defaults a request's PolicySpec falls back to.
struct ScoringConfig {
  std::string policy = "weighted";
  double resource_weight = 0.7;
  double cost_weight = 0.3;
};

// How many rows a Decision carries.
enum class Detail {
  full,    // one row per cluster (explain)
  summary, // the ranked candidates up to k_summary_rows, then exclusions
           // up to k_summary_rows (what a stored reservation keeps)
  none,    // only the outcome (chosen, counts, the chosen row)
};
inline constexpr int k_summary_rows = 16;

// Returns the names of the known policies.
std::span<const std::string_view> policy_names();

// Resolves a request's policy against the defaults: the name must be
// known; weights, when given, must be finite, in [0, 1] and sum to 1
// (within 1e-9); `resource`/`cost` force 1/0 and 0/1. Throws
// Error(invalid_argument) naming "policy.name" / "policy.resourceWeight".
Decision resolve_policy(const PolicySpec& spec, const ScoringConfig& config);

// Returns why `cluster` cannot take `request` (the filters, in order: the
// requester itself, not Ready, a shortfall per resource, GPU model,
// region, labels, price above the maximum), or nullopt if it can.
std::optional<std::string> exclusion_reason(const ReservationRequest& request,
                                            const Cluster& cluster);

// Decides where `request` goes among `clusters` (any order). Returns the
// decision: chosen cluster ("" if none), counts and rows per `detail`.
Decision decide(const ReservationRequest& request,
                std::span<const Cluster> clusters, const ScoringConfig& config,
                Detail detail = Detail::full);

} // namespace lrb::core
