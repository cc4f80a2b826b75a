// Tests of the in-memory store: versioned updates, and rollback of
// every kind of write when a transaction throws, as SQLite would.
#include <stdexcept>

#include <doctest/doctest.h>

#include "core/error.h"
#include "daemon/memory_store.h"

namespace lrb::daemon {

namespace {

core::Cluster cluster(const std::string& id, std::int64_t version) {
  core::Cluster c;
  c.ad.cluster_id = id;
  c.version = version;
  return c;
}

core::Reservation reservation(const std::string& id, core::Phase phase) {
  core::Reservation r;
  r.id = id;
  r.target_cluster_id = "b";
  r.status.phase = phase;
  r.status.expires_at = 1000;
  r.version = 1;
  return r;
}

} // namespace

TEST_CASE("memory store: versions and holding reservations") {
  auto store = open_memory_store();
  store->transact(TxMode::write, [](StoreTx& tx) {
    tx.insert_cluster(cluster("b", 1));
    tx.insert_reservation(reservation("r1", core::Phase::active));
    tx.insert_reservation(reservation("r2", core::Phase::released));
  });
  store->transact(TxMode::write, [](StoreTx& tx) {
    CHECK_FALSE(tx.update_cluster(cluster("b", 3), 2)); // stored is 1
    CHECK(tx.update_cluster(cluster("b", 2), 1));
    CHECK(tx.holding_reservations("b").size() == 1); // r1 only
    CHECK(tx.due_reservations(999, 10).empty());
    CHECK(tx.due_reservations(1000, 10).size() == 1);
    auto r = reservation("r1", core::Phase::released);
    r.version = 2;
    CHECK(tx.update_reservation(r, 1));
    CHECK(tx.all_holding_reservations().empty());
  });
}

TEST_CASE("memory store: a throwing transaction leaves nothing") {
  auto store = open_memory_store();
  store->transact(TxMode::write, [](StoreTx& tx) {
    tx.insert_cluster(cluster("b", 1));
    tx.insert_reservation(reservation("r1", core::Phase::active));
    tx.append_event({0, 5, "ClusterRegistered", "b", "", "", "", "", ""});
  });
  CHECK_THROWS_AS(store->transact(TxMode::write,
                                  [](StoreTx& tx) {
                                    tx.update_cluster(cluster("b", 2), 1);
                                    tx.insert_cluster(cluster("c", 1));
                                    auto r = reservation("r1",
                                                         core::Phase::released);
                                    r.version = 2;
                                    tx.update_reservation(r, 1);
                                    tx.insert_idempotency("a", "k", "r1", 1);
                                    tx.append_event({});
                                    tx.compact_events(100);
                                    throw std::runtime_error("conflict");
                                  }),
                  std::runtime_error);
  store->transact(TxMode::read, [](StoreTx& tx) {
    CHECK(tx.find_cluster("b")->version == 1);
    CHECK_FALSE(tx.find_cluster("c"));
    CHECK(tx.find_reservation("r1")->status.phase == core::Phase::active);
    CHECK(tx.holding_reservations("b").size() == 1);
    CHECK_FALSE(tx.find_idempotency("a", "k"));
    CHECK(tx.event_bounds().last_seq == 1);
    CHECK(tx.event_bounds().compacted_through == 0);
    CHECK(tx.events_after(0, 10).size() == 1);
  });
}

TEST_CASE("memory store: compaction keeps the newest event") {
  auto store = open_memory_store();
  store->transact(TxMode::write, [](StoreTx& tx) {
    for (core::WallMs t : {10, 20, 30}) {
      tx.append_event({0, t, "X", "b", "", "", "", "", ""});
    }
    // Events at 10 and 20 are before 25; 30 stays.
    CHECK(tx.compact_events(25) == 2);
    // All are before 100, but the newest is kept so last_seq survives.
    CHECK(tx.compact_events(100) == 0);
    CHECK(tx.event_bounds().compacted_through == 2);
    CHECK(tx.events_after(0, 10).front().seq == 3);
    CHECK(tx.insert_idempotency("a", "k", "r", 1));
    CHECK_FALSE(tx.insert_idempotency("a", "k", "r2", 1)); // taken
  });
}

} // namespace lrb::daemon
