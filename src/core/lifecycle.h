// The reservation state machine of DESIGN.md section 7 as one table.
// Every phase change in the broker, the simulator and the tests asks this
// table first, so an impossible move is refused with both phases named.
#pragma once

#include <string_view>

#include "core/types.h"

namespace lrb::core {

// Returns whether a reservation may move from `from` to `to`.
bool can_transition(Phase from, Phase to);

// Throws Error(conflict, "InvalidTransition") naming both phases unless
// the move is allowed.
void check_transition(Phase from, Phase to);

// Returns whether a reservation in `phase` holds capacity (Reserved,
// Active).
bool holds_capacity(Phase phase);

// Returns whether `phase` is final (Released, Expired, Failed).
bool is_final(Phase phase);

// Returns the capacity a reservation holds on its provider:
// max(0, granted - consumed) while it holds, nothing otherwise.
ResourceList effective_hold(const Reservation& reservation,
                            const ResourceList& consumed);

} // namespace lrb::core
