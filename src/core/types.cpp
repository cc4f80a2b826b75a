// The few rules that belong to the domain values themselves: what an hour
// of a request costs at a cluster's prices, the wire names of phases and
// cluster states, and what a valid cluster or requester id looks like.
// Everything here is a pure function of its arguments, so the broker, the
// scoring core and the CLI all agree on the same answers.
#include "core/types.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/quoting.h"

namespace lrb::core {

namespace {

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;
constexpr std::size_t k_max_label = 63;

constexpr std::array<std::pair<Phase, std::string_view>, 6> k_phases = {{
    {Phase::pending, "Pending"},
    {Phase::reserved, "Reserved"},
    {Phase::active, "Active"},
    {Phase::released, "Released"},
    {Phase::expired, "Expired"},
    {Phase::failed, "Failed"},
}};

constexpr std::array<std::pair<ClusterState, std::string_view>, 3>
    k_cluster_states = {{
        {ClusterState::ready, "Ready"},
        {ClusterState::stale, "Stale"},
        {ClusterState::cordoned, "Cordoned"},
    }};

// Returns the names of a table joined for an error message.
template <typename Table>
std::string names_of(const Table& table) {
  std::string out;
  for (const auto& [value, name] : table) {
    out += out.empty() ? "" : ", ";
    out += name;
  }
  return out;
}

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

} // namespace

std::optional<double> Prices::gpu_price(const std::string& model) const {
  if (!model.empty()) {
    if (auto it = gpu_per_hour.find(model); it != gpu_per_hour.end()) {
      return it->second;
    }
  }
  if (auto it = gpu_per_hour.find("default"); it != gpu_per_hour.end()) {
    return it->second;
  }
  return std::nullopt;
}

std::optional<double> price_per_hour(const Prices& prices,
                                     const ResourceList& request,
                                     const std::string& gpu_model) {
  // Units are converted in double only here, at the edge of the exact
  // arithmetic: a price is an estimate, a quantity is not.
  const auto cores = static_cast<double>(request.get(Slot::cpu)) / 1000.0;
  const auto memory_gib =
      static_cast<double>(request.get(Slot::memory)) / k_gib;
  const auto storage_gib =
      static_cast<double>(request.get(Slot::storage)) / k_gib;
  double total = cores * prices.cpu_per_hour +
                 memory_gib * prices.memory_gib_per_hour +
                 storage_gib * prices.storage_gib_per_hour;

  // A GPU without a price cannot be priced at zero: that would make the
  // dearest resource look free to the cost score.
  if (const auto gpus = request.get(Slot::gpu); gpus > 0) {
    const auto gpu_price = prices.gpu_price(gpu_model);
    if (!gpu_price) {
      return std::nullopt;
    }
    total += static_cast<double>(gpus) * *gpu_price;
  }
  return total;
}

std::string_view phase_name(Phase phase) {
  for (const auto& [value, name] : k_phases) {
    if (value == phase) {
      return name;
    }
  }
  return "Unknown";
}

Phase parse_phase(std::string_view text, std::string_view field) {
  for (const auto& [value, name] : k_phases) {
    if (name == text) {
      return value;
    }
  }
  throw Error(Code::invalid_argument,
              fmt::format("{} {} is not a phase: use one of {}", field,
                          quote_input(text), names_of(k_phases)),
              std::string(field), "InvalidPhase");
}

std::string_view cluster_state_name(ClusterState state) {
  for (const auto& [value, name] : k_cluster_states) {
    if (value == state) {
      return name;
    }
  }
  return "Unknown";
}

ClusterState parse_cluster_state(std::string_view text,
                                 std::string_view field) {
  for (const auto& [value, name] : k_cluster_states) {
    if (name == text) {
      return value;
    }
  }
  throw Error(Code::invalid_argument,
              fmt::format("{} {} is not a cluster state: use one of {}", field,
                          quote_input(text), names_of(k_cluster_states)),
              std::string(field), "InvalidState");
}

bool is_dns_label(std::string_view id) {
  if (id.empty() || id.size() > k_max_label) {
    return false;
  }
  if (id.front() == '-' || id.back() == '-') {
    return false;
  }
  for (char c : id) {
    if (!is_label_char(c)) {
      return false;
    }
  }
  return true;
}

void check_dns_label(std::string_view id, std::string_view field) {
  if (is_dns_label(id)) {
    return;
  }
  throw Error(Code::invalid_argument,
              fmt::format("{} {} is not a DNS label: use 1 to 63 "
                          "lowercase letters, digits or '-', starting and "
                          "ending with a letter or digit",
                          field, quote_input(id)),
              std::string(field), "InvalidID");
}

} // namespace lrb::core
