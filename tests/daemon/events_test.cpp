#include <chrono>
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

TEST_CASE("wait_after wakes on append and on close") {
  EventLog log;
  log.reset({.last_seq = 5, .compacted_through = 0}, {});
  auto soon = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  CHECK_FALSE(log.wait_after(5, soon));
  CHECK(log.wait_after(4, soon));

  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    log.append({event(6, "paris")});
  });
  auto later = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  CHECK(log.wait_after(5, later));
  appender.join();

  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    log.close();
  });
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(log.wait_after(6, later));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  closer.join();
}

} // namespace lrb::daemon
