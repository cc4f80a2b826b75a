// The broker's capacity bookkeeping in one place: what a cluster's
// reserved and free totals are, given its advertisement and the
// reservations placed on it. The service, the doctor and the tests all
// use these functions, so the invariant they check is computed the same
// way as the numbers the broker serves.
#pragma once

#include <span>

#include "core/types.h"

namespace lrb::daemon {

// Returns what a reservation holds on its provider: max(0, granted -
// consumed) while Reserved or Active, where consumed is what the
// provider's advertisement reports running on its behalf.
core::ResourceList hold_of(const core::Reservation& reservation,
                           const core::Advertisement& provider);

// Returns the reserved total the invariant demands: the sum of hold_of
// over `holding` (the Reserved and Active reservations on `provider`).
core::ResourceList reserved_total(std::span<const core::Reservation> holding,
                                  const core::Advertisement& provider);

// Recomputes a cluster's derived fields: reserved lists every resource
// the cluster advertises as allocatable (zero included) so clients see a
// stable shape; free = max(0, available - reserved); state from the
// cordon flag and `stale` (Cordoned wins over Stale).
void refresh_derived(core::Cluster& cluster, bool stale);

} // namespace lrb::daemon
