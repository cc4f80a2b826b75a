#include <chrono>
#include <thread>

#include <doctest/doctest.h>

#include "core/error.h"
#include "daemon/schema.h"
#include "daemon/sqlite.h"
#include "daemon/sqlite_store.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using testing::cores_gib;
using testing::make_ad;
using testing::TempDir;

core::Cluster make_row(const std::string& id, std::int64_t version = 1) {
  core::Cluster c;
  c.ad = make_ad(id, 32, 128);
  c.last_seen = 1'000;
  c.version = version;
  return c;
}

core::Reservation make_reservation(const std::string& id,
                                   const std::string& requester,
                                   const std::string& target, core::Phase phase,
                                   core::WallMs created) {
  core::Reservation r;
  r.id = id;
  r.request = testing::make_request(requester, 4, 8);
  r.request.duration_ms = 3'600'000;
  r.target_cluster_id = target;
  r.granted = r.request.requested;
  r.status.phase = phase;
  r.status.reserved_at = created;
  r.status.activation_deadline = created + 60'000;
  r.status.expires_at = created + 3'600'000;
  r.created_at = created;
  r.version = 1;
  return r;
}

int user_version(const std::string& path) {
  SqliteDb db(path, true, 1000);
  return read_schema_version(db);
}

} // namespace

TEST_CASE("opening a new database creates and migrates it") {
  TempDir dir;
  auto path = dir.file("lrb.db");
  auto store = open_sqlite_store({.path = path});
  CHECK(store->schema_version() == latest_schema_version());
  CHECK(store->healthy());
  CHECK(latest_schema_version() >= 1);

  // Reopening applies nothing and keeps the data.
  store->transact(TxMode::write,
                  [](StoreTx& tx) { tx.insert_cluster(make_row("rome")); });
  store.reset();
  store = open_sqlite_store({.path = path});
  store->transact(TxMode::read,
                  [](StoreTx& tx) { CHECK(tx.load_clusters().size() == 1); });
}

TEST_CASE("a database newer than the binary is refused, an old one named") {
  TempDir dir;
  auto path = dir.file("lrb.db");
  open_sqlite_store({.path = path}).reset();
  {
    SqliteDb db(path, false, 1000);
    db.exec("PRAGMA user_version = 99");
  }
  try {
    open_sqlite_store({.path = path});
    FAIL("a newer schema must be refused");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::Code::unprocessable);
    CHECK(e.reason() == "SchemaTooNew");
    CHECK(std::string(e.what()).find("99") != std::string::npos);
  }

  // A fresh file opened without migrating points at `lrb migrate`.
  auto blank = dir.file("blank.db");
  SqliteDb(blank, false, 1000).exec("CREATE TABLE x (y INTEGER)");
  try {
    open_sqlite_store({.path = blank, .migrate = false});
    FAIL("an unmigrated schema must be refused");
  } catch (const core::Error& e) {
    CHECK(e.reason() == "SchemaTooOld");
    CHECK(std::string(e.what()).find("lrb migrate") != std::string::npos);
  }
}

TEST_CASE("a dry run lists the pending migrations and applies none") {
  TempDir dir;
  auto path = dir.file("lrb.db");
  {
    SqliteDb db(path, false, 1000);
    auto steps = migrate(db, path, true);
    REQUIRE(steps.size() == static_cast<size_t>(latest_schema_version()));
    CHECK(steps.front().version == 1);
    CHECK(steps.front().name == "0001_init");
  }
  CHECK(user_version(path) == 0);
  {
    SqliteDb db(path, false, 1000);
    CHECK(migrate(db, path, false).size() ==
          static_cast<size_t>(latest_schema_version()));
    CHECK(migrate(db, path, false).empty());
  }
  CHECK(user_version(path) == latest_schema_version());
}

TEST_CASE("a cluster update must find the version it expects") {
  TempDir dir;
  auto store = open_sqlite_store({.path = dir.file("lrb.db")});
  auto row = make_row("rome");
  store->transact(TxMode::write, [&](StoreTx& tx) { tx.insert_cluster(row); });

  // Expecting version 7 when the row is at 1 changes nothing.
  auto next = row;
  next.reserved = cores_gib(4, 8);
  next.version = 8;
  store->transact(TxMode::write, [&](StoreTx& tx) {
    CHECK_FALSE(tx.update_cluster(next, 7));
  });
  store->transact(TxMode::read, [&](StoreTx& tx) {
    auto stored = tx.find_cluster("rome");
    REQUIRE(stored);
    CHECK(stored->version == 1);
    CHECK(stored->reserved.get(core::Slot::cpu) == 0);
  });

  // Expecting 1 succeeds, once: a second writer expecting 1 conflicts.
  next.version = 2;
  store->transact(TxMode::durable_write, [&](StoreTx& tx) {
    CHECK(tx.update_cluster(next, 1));
    CHECK_FALSE(tx.update_cluster(next, 1));
  });
  store->transact(TxMode::read, [&](StoreTx& tx) {
    auto stored = tx.find_cluster("rome");
    CHECK(stored->version == 2);
    // 4 cores = 4000 millicores; 8 GiB = 8 * 2^30 bytes.
    CHECK(stored->reserved.get(core::Slot::cpu) == 4000);
    CHECK(stored->reserved.get(core::Slot::memory) == 8 * testing::k_gi);
    CHECK(stored->ad.prices->cpu_per_hour == doctest::Approx(0.03));
  });
}

