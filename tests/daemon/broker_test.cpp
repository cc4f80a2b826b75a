#include <atomic>
#include <latch>
#include <set>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/lifecycle.h"
#include "daemon/broker.h"
#include "daemon/doctor.h"
#include "daemon/sqlite.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using core::Phase;
using testing::BrokerFixture;
using testing::cores_gib;
using testing::make_ad;
using testing::make_request;

// Returns the code of the Error `fn` throws (fails the test when none).
template <typename F>
core::Error error_of(F&& fn) {
  try {
    fn();
  } catch (const core::Error& e) {
    return e;
  }
  FAIL("expected an Error");
  return core::Error(core::Code::internal, "unreachable");
}

std::int64_t reserved_cpu(Broker& b, const std::string& id) {
  return b.cluster(id).reserved.get(core::Slot::cpu);
}

void check_doctor_clean(Store& store) {
  auto report = check_store(store);
  for (const auto& f : report.findings) {
    INFO(f.object << ": " << f.message);
    CHECK_FALSE(f.error);
  }
  CHECK(report.clean());
}

std::vector<std::string> event_types(const EventPage& page) {
  std::vector<std::string> types;
  for (const auto& e : page.events) {
    types.push_back(core::Json::parse(e)["type"].get<std::string>());
  }
  return types;
}

} // namespace

TEST_CASE("advertisements upsert clusters with derived reserved and free") {
  BrokerFixture f;
  auto result = f.broker->advertise(f.ctx, make_ad("rome", 128, 512));
  CHECK(result.created);
  CHECK(result.cluster.version == 1);
  f.advertise(make_ad("paris", 32, 128), make_ad("berlin", 64, 256));

  auto clusters = f.broker->clusters();
  REQUIRE(clusters.size() == 3);
  CHECK(clusters[0].ad.cluster_id == "berlin");
  CHECK(clusters[2].ad.cluster_id == "rome");
  // Reserved lists every allocatable resource, zero included.
  CHECK(clusters[1].reserved.has(core::Slot::cpu));
  CHECK(clusters[1].reserved.get(core::Slot::cpu) == 0);
  CHECK(clusters[1].free == cores_gib(32, 128));
  CHECK(clusters[1].state == core::ClusterState::ready);

  // A second advertisement bumps the version; a lower generation is
  // ignored with a note and changes nothing.
  auto again = make_ad("rome", 100, 400, 0.03, 0.004, 5);
  CHECK(f.broker->advertise(f.ctx, again).cluster.version == 2);
  auto old = f.broker->advertise(f.ctx, make_ad("rome", 1, 1, 0.03, 0.004, 4));
  CHECK(old.ignored);
  CHECK(old.note.find("lower") != std::string::npos);
  CHECK(f.broker->cluster("rome").ad.resources.allocatable ==
        cores_gib(100, 400));
  CHECK(f.broker->cluster("rome").version == 2);
}

