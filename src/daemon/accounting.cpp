#include "daemon/accounting.h"

#include "core/lifecycle.h"

namespace lrb::daemon {

core::ResourceList hold_of(const core::Reservation& reservation,
                           const core::Advertisement& provider) {
  auto it = provider.consumed.find(reservation.id);
  static const core::ResourceList k_none;
  return core::effective_hold(
      reservation, it != provider.consumed.end() ? it->second : k_none);
}

core::ResourceList reserved_total(std::span<const core::Reservation> holding,
                                  const core::Advertisement& provider) {
  core::ResourceList total;
  for (const auto& r : holding) {
    total += hold_of(r, provider);
  }
  return total;
}

void refresh_derived(core::Cluster& cluster, bool stale) {
  const auto& resources = cluster.ad.resources;
  resources.allocatable.for_each([&](std::string_view name, std::int64_t) {
    if (!cluster.reserved.has(name)) {
      cluster.reserved.set(name, 0);
    }
  });
  cluster.free = core::subtract_clamped(resources.available, cluster.reserved);
  if (cluster.cordoned) {
    cluster.state = core::ClusterState::cordoned;
  } else {
    cluster.state =
        stale ? core::ClusterState::stale : core::ClusterState::ready;
  }
}

} // namespace lrb::daemon
