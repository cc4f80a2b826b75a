// The reservation lifecycle as data. The allowed moves of DESIGN.md
// section 7 are one 6x6 table indexed by phase, so that the diagram, the
// code and the test that walks every pair are visibly the same thing, and
// adding a phase means adding one row and one column.
#include "core/lifecycle.h"

#include <array>

#include <fmt/format.h>

#include "core/error.h"

namespace lrb::core {

namespace {

constexpr int k_phase_count = 6;

// k_moves[from][to]: rows and columns in the order of enum Phase
// (Pending, Reserved, Active, Released, Expired, Failed).
constexpr std::array<std::array<bool, k_phase_count>, k_phase_count> k_moves = {
    {
        // Pending: decided (Reserved) or nothing fits (Failed).
        {false, true, false, false, false, true},
        // Reserved: activated, released, or the activation deadline
        // passed.
        {false, false, true, true, true, false},
        // Active: released, or the lease ran out.
        {false, false, false, true, true, false},
        // Released, Expired, Failed: final.
        {false, false, false, false, false, false},
        {false, false, false, false, false, false},
        {false, false, false, false, false, false},
    }};

constexpr std::size_t index(Phase phase) {
  return static_cast<std::size_t>(phase);
}

} // namespace

bool can_transition(Phase from, Phase to) {
  return k_moves[index(from)][index(to)];
}

void check_transition(Phase from, Phase to) {
  if (can_transition(from, to)) {
    return;
  }
  throw Error(Code::conflict,
              fmt::format("cannot move reservation from {} to {}",
                          phase_name(from), phase_name(to)),
              "status.phase", "InvalidTransition");
}

bool holds_capacity(Phase phase) {
  return phase == Phase::reserved || phase == Phase::active;
}

bool is_final(Phase phase) {
  return phase == Phase::released || phase == Phase::expired ||
         phase == Phase::failed;
}

ResourceList effective_hold(const Reservation& reservation,
                            const ResourceList& consumed) {
  if (!holds_capacity(reservation.status.phase)) {
    return {};
  }
  // What already runs on the provider is counted in its allocated total,
  // so holding it again would book it twice.
  return subtract_clamped(reservation.granted, consumed);
}

} // namespace lrb::core