TEST_CASE("create locks the best other cluster") {
  BrokerFixture f;
  // Same prices, so the cost score ties at 1; paris has more headroom:
  // R(paris) = mean((64-4)/64, (256-8)/256) = 0.95...,
  // R(berlin) = mean((32-4)/32, (128-8)/128) = 0.90...; rome is the
  // requester and the biggest of all.
  f.advertise(make_ad("rome", 512, 2048), make_ad("paris", 64, 256),
              make_ad("berlin", 32, 128));
  auto result = f.broker->create(f.ctx, make_request("rome", 4, 8), "");
  const auto& r = result.reservation;
  CHECK_FALSE(result.replayed);
  CHECK(r.status.phase == Phase::reserved);
  CHECK(r.target_cluster_id == "paris");
  CHECK(r.target_endpoint == "https://paris.example:6443");
  CHECK(r.id.size() == 18);
  CHECK(core::is_dns_label(r.id));
  CHECK(r.granted == cores_gib(4, 8));
  CHECK(r.decision.chosen == "paris");

  // Timestamps: activation deadline 60s, default lease 1h.
  auto now = f.broker->now();
  CHECK(r.status.reserved_at == now);
  CHECK(r.status.activation_deadline == now + 60'000);
  CHECK(r.status.expires_at == now + 3'600'000);
  CHECK(r.request.duration_ms == 3'600'000);

  // The lock: 4 cores reserved, free down from 64 to 60, version bumped.
  auto paris = f.broker->cluster("paris");
  CHECK(paris.reserved.get(core::Slot::cpu) == 4000);
  CHECK(paris.free == cores_gib(60, 248));
  CHECK(paris.version == 2);
  CHECK(f.broker->reservation(r.id).target_cluster_id == "paris");
  check_doctor_clean(*f.store);
}

TEST_CASE("when nothing fits the reservation is stored Failed with reasons") {
  BrokerFixture f;
  f.advertise(make_ad("rome", 512, 2048), make_ad("paris", 8, 32),
              make_ad("berlin", 16, 64));
  auto r = f.broker->create(f.ctx, make_request("rome", 20, 8), "").reservation;
  CHECK(r.status.phase == Phase::failed);
  CHECK(r.status.reason == "NoCapacity");
  CHECK(r.target_cluster_id.empty());
  CHECK(r.status.ended_at);
  for (const auto* id : {"rome", "paris", "berlin"}) {
    CHECK(r.status.message.find(id) != std::string::npos);
  }
  CHECK(r.decision.rows.size() == 3);
  CHECK(reserved_cpu(*f.broker, "paris") == 0);
  CHECK(f.broker->reservation(r.id).status.phase == Phase::failed);
}

TEST_CASE("a target skips scoring but not the filters") {
  BrokerFixture f;
  f.advertise(make_ad("rome", 8, 32), make_ad("paris", 64, 256),
              make_ad("berlin", 16, 64));
  // berlin scores below paris but is named.
  auto request = make_request("rome", 4, 8);
  request.target_cluster_id = "berlin";
  auto r = f.broker->create(f.ctx, request, "").reservation;
  CHECK(r.status.phase == Phase::reserved);
  CHECK(r.target_cluster_id == "berlin");
  CHECK(reserved_cpu(*f.broker, "berlin") == 4000);

  // Too big for the target: Failed, with the target's reason.
  request.requested = cores_gib(32, 8);
  auto failed = f.broker->create(f.ctx, request, "").reservation;
  CHECK(failed.status.phase == Phase::failed);
  CHECK(failed.status.message.find("target berlin") != std::string::npos);
  CHECK(failed.status.message.find("cpu") != std::string::npos);

  // An unknown target is the caller's mistake.
  request.target_cluster_id = "oslo";
  auto e = error_of([&] { f.broker->create(f.ctx, request, ""); });
  CHECK(e.code() == core::Code::unprocessable);
  CHECK(e.field() == "targetClusterID");
}

TEST_CASE("a duration above the maximum is refused naming duration") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto request = make_request("rome", 1, 1);
  request.duration_ms = 86'400'001; // 24h + 1ms
  auto e = error_of([&] { f.broker->create(f.ctx, request, ""); });
  CHECK(e.code() == core::Code::invalid_argument);
  CHECK(e.field() == "duration");
  request.duration_ms = 86'400'000;
  CHECK(f.broker->create(f.ctx, request, "").reservation.status.expires_at ==
        f.broker->now() + 86'400'000);
}

TEST_CASE("an idempotency key returns the first reservation") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto first = f.broker->create(f.ctx, make_request("rome", 4, 8), "k-1");
  auto again = f.broker->create(f.ctx, make_request("rome", 4, 8), "k-1");
  CHECK_FALSE(first.replayed);
  CHECK(again.replayed);
  CHECK(again.reservation.id == first.reservation.id);
  CHECK(reserved_cpu(*f.broker, "paris") == 4000); // one lock, not two

  // The same key from another requester is another reservation.
  auto other = f.broker->create(f.ctx, make_request("madrid", 4, 8), "k-1");
  CHECK(other.reservation.id != first.reservation.id);
  CHECK(reserved_cpu(*f.broker, "paris") == 8000);

  // Reusing a key for a different request is refused.
  auto e = error_of(
      [&] { f.broker->create(f.ctx, make_request("rome", 5, 8), "k-1"); });
  CHECK(e.code() == core::Code::unprocessable);
  CHECK(e.field() == "Idempotency-Key");
  auto bad = error_of(
      [&] { f.broker->create(f.ctx, make_request("rome", 1, 1), "a b"); });
  CHECK(bad.field() == "Idempotency-Key");
}