TEST_CASE("extended reserved resources survive the round trip") {
  TempDir dir;
  auto store = open_sqlite_store({.path = dir.file("lrb.db")});
  auto row = make_row("rome");
  row.reserved.set("gpu", 2);
  row.reserved.set("example.com/fpga", 3);
  store->transact(TxMode::write, [&](StoreTx& tx) { tx.insert_cluster(row); });
  store->transact(TxMode::read, [&](StoreTx& tx) {
    auto stored = tx.find_cluster("rome");
    CHECK(stored->reserved.get("gpu") == 2);
    CHECK(stored->reserved.get("example.com/fpga") == 3);
  });
}

TEST_CASE("reservations are listed by filter, oldest first") {
  TempDir dir;
  auto store = open_sqlite_store({.path = dir.file("lrb.db")});
  using core::Phase;
  store->transact(TxMode::write, [&](StoreTx& tx) {
    tx.insert_reservation(
        make_reservation("r-3", "rome", "paris", Phase::reserved, 300));
    tx.insert_reservation(
        make_reservation("r-1", "rome", "berlin", Phase::active, 100));
    tx.insert_reservation(
        make_reservation("r-2", "paris", "rome", Phase::released, 200));
  });

  struct Row {
    ReservationFilter filter;
    std::vector<std::string> want;
  };
  // Filter fields: requester, provider, either, phases, limit.
  const Row rows[] = {
      {{"", "", "", {}, 10}, {"r-1", "r-2", "r-3"}},
      {{"rome", "", "", {}, 10}, {"r-1", "r-3"}},
      {{"", "rome", "", {}, 10}, {"r-2"}},
      // rome as requester (r-1, r-3) or provider (r-2).
      {{"", "", "rome", {}, 10}, {"r-1", "r-2", "r-3"}},
      {{"", "", "paris", {}, 10}, {"r-2", "r-3"}},
      {{"", "", "", {Phase::reserved, Phase::active}, 10}, {"r-1", "r-3"}},
      {{"rome", "", "", {Phase::released}, 10}, {}},
      {{"", "", "", {}, 2}, {"r-1", "r-2"}},
  };
  for (const auto& row : rows) {
    std::vector<std::string> got;
    store->transact(TxMode::read, [&](StoreTx& tx) {
      got.clear();
      for (const auto& r : tx.list_reservations(row.filter)) {
        got.push_back(r.id);
      }
    });
    CHECK(got == row.want);
  }
}

