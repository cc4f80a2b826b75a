#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/lifecycle.h"

namespace lrb::core {

namespace {

constexpr Phase k_all[] = {Phase::pending,  Phase::reserved, Phase::active,
                           Phase::released, Phase::expired,  Phase::failed};

// The arrows of DESIGN.md section 7's diagram, written out by hand so
// that the test does not share the implementation's table.
const std::vector<std::pair<Phase, Phase>> k_arrows = {
    {Phase::pending, Phase::reserved}, {Phase::pending, Phase::failed},
    {Phase::reserved, Phase::active},  {Phase::reserved, Phase::released},
    {Phase::reserved, Phase::expired}, {Phase::active, Phase::released},
    {Phase::active, Phase::expired},
};

bool is_arrow(Phase from, Phase to) {
  for (const auto& [a, b] : k_arrows) {
    if (a == from && b == to) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("every pair of phases moves exactly as the diagram draws") {
  int allowed = 0;
  for (Phase from : k_all) {
    for (Phase to : k_all) {
      CAPTURE(phase_name(from));
      CAPTURE(phase_name(to));
      const bool want = is_arrow(from, to);
      CHECK(can_transition(from, to) == want);
      if (want) {
        ++allowed;
        CHECK_NOTHROW(check_transition(from, to));
        continue;
      }
      try {
        check_transition(from, to);
        FAIL("refused move was accepted");
      } catch (const Error& e) {
        CHECK(e.code() == Code::conflict);
        CHECK(e.reason() == "InvalidTransition");
        CHECK(std::string(e.what()) ==
              "cannot move reservation from " + std::string(phase_name(from)) +
                  " to " + std::string(phase_name(to)));
      }
    }
  }
  // 36 pairs, 7 arrows: 2 out of Pending, 3 out of Reserved, 2 out of
  // Active; no self-loops.
  CHECK(allowed == 7);
}

TEST_CASE("the refusal message names both phases in words") {
  try {
    check_transition(Phase::released, Phase::active);
    FAIL("Released -> Active was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "cannot move reservation from Released to Active");
    CHECK(http_status(e.code()) == 409);
  }
}

TEST_CASE("only Reserved and Active hold capacity; three phases are final") {
  struct Row {
    Phase phase;
    bool holds;
    bool final;
  };
  const Row rows[] = {
      {Phase::pending, false, false}, {Phase::reserved, true, false},
      {Phase::active, true, false},   {Phase::released, false, true},
      {Phase::expired, false, true},  {Phase::failed, false, true},
  };
  for (const auto& row : rows) {
    CAPTURE(phase_name(row.phase));
    CHECK(holds_capacity(row.phase) == row.holds);
    CHECK(is_final(row.phase) == row.final);
    // A final phase has no way out: the table agrees with is_final.
    bool any_exit = false;
    for (Phase to : k_all) {
      any_exit = any_exit || can_transition(row.phase, to);
    }
    CHECK(any_exit == !row.final);
  }
}

TEST_CASE("effective hold is granted minus consumed, never negative") {
  Reservation r;
  r.granted.set("cpu", 4000);           // 4 cores
  r.granted.set("memory", 8LL << 30);   // 8Gi
  r.granted.set("gpu", 2);              // 2 GPUs
  r.granted.set("example.com/fpga", 1); // an extended resource
  ResourceList consumed;
  consumed.set("cpu", 1500);           // 1.5 cores already running
  consumed.set("memory", 10LL << 30);  // more than granted: clamps
  consumed.set("example.com/fpga", 1); // all of it running

  for (Phase phase : k_all) {
    CAPTURE(phase_name(phase));
    r.status.phase = phase;
    const auto hold = effective_hold(r, consumed);
    if (!holds_capacity(phase)) {
      CHECK(hold.empty());
      continue;
    }
    CHECK(hold.get("cpu") == 2500);           // 4000 - 1500
    CHECK(hold.get("memory") == 0);           // max(0, 8Gi - 10Gi)
    CHECK(hold.get("gpu") == 2);              // 2 - 0
    CHECK(hold.get("example.com/fpga") == 0); // 1 - 1
    CHECK_FALSE(hold.any_negative());
  }
}

TEST_CASE("with nothing consumed the hold is the whole grant") {
  Reservation r;
  r.status.phase = Phase::active;
  r.granted.set("cpu", 750);
  r.granted.set("memory", 1LL << 30);
  CHECK(effective_hold(r, ResourceList{}) == r.granted);
}

} // namespace lrb::core