TEST_CASE("concurrent creates never lock more than there is") {
  BrokerFixture f;
  // Two providers with room for exactly 5 requests of 4 cores each:
  // 20 cores, and 64 GiB of which 5 x 8 = 40 fit.
  f.advertise(make_ad("paris", 20, 64), make_ad("berlin", 20, 64),
              make_ad("rome", 4, 8));
  std::atomic<int> reserved{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        auto r =
            f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation;
        (r.status.phase == Phase::reserved ? reserved : failed)++;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // 16 x 4 = 64 creates; 2 x 5 = 10 fit.
  CHECK(reserved == 10);
  CHECK(failed == 54);
  CHECK(reserved_cpu(*f.broker, "paris") == 20'000);
  CHECK(reserved_cpu(*f.broker, "berlin") == 20'000);
  ReservationFilter holding;
  holding.phases = {Phase::reserved};
  CHECK(f.broker->reservations(holding).size() == 10);
  check_doctor_clean(*f.store);
}

TEST_CASE("a burst larger than one group commit answers every create") {
  BrokerFixture f;
  // 300 creates of 1 core and 1 GiB against 400 cores and 400 GiB: all
  // fit. Released together, they queue deeper than one batch (128), so
  // some threads find their create behind several batches.
  f.advertise(make_ad("paris", 400, 400), make_ad("rome", 4, 8));
  constexpr int k_creates = 300;
  std::vector<core::Reservation> got(k_creates);
  std::latch start(k_creates);
  std::vector<std::thread> threads;
  for (int t = 0; t < k_creates; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      got[t] =
          f.broker->create(f.ctx, make_request("rome", 1, 1), "").reservation;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::set<std::string> ids;
  for (const auto& r : got) {
    CHECK(r.status.phase == Phase::reserved);
    CHECK(r.target_cluster_id == "paris");
    ids.insert(r.id);
  }
  CHECK(ids.count("") == 0);
  CHECK(ids.size() == k_creates);
  CHECK(reserved_cpu(*f.broker, "paris") == k_creates * 1000);
  check_doctor_clean(*f.store);
}

TEST_CASE("concurrent creates with one idempotency key lock once") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  std::vector<std::string> ids(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      ids[t] = f.broker->create(f.ctx, make_request("rome", 4, 8), "same")
                   .reservation.id;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
  CHECK(f.broker->reservations({}).size() == 1);
  CHECK(reserved_cpu(*f.broker, "paris") == 4000);
}

TEST_CASE("activate grants at most what was reserved") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto id =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation.id;

  core::ResourceList too_much;
  too_much.set(core::Slot::cpu, 5000);
  auto e = error_of([&] { f.broker->activate(f.ctx, id, too_much); });
  CHECK(e.code() == core::Code::invalid_argument);
  CHECK(e.field() == "grantedResources.cpu");
  core::ResourceList gpu;
  gpu.set(core::Slot::gpu, 1);
  CHECK(error_of([&] { f.broker->activate(f.ctx, id, gpu); }).field() ==
        "grantedResources.gpu");

  // Granting 2 of the 4 cores gives 2 back to paris; memory stays 8Gi.
  core::ResourceList half;
  half.set(core::Slot::cpu, 2000);
  auto r = f.broker->activate(f.ctx, id, half);
  CHECK(r.status.phase == Phase::active);
  CHECK(r.status.activated_at == f.broker->now());
  CHECK(r.granted == cores_gib(2, 8));
  CHECK(reserved_cpu(*f.broker, "paris") == 2000);

  auto twice = error_of([&] { f.broker->activate(f.ctx, id, std::nullopt); });
  CHECK(twice.code() == core::Code::conflict);
  check_doctor_clean(*f.store);
}

TEST_CASE("renew extends the lease from now; finished ones conflict") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto id =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation.id;
  f.clock.advance(30'000);
  auto r = f.broker->renew(f.ctx, id, 7'200'000);
  CHECK(r.status.expires_at == f.broker->now() + 7'200'000);
  CHECK(r.version == 2);
  CHECK(error_of([&] { f.broker->renew(f.ctx, id, 86'400'001); }).field() ==
        "duration");

  auto released = f.broker->release(f.ctx, id, "done with it");
  CHECK(released.status.phase == Phase::released);
  CHECK(released.status.message == "done with it");
  CHECK(released.status.ended_at == f.broker->now());
  CHECK(reserved_cpu(*f.broker, "paris") == 0);

  auto again = error_of([&] { f.broker->release(f.ctx, id, ""); });
  CHECK(again.code() == core::Code::conflict);
  CHECK(std::string(again.what()).find("Released") != std::string::npos);
  auto renew = error_of([&] { f.broker->renew(f.ctx, id, std::nullopt); });
  CHECK(renew.code() == core::Code::conflict);
  auto missing = error_of([&] { f.broker->reservation("r-nope"); });
  CHECK(missing.code() == core::Code::not_found);
  check_doctor_clean(*f.store);
}

TEST_CASE("the sweeper expires missed activations and ended leases") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto idle =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation.id;
  auto request = make_request("rome", 2, 4);
  request.duration_ms = 120'000;
  auto leased = f.broker->create(f.ctx, request, "").reservation.id;
  f.broker->activate(f.ctx, leased, std::nullopt);
  CHECK(reserved_cpu(*f.broker, "paris") == 6000);

  // Keep paris heard from so that staleness does not interfere.
  auto tick = [&](std::int64_t ms) {
    f.clock.advance(ms);
    f.advertise(make_ad("paris", 64, 256));
    return f.broker->sweep();
  };
  CHECK(tick(59'999).expired == 0);
  // 60s: the activation deadline of `idle` passes.
  CHECK(tick(1).expired == 1);
  auto r = f.broker->reservation(idle);
  CHECK(r.status.phase == Phase::expired);
  CHECK(r.status.reason == "ActivationTimeout");
  CHECK(reserved_cpu(*f.broker, "paris") == 2000);

  // 120s: the Active lease ends.
  CHECK(tick(60'000).expired == 1);
  CHECK(f.broker->reservation(leased).status.reason == "LeaseExpired");
  CHECK(reserved_cpu(*f.broker, "paris") == 0);
  check_doctor_clean(*f.store);
}

TEST_CASE("a renewed lease is not expired") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto request = make_request("rome", 2, 4);
  request.duration_ms = 50'000;
  auto id = f.broker->create(f.ctx, request, "").reservation.id;
  f.clock.advance(40'000);
  f.broker->renew(f.ctx, id, 50'000); // now ends at 90s
  f.clock.advance(15'000);            // 55s: past the first end
  f.advertise(make_ad("paris", 64, 256));
  CHECK(f.broker->sweep().expired == 0);
  CHECK(f.broker->reservation(id).status.phase == Phase::reserved);
}

TEST_CASE("a silent cluster goes stale and comes back on advertising") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256), make_ad("berlin", 64, 256));
  auto id = f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation;
  auto provider = id.target_cluster_id;
  auto other = provider == "paris" ? "berlin" : "paris";

  f.clock.advance(9'999);
  f.advertise(make_ad(other, 64, 256));
  CHECK(f.broker->sweep().stale == 0);
  f.clock.advance(1); // 10s of silence from the provider
  CHECK(f.broker->sweep().stale == 1);
  CHECK(f.broker->cluster(provider).state == core::ClusterState::stale);

  // No new reservation goes there, and the explanation says why.
  auto request = make_request("rome", 4, 8);
  request.target_cluster_id = provider;
  auto r = f.broker->create(f.ctx, request, "").reservation;
  CHECK(r.status.phase == Phase::failed);
  CHECK(r.status.message.find("Stale") != std::string::npos);

  // The requester's agent hears of it; the provider is Ready again on
  // its next advertisement.
  auto page = f.broker->watch(0, "rome", 0);
  auto types = event_types(page);
  CHECK(std::count(types.begin(), types.end(), "ReservationProviderStale") ==
        1);
  f.advertise(make_ad(provider, 64, 256, 0.03, 0.004, 2));
  CHECK(f.broker->cluster(provider).state == core::ClusterState::ready);
  auto latest = event_types(f.broker->watch(0, provider, 0));
  CHECK(latest.back() == "ClusterReady");
}

TEST_CASE("after a restart no cluster goes stale before the startup grace") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  f.clock.advance(3'600'000); // silent for an hour while "down"
  auto config = testing::test_config();
  config.startup_grace_ms = 25'000;
  f.restart(config);
  CHECK(f.broker->cluster("paris").state == core::ClusterState::ready);
  f.clock.advance(24'999);
  CHECK(f.broker->sweep().stale == 0);
  f.clock.advance(1); // the grace, not stale-after (10s), decides
  CHECK(f.broker->sweep().stale == 1);
}

TEST_CASE("consumed capacity is not held twice") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto id =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation.id;
  f.broker->activate(f.ctx, id, std::nullopt);
  // The provider now runs 3 cores and 8Gi for it (and reports them as
  // allocated): the hold is max(0, 4 - 3) = 1 core, max(0, 8 - 8) = 0.
  auto ad = make_ad("paris", 64, 256, 0.03, 0.004, 2);
  ad.resources.available = cores_gib(61, 248);
  ad.consumed[id] = cores_gib(3, 8);
  auto cluster = f.broker->advertise(f.ctx, ad).cluster;
  CHECK(cluster.reserved.get(core::Slot::cpu) == 1000);
  CHECK(cluster.reserved.get(core::Slot::memory) == 0);
  // free = available - reserved = 61 - 1 cores, 248 - 0 GiB.
  CHECK(cluster.free == cores_gib(60, 248));
  check_doctor_clean(*f.store);

  // Released: nothing held even though the agent still reports usage.
  f.broker->release(f.ctx, id, "");
  CHECK(reserved_cpu(*f.broker, "paris") == 0);
  check_doctor_clean(*f.store);
}

TEST_CASE("a cordoned cluster is left out until uncordoned") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256), make_ad("berlin", 16, 64));
  auto c = f.broker->set_cordoned(f.ctx, "paris", true);
  CHECK(c.state == core::ClusterState::cordoned);
  CHECK(c.version == 2);
  CHECK(f.broker->set_cordoned(f.ctx, "paris", true).version == 2);
  auto r = f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation;
  CHECK(r.target_cluster_id == "berlin");
  bool explained = false;
  for (const auto& row : r.decision.rows) {
    if (row.cluster_id == "paris") {
      explained = !row.reason.empty();
    }
  }
  CHECK(explained);
  // A cordon survives advertisements and restarts.
  f.advertise(make_ad("paris", 64, 256, 0.03, 0.004, 2));
  f.restart();
  CHECK(f.broker->cluster("paris").state == core::ClusterState::cordoned);
  f.broker->set_cordoned(f.ctx, "paris", false);
  CHECK(f.broker->create(f.ctx, make_request("rome", 4, 8), "")
            .reservation.target_cluster_id == "paris");
  CHECK(error_of([&] { f.broker->set_cordoned(f.ctx, "oslo", true); }).code() ==
        core::Code::not_found);
}

TEST_CASE("an agent acts only for its own cluster") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  RequestContext agent;
  agent.identity = {"agent-rome", Role::agent, "rome"};
  auto r = f.broker->create(agent, make_request("rome", 1, 1), "");
  CHECK(r.reservation.status.phase == Phase::reserved);
  auto denied = core::Code::permission_denied;
  CHECK(error_of([&] {
          f.broker->create(agent, make_request("madrid", 1, 1), "");
        }).code() == denied);
  CHECK(error_of([&] {
          f.broker->set_cordoned(agent, "paris", true);
        }).code() == denied);
  auto foreign = make_ad("paris", 1, 1, 0.03, 0.004, 9);
  CHECK(error_of([&] { f.broker->advertise(agent, foreign); }).code() ==
        denied);
  // Nothing of the refused calls reached the store.
  CHECK(f.broker->cluster("paris").ad.generation == 1);
  CHECK(f.broker->reservations({}).size() == 1);
}

TEST_CASE("a conflicting writer makes the broker decide again") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  // Another process changes paris behind the broker's back: its version
  // moves to 5 and 10 cores are reserved there.
  {
    SqliteDb other(f.dir.file("lrb.db"), false, 1000);
    other.exec("UPDATE clusters SET version = 5, reserved_cpu_milli = 10000 "
               "WHERE id = 'paris'");
  }
  auto r = f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation;
  CHECK(r.status.phase == Phase::reserved);
  auto paris = f.broker->cluster("paris");
  CHECK(paris.version == 6);
  // 10 cores from the other writer + 4 from this lock.
  CHECK(paris.reserved.get(core::Slot::cpu) == 14'000);
  std::string text;
  f.metrics.write(text);
  CHECK(text.find("broker_resource_lock_conflicts_total 1") !=
        std::string::npos);
}

TEST_CASE("state survives a restart") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto id =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation.id;
  f.restart();
  CHECK(reserved_cpu(*f.broker, "paris") == 4000);
  CHECK(f.broker->reservation(id).status.phase == Phase::reserved);
  f.broker->release(f.ctx, id, "");
  CHECK(reserved_cpu(*f.broker, "paris") == 0);
  // Events continue the sequence: 1 registered, 2 reserved, 3 released.
  auto page = f.broker->watch(0, "", 0);
  CHECK(page.last_seq == 3);
  CHECK(event_types(page) == std::vector<std::string>{"ClusterRegistered",
                                                      "ReservationReserved",
                                                      "ReservationReleased"});
}

