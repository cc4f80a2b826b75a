#include <chrono>
#include <memory>
#include <thread>

#include <doctest/doctest.h>

#include "core/json.h"
#include "daemon/events.h"

namespace lrb::daemon {

namespace {

StoredEvent event(std::int64_t seq, const std::string& cluster,
                  const std::string& requester = "") {
  StoredEvent e;
  e.seq = seq;
  e.time = 1'764'000'000'000 + seq;
  e.type = requester.empty() ? "ClusterStale" : "ReservationReserved";
  e.cluster_id = cluster;
  e.requester_id = requester;
  if (!requester.empty()) {
    e.reservation_id = "r-" + std::to_string(seq);
    e.phase = "Reserved";
    e.reservation = R"({"id":"r-)" + std::to_string(seq) + R"("})";
  }
  return e;
}

std::vector<std::int64_t> seqs(const EventPage& page) {
  std::vector<std::int64_t> out;
  for (const auto& e : page.events) {
    out.push_back(core::Json::parse(e)["seq"].get<std::int64_t>());
  }
  return out;
}

} // namespace

TEST_CASE("an event renders as one JSON object") {
  auto j = core::Json::parse(render_event(event(7, "paris", "rome")));
  CHECK(j["seq"] == 7);
  CHECK(j["type"] == "ReservationReserved");
  CHECK(j["time"] == "2025-11-24T16:00:00.007Z");
  CHECK(j["clusterID"] == "paris");
  CHECK(j["requesterID"] == "rome");
  CHECK(j["reservationID"] == "r-7");
  CHECK(j["phase"] == "Reserved");
  CHECK(j["reservation"]["id"] == "r-7");
  auto c = core::Json::parse(render_event(event(8, "paris")));
  CHECK_FALSE(c.contains("reservation"));
  CHECK_FALSE(c.contains("reservationID"));
}

TEST_CASE("collect filters by cluster, pages, and knows what it lacks") {
  EventLog log(3);
  log.reset({.last_seq = 0, .compacted_through = 0}, {});
  log.append({event(1, "paris"), event(2, "berlin", "rome"),
              event(3, "paris", "rome"), event(4, "oslo")});
  // Capacity 3: seq 1 fell out of memory, so a watch from 0 must read
  // the store.
  CHECK_FALSE(log.collect(0, "", 10));
  auto all = log.collect(1, "", 10);
  REQUIRE(all);
  CHECK(seqs(*all) == std::vector<std::int64_t>{2, 3, 4});
  CHECK(all->last_seq == 4);
  // rome is the requester of 2 and 3; paris the provider of 3.
  CHECK(seqs(*log.collect(1, "rome", 10)) == std::vector<std::int64_t>{2, 3});
  CHECK(seqs(*log.collect(1, "paris", 10)) == std::vector<std::int64_t>{3});
  // A page of one resumes right after what it returned.
  auto first = log.collect(1, "", 1);
  CHECK(seqs(*first) == std::vector<std::int64_t>{2});
  CHECK(first->last_seq == 2);
  // Nothing new: empty, positioned at the end.
  auto none = log.collect(4, "", 10);
  CHECK(none->events.empty());
  CHECK(none->last_seq == 4);
  // Once the store compacted through 1, memory covers everything left.
  log.compacted(1);
  CHECK(log.collect(0, "", 10));
}

TEST_CASE("the byte bound drops the oldest events") {
  // Events of one cluster whose seqs have as many digits render to the
  // same size, so a bound of 2.5 events keeps the newest two.
  const std::size_t one = render_event(event(1, "paris", "rome")).size();
  EventLog log(100, one * 5 / 2);
  log.reset({.last_seq = 0, .compacted_through = 0}, {});
  log.append({event(1, "paris", "rome"), event(2, "paris", "rome"),
              event(3, "paris", "rome")});
  CHECK(log.size() == 2);
  CHECK(log.bytes() == 2 * one);
  // seq 1 fell out of memory: a watch from 0 must read the store, one
  // from 1 is served from memory.
  CHECK_FALSE(log.collect(0, "", 10));
  REQUIRE(log.collect(1, "rome", 10));
  CHECK(seqs(*log.collect(1, "rome", 10)) == std::vector<std::int64_t>{2, 3});
  // Compaction gives its bytes back: 3 - 2 events = 1 left.
  log.compacted(2);
  CHECK(log.size() == 1);
  CHECK(log.bytes() == one);
}

TEST_CASE("reset keeps the newest events within the byte bound") {
  const std::size_t one = render_event(event(11, "paris", "rome")).size();
  EventLog log(100, one * 3);
  std::vector<StoredEvent> tail;
  for (std::int64_t seq = 11; seq <= 15; ++seq) {
    tail.push_back(event(seq, "paris", "rome"));
  }
  log.reset({.last_seq = 15, .compacted_through = 10}, std::move(tail));
  // 5 loaded, 3 fit: 13, 14, 15 stay; 12 and before are the store's.
  CHECK(log.size() == 3);
  CHECK_FALSE(log.collect(11, "", 10));
  REQUIRE(log.collect(12, "", 10));
  CHECK(seqs(*log.collect(12, "", 10)) ==
        std::vector<std::int64_t>{13, 14, 15});
}

TEST_CASE("the size estimate is never below the rendered size") {
  StoredEvent quoted = event(123'456'789, "paris", "rome");
  quoted.message = "a \"quoted\"\nmessage";
  for (const auto& e : {event(1, "paris"), event(2, "paris", "rome"), quoted}) {
    CHECK(event_size_estimate(e) >= render_event(e).size());
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// Returns how long wait_after(seen, cluster) took and its answer, run on
// its own thread so that the caller can append meanwhile.
struct Waiter {
  bool woke = false;
  Clock::duration took{};
  std::thread thread; // last: starts once the fields above exist

  Waiter(const EventLog& log, std::int64_t seen, std::string cluster,
         Clock::duration timeout)
      : thread([this, &log, seen, cluster = std::move(cluster), timeout] {
          auto start = Clock::now();
          woke = log.wait_after(seen, cluster, start + timeout);
          took = Clock::now() - start;
        }) {}
};

// Gives waiter threads time to park before the test appends.
void let_park() {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

} // namespace

TEST_CASE("wait_after wakes only the watchers an event concerns") {
  EventLog log;
  log.reset({.last_seq = 5, .compacted_through = 0}, {});
  auto soon = Clock::now() + std::chrono::milliseconds(20);
  CHECK_FALSE(log.wait_after(5, "", soon));
  CHECK(log.wait_after(4, "", soon));

  // A paris-only event: the paris and the all-clusters watchers return at
  // once; rome's sleeps out its 400 ms timeout and says "nothing".
  Waiter rome(log, 5, "rome", std::chrono::milliseconds(400));
  Waiter paris(log, 5, "paris", std::chrono::seconds(10));
  Waiter all(log, 5, "", std::chrono::seconds(10));
  let_park();
  log.append({event(6, "paris")});
  paris.thread.join();
  all.thread.join();
  rome.thread.join();
  CHECK(paris.woke);
  CHECK(all.woke);
  CHECK(paris.took < std::chrono::seconds(5));
  CHECK(all.took < std::chrono::seconds(5));
  CHECK_FALSE(rome.woke);
  CHECK(rome.took >= std::chrono::milliseconds(400));

  // rome as the provider of a reservation that berlin requested wakes
  // rome's watcher (and berlin's), not oslo's.
  Waiter provider(log, 6, "rome", std::chrono::seconds(10));
  Waiter requester(log, 6, "berlin", std::chrono::seconds(10));
  Waiter other(log, 6, "oslo", std::chrono::milliseconds(300));
  let_park();
  log.append({event(7, "rome", "berlin")});
  provider.thread.join();
  requester.thread.join();
  other.thread.join();
  CHECK(provider.woke);
  CHECK(requester.woke);
  CHECK(provider.took < std::chrono::seconds(5));
  CHECK_FALSE(other.woke);

  // An event that came before the wait started is seen without waiting.
  CHECK(log.wait_after(6, "rome", Clock::now()));
  CHECK_FALSE(log.wait_after(6, "paris", Clock::now()));
}

TEST_CASE("a watcher older than memory's record is sent to the store") {
  // The log was loaded from seq 11; whether seq 6 to 10 concern rome it
  // cannot tell, so a watcher at 5 must look (and collect says: store).
  EventLog log;
  log.reset({.last_seq = 11, .compacted_through = 0}, {event(11, "paris")});
  CHECK(log.wait_after(5, "rome", Clock::now()));
  CHECK_FALSE(log.collect(5, "rome", 10));
  CHECK_FALSE(log.wait_after(10, "rome", Clock::now()));
}

TEST_CASE("close wakes every watcher") {
  EventLog log;
  log.reset({.last_seq = 6, .compacted_through = 0}, {});
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (const char* cluster : {"rome", "paris", ""}) {
    waiters.push_back(
        std::make_unique<Waiter>(log, 6, cluster, std::chrono::seconds(10)));
  }
  let_park();
  log.close();
  for (auto& w : waiters) {
    w->thread.join();
    CHECK_FALSE(w->woke);
    CHECK(w->took < std::chrono::seconds(5));
  }
  // Once closed, a new wait returns at once.
  auto start = Clock::now();
  CHECK_FALSE(log.wait_after(6, "rome", start + std::chrono::seconds(10)));
  CHECK(Clock::now() - start < std::chrono::seconds(5));
}

} // namespace lrb::daemon