TEST_CASE("due reservations are the holding ones past a deadline") {
  TempDir dir;
  auto store = open_sqlite_store({.path = dir.file("lrb.db")});
  using core::Phase;
  store->transact(TxMode::write, [&](StoreTx& tx) {
    // Deadlines: r-a activation at 60'100, lease at 3'600'100.
    tx.insert_reservation(
        make_reservation("r-a", "rome", "paris", Phase::reserved, 100));
    // Active: the activation deadline no longer applies.
    tx.insert_reservation(
        make_reservation("r-b", "rome", "paris", Phase::active, 100));
    // Final: never due.
    tx.insert_reservation(
        make_reservation("r-c", "rome", "paris", Phase::released, 0));
  });
  auto due_at = [&](core::WallMs now) {
    std::vector<std::string> ids;
    store->transact(TxMode::read, [&](StoreTx& tx) {
      for (const auto& r : tx.due_reservations(now, 10)) {
        ids.push_back(r.id);
      }
    });
    return ids;
  };
  CHECK(due_at(60'099).empty());
  CHECK(due_at(60'100) == std::vector<std::string>{"r-a"});
  CHECK(due_at(3'600'100) == std::vector<std::string>{"r-a", "r-b"});
}

TEST_CASE("an idempotency key is taken once per requester") {
  TempDir dir;
  auto store = open_sqlite_store({.path = dir.file("lrb.db")});
  store->transact(TxMode::write, [&](StoreTx& tx) {
    CHECK(tx.insert_idempotency("rome", "k", "r-1", 1));
    CHECK_FALSE(tx.insert_idempotency("rome", "k", "r-2", 2));
    CHECK(tx.insert_idempotency("paris", "k", "r-3", 3));
    CHECK(tx.find_idempotency("rome", "k") == "r-1");
    CHECK(tx.find_idempotency("paris", "k") == "r-3");
    CHECK_FALSE(tx.find_idempotency("rome", "other"));
  });
}

TEST_CASE("a failing transaction leaves nothing behind") {
  TempDir dir;
  auto store = open_sqlite_store({.path = dir.file("lrb.db")});
  CHECK_THROWS_AS(store->transact(TxMode::durable_write,
                                  [](StoreTx& tx) {
                                    tx.insert_cluster(make_row("rome"));
                                    throw core::Error(core::Code::internal,
                                                      "boom");
                                  }),
                  core::Error);
  store->transact(TxMode::read,
                  [](StoreTx& tx) { CHECK_FALSE(tx.find_cluster("rome")); });
}

TEST_CASE("the event log keeps its sequence across compaction") {
  TempDir dir;
  auto store = open_sqlite_store({.path = dir.file("lrb.db")});
  store->transact(TxMode::write, [](StoreTx& tx) {
    for (int i = 1; i <= 5; ++i) {
      StoredEvent e;
      e.time = i * 1000;
      e.type = "ClusterStale";
      e.cluster_id = "rome";
      CHECK(tx.append_event(e) == i);
    }
  });
  store->transact(TxMode::write, [](StoreTx& tx) {
    // Events at 1000 and 2000 are older than 2500.
    CHECK(tx.compact_events(2500) == 2);
    auto bounds = tx.event_bounds();
    CHECK(bounds.last_seq == 5);
    CHECK(bounds.compacted_through == 2);
    auto rest = tx.events_after(0, 10);
    REQUIRE(rest.size() == 3);
    CHECK(rest.front().seq == 3);
    // Removing everything still remembers seq 5, and never reuses it.
    CHECK(tx.compact_events(10'000) == 3);
    CHECK(tx.event_bounds().last_seq == 5);
    CHECK(tx.event_bounds().compacted_through == 5);
    StoredEvent late;
    late.time = 11'000;
    late.type = "ClusterStale";
    CHECK(tx.append_event(late) == 6);
  });
}

TEST_CASE("a busy database is retried, then reported unavailable") {
  TempDir dir;
  auto path = dir.file("lrb.db");
  auto store = open_sqlite_store(
      {.path = path, .busy_timeout_ms = 5, .max_attempts = 3});
  SqliteDb other(path, false, 5);

  // Another process holds the write lock throughout: every attempt is
  // busy, and the error says so.
  other.exec("BEGIN IMMEDIATE");
  try {
    store->transact(TxMode::write,
                    [](StoreTx& tx) { tx.insert_cluster(make_row("rome")); });
    FAIL("the write must not succeed while another writer holds the lock");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::Code::unavailable);
    CHECK(std::string(e.what()).find("busy") != std::string::npos);
  }

  // Released while the store retries: a later attempt succeeds.
  other.exec("ROLLBACK");
  auto patient = open_sqlite_store(
      {.path = path, .busy_timeout_ms = 5, .max_attempts = 1000});
  other.exec("BEGIN IMMEDIATE");
  auto start = std::chrono::steady_clock::now();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    other.exec("ROLLBACK");
  });
  patient->transact(TxMode::write,
                    [](StoreTx& tx) { tx.insert_cluster(make_row("rome")); });
  releaser.join();
  CHECK(std::chrono::steady_clock::now() - start >=
        std::chrono::milliseconds(50));
  patient->transact(TxMode::read,
                    [](StoreTx& tx) { CHECK(tx.find_cluster("rome")); });
}

TEST_CASE("a read-only store reads beside a writer and refuses writes") {
  TempDir dir;
  auto path = dir.file("lrb.db");
  auto writer = open_sqlite_store({.path = path});
  writer->transact(TxMode::write,
                   [](StoreTx& tx) { tx.insert_cluster(make_row("rome")); });
  auto reader = open_sqlite_store(
      {.path = path, .read_only = true, .migrate = false, .readers = 1});
  reader->transact(TxMode::read,
                   [](StoreTx& tx) { CHECK(tx.load_clusters().size() == 1); });
  CHECK_THROWS_AS(
      reader->transact(TxMode::write,
                       [](StoreTx& tx) { tx.insert_cluster(make_row("x")); }),
      core::Error);
}

} // namespace lrb::daemon