TEST_CASE("watch filters by cluster and waits for the next event") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256), make_ad("berlin", 8, 16));
  auto all = f.broker->watch(0, "", 0);
  CHECK(all.events.size() == 2);
  CHECK(all.last_seq == 2);
  CHECK(f.broker->watch(0, "berlin", 0).events.size() == 1);
  CHECK(f.broker->watch(2, "", 0).events.empty());

  // A parked watcher for rome (the requester) wakes on its reservation.
  EventPage woken;
  std::thread watcher([&] { woken = f.broker->watch(2, "rome", 10'000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  f.advertise(make_ad("berlin", 8, 16, 0.03, 0.004, 2)); // not about rome
  auto id =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation.id;
  watcher.join();
  REQUIRE(woken.events.size() == 1);
  auto event = core::Json::parse(woken.events[0]);
  CHECK(event["type"] == "ReservationReserved");
  CHECK(event["reservationID"] == id);
  CHECK(event["reservation"]["id"] == id);
  CHECK(woken.last_seq == 3);
}

TEST_CASE("watch answers at once past the watcher bound and on shutdown") {
  auto config = testing::test_config();
  config.max_watchers = 0;
  BrokerFixture f(config);
  auto start = std::chrono::steady_clock::now();
  auto page = f.broker->watch(0, "", 5'000);
  CHECK(page.events.empty());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));

  BrokerFixture g;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    g.broker->shutdown();
  });
  start = std::chrono::steady_clock::now();
  g.broker->watch(0, "", 30'000);
  stopper.join();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK_FALSE(g.broker->ready());
}

