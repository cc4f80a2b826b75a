// Helpers shared by the daemon tests: a scratch directory holding a real
// SQLite file (never :memory:, so WAL, locking and reopening behave as
// in production), advertisements with round numbers whose arithmetic the
// tests spell out, and a broker wired to a ManualClock. Header-only
// because only *_test.cpp files join the test binary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "core/clock.h"
#include "core/types.h"
#include "daemon/broker.h"
#include "daemon/metrics.h"
#include "daemon/sqlite_store.h"
#include "temp_dir.h"

namespace lrb::daemon::testing {

inline constexpr std::int64_t k_gi = std::int64_t{1} << 30;

using TempDir = lrb::testing::TempDir;

// Returns `cores` cpus and `gib` GiB of memory.
inline core::ResourceList cores_gib(std::int64_t cores, std::int64_t gib) {
  core::ResourceList list;
  list.set(core::Slot::cpu, cores * 1000);
  list.set(core::Slot::memory, gib * k_gi);
  return list;
}

// Returns an advertisement with `cores`/`gib` allocatable, all of it
// available, priced per core-hour `cpu_price` and per GiB-hour
// `mem_price`.
inline core::Advertisement make_ad(const std::string& id, std::int64_t cores,
                                   std::int64_t gib, double cpu_price = 0.03,
                                   double mem_price = 0.004,
                                   std::int64_t generation = 1) {
  core::Advertisement ad;
  ad.cluster_id = id;
  ad.cluster_name = id;
  ad.generation = generation;
  ad.endpoint = "https://" + id + ".example:6443";
  ad.region = "europe-" + id;
  auto all = cores_gib(cores, gib);
  ad.resources.capacity = all;
  ad.resources.allocatable = all;
  ad.resources.available = all;
  ad.resources.largest_node_available = all;
  core::Prices prices;
  prices.cpu_per_hour = cpu_price;
  prices.memory_gib_per_hour = mem_price;
  ad.prices = prices;
  return ad;
}

// Returns a request from `requester` for `cores` cpus and `gib` GiB.
inline core::ReservationRequest make_request(const std::string& requester,
                                             std::int64_t cores,
                                             std::int64_t gib) {
  core::ReservationRequest r;
  r.requester_id = requester;
  r.requested = cores_gib(cores, gib);
  return r;
}

// Short timers so that tests move the ManualClock by round numbers.
inline BrokerConfig test_config() {
  BrokerConfig c;
  c.stale_after_ms = 10'000;
  c.startup_grace_ms = 10'000;
  c.activation_timeout_ms = 60'000;
  c.default_duration_ms = 3'600'000;
  c.max_duration_ms = 86'400'000;
  c.event_retention_ms = 600'000;
  c.max_watchers = 8;
  return c;
}

// A broker on a real database file in a temp dir, with a manual clock.
struct BrokerFixture {
  TempDir dir;
  core::ManualClock clock;
  Metrics metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Broker> broker;
  RequestContext ctx;

  explicit BrokerFixture(BrokerConfig config = test_config()) {
    store = open_sqlite_store({.path = dir.file("lrb.db")});
    broker = std::make_unique<Broker>(*store, clock, config, metrics);
  }

  // Replaces the broker with a new one on the same database, as after a
  // restart (the store stays open; the broker reloads from it).
  void restart(BrokerConfig config = test_config()) {
    broker.reset();
    broker = std::make_unique<Broker>(*store, clock, config, metrics);
  }

  // Advertises every ad.
  template <typename... Ads>
  void advertise(const Ads&... ads) {
    (broker->advertise(ctx, ads), ...);
  }
};

} // namespace lrb::daemon::testing
