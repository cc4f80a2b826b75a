// The invariant checker behind `lrb doctor` and the concurrency tests.
// It reads one consistent snapshot of the store (a read transaction, so
// it runs beside a live broker) and recomputes, for every cluster, what
// its reserved total must be from the reservations placed on it, then
// checks that every row points where it should. It reports; it never
// repairs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "daemon/store.h"

namespace lrb::daemon {

// One finding.
struct Finding {
  bool error = true;  // false: a warning, which does not fail the check
  std::string object; // "cluster/rome", "reservation/r-...", "store"
  std::string message;
};

// What the doctor saw and found.
struct DoctorReport {
  int schema_version = 0;
  std::int64_t clusters = 0;
  std::int64_t reservations = 0;
  std::int64_t holding = 0;
  std::vector<Finding> findings;

  // Returns whether no finding is an error.
  bool clean() const;
};

// Checks `store`: for every cluster, reserved == sum over its Reserved
// and Active reservations of max(0, granted - consumed) and no amount
// negative; every holding reservation names an existing provider, holds
// no more than it asked for and has a lease end; every idempotency key
// names an existing reservation; the event log's bounds are ordered.
// Overcommit (reserved above available, so free clamps at zero) is a
// warning: the provider's own workloads may grow after a lock.
DoctorReport check_store(Store& store);

// Returns the report as JSON: {"ok", "schemaVersion", "clusters",
// "reservations", "holding", "findings": [{"severity", "object",
// "message"}]}.
core::Json encode_report(const DoctorReport& report);

} // namespace lrb::daemon