TEST_CASE("a compacted or unknown watch position is gone") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256), make_ad("berlin", 8, 16));
  f.clock.advance(600'001); // past the 10-minute retention
  f.advertise(make_ad("paris", 64, 256, 0.03, 0.004, 2),
              make_ad("berlin", 8, 16, 0.03, 0.004, 2));
  f.broker->set_cordoned(f.ctx, "paris", true); // seq 3, kept
  CHECK(f.broker->sweep().compacted == 2);
  CHECK(error_of([&] { f.broker->watch(1, "", 0); }).code() ==
        core::Code::gone);
  CHECK(error_of([&] { f.broker->watch(9, "", 0); }).code() ==
        core::Code::gone);
  // From 2 (the compaction point) and from 0 (all retained) it works.
  CHECK(f.broker->watch(2, "", 0).events.size() == 1);
  CHECK(f.broker->watch(0, "", 0).events.size() == 1);
  CHECK(error_of([&] { f.broker->watch(0, "", -1); }).field() == "timeout");
}

TEST_CASE("explain decides on every cluster without locking") {
  BrokerFixture f;
  f.advertise(make_ad("rome", 8, 32), make_ad("paris", 64, 256),
              make_ad("berlin", 2, 4));
  auto d = f.broker->explain(make_request("rome", 4, 8));
  CHECK(d.chosen == "paris");
  CHECK(d.rows.size() == 3);
  CHECK(reserved_cpu(*f.broker, "paris") == 0);
  CHECK(f.broker->reservations({}).empty());
  // Explain and create agree on the same snapshot.
  CHECK(f.broker->create(f.ctx, make_request("rome", 4, 8), "")
            .reservation.target_cluster_id == d.chosen);
}

TEST_CASE("metrics count phases and export the cluster gauges") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto id =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "").reservation.id;
  f.broker->create(f.ctx, make_request("rome", 100, 8), "");
  f.broker->release(f.ctx, id, "");
  std::string text;
  f.broker->write_metrics(text);
  for (const char* line : {
           "broker_reservations_total{phase=\"Reserved\",requester=\"rome\","
           "target_cluster=\"paris\"} 1",
           "broker_reservations_total{phase=\"Failed\",requester=\"rome\","
           "target_cluster=\"\"} 1",
           "broker_reservations_total{phase=\"Released\",requester=\"rome\","
           "target_cluster=\"paris\"} 1",
           // 64 cores exported in cores; 256 GiB = 274877906944 bytes.
           "broker_cluster_allocatable{cluster_id=\"paris\",resource=\"cpu\"} "
           "64",
           "broker_cluster_allocatable{cluster_id=\"paris\",resource="
           "\"memory\"} 274877906944",
           "broker_cluster_reserved{cluster_id=\"paris\",resource=\"cpu\"} 0",
           "broker_cluster_free{cluster_id=\"paris\",resource=\"cpu\"} 64",
           "broker_cluster_stale{cluster_id=\"paris\"} 0",
           "broker_decision_latency_seconds_count 2",
       }) {
    INFO(line);
    CHECK(text.find(std::string(line) + "\n") != std::string::npos);
  }
}

} // namespace lrb::daemon
