#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "daemon/bench.h"
#include "daemon/bench_fleet.h"

namespace lrb::daemon {

namespace {

// 1, 2, ..., n.
std::vector<double> one_to(int n) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i) {
    v.push_back(i);
  }
  return v;
}

} // namespace

TEST_CASE("percentile is the nearest rank ceil(p/100 * n)") {
  struct Row {
    int n;
    double p;
    double want;
  };
  const Row rows[] = {
      {1, 50, 1},        // ceil(0.5) = rank 1
      {2, 50, 1},        // ceil(1.0) = 1
      {3, 50, 2},        // ceil(1.5) = 2
      {10, 50, 5},       // ceil(5.0) = 5
      {10, 99, 10},      // ceil(9.9) = 10
      {100, 99, 99},     // ceil(99.0) = 99
      {1000, 99.9, 999}, // ceil(999.0) = 999, not 1000 (float noise)
      {1000, 99, 990},   // ceil(990.0) = 990
      {1001, 99, 991},   // ceil(990.99) = 991
      {5, 100, 5},       // ceil(5.0) = 5, the maximum
      {5, 1, 1},         // ceil(0.05) = 1, the minimum
  };
  for (const Row& r : rows) {
    CAPTURE(r.n);
    CAPTURE(r.p);
    CHECK(percentile(one_to(r.n), r.p) == r.want);
  }
  CHECK(percentile({}, 50) == 0);
}

TEST_CASE("summarize sorts first and reports p50, p99, p99.9 and max") {
  // 1..2000 reversed: p50 = rank 1000, p99 = rank 1980, p99.9 = rank
  // 1998, max 2000.
  auto values = one_to(2000);
  std::vector<double> reversed(values.rbegin(), values.rend());
  const auto s = summarize(reversed);
  CHECK(s.count == 2000);
  CHECK(s.p50 == 1000);
  CHECK(s.p99 == 1980);
  CHECK(s.p999 == 1998);
  CHECK(s.max == 2000);
  CHECK(summarize({}).count == 0);
}

TEST_CASE("scheduled_ns spaces requests 1e9 / rate apart") {
  struct Row {
    std::int64_t index;
    double rate;
    std::int64_t want;
  };
  const Row rows[] = {
      {0, 200, 0},                    // the first is due at once
      {1, 200, 5'000'000},            // 1e9 / 200 = 5 ms
      {3, 200, 15'000'000},           // 3 * 5 ms
      {1, 3, 333'333'333},            // 1e9 / 3 rounds down
      {2, 3, 666'666'667},            // 2e9 / 3 rounds up
      {10'000, 1000, 10'000'000'000}, // 10,000 at 1,000/s: 10 s
      {5, 0.5, 10'000'000'000},       // one every 2 s: the 6th at 10 s
  };
  for (const Row& r : rows) {
    CAPTURE(r.index);
    CAPTURE(r.rate);
    CHECK(scheduled_ns(r.index, r.rate) == r.want);
  }
}

TEST_CASE("advertise_offset_ns spreads a fleet over its period") {
  struct Row {
    std::int64_t index, clusters, period_ns, want;
  };
  const Row rows[] = {
      {0, 4, 1'000, 0},   // the first at the start of the period
      {1, 4, 1'000, 250}, // 1000 / 4
      {3, 4, 1'000, 750}, // 3 * 250
      {1, 3, 1'000, 333}, // 1000 / 3 rounds down
      // 9,999 of 10,000 over 5 s: 5e9 * 9999 / 10000 = 4,999,500,000; the
      // product 5e13 needs more than 32 bits, not more than 63.
      {9'999, 10'000, 5'000'000'000, 4'999'500'000},
      {5, 0, 1'000, 0}, // no fleet: no offset
  };
  for (const Row& r : rows) {
    CAPTURE(r.index);
    CHECK(advertise_offset_ns(r.index, r.clusters, r.period_ns) == r.want);
  }
}

TEST_CASE("advertisements_due counts the heartbeats inside the window") {
  struct Row {
    std::int64_t clusters, period, window, want;
  };
  const Row rows[] = {
      // 4 clusters at offsets 0, 25, 50, 75 of a period of 100; a window
      // of 100 holds one round: 4.
      {4, 100, 100, 4},
      // A window of 250: offsets 0 and 25 are due 3 times (0/100/200,
      // 25/125/225), 50 and 75 twice (50/150, 75/175): 3 + 3 + 2 + 2.
      {4, 100, 250, 10},
      // A window shorter than the period: only offsets 0 and 25 fall
      // inside 50.
      {4, 100, 50, 2},
      // 10,000 clusters every 60 s for 10 s: offsets 6 ms apart; those
      // below 10 s are j = 0..1666, so 1,667.
      {10'000, 60'000'000'000, 10'000'000'000, 1'667},
      {0, 100, 100, 0}, // no fleet
  };
  for (const Row& r : rows) {
    CAPTURE(r.clusters);
    CAPTURE(r.window);
    CHECK(advertisements_due(r.clusters, r.period, r.window) == r.want);
  }
}

TEST_CASE("metric_value sums one metric's samples and ignores prefixes") {
  const std::string text =
      "# HELP broker_resource_lock_conflicts_total Lock conflicts.\n"
      "# TYPE broker_resource_lock_conflicts_total counter\n"
      "broker_resource_lock_conflicts_total 7\n"
      "broker_resource_lock_conflicts_total_other 100\n"
      "broker_reservations_total{phase=\"Reserved\"} 3\n"
      "broker_reservations_total{phase=\"Failed\",x=\"a b\"} 2.5\n";
  CHECK(metric_value(text, "broker_resource_lock_conflicts_total") == 7.0);
  // 3 + 2.5: labels with spaces do not confuse the value column.
  CHECK(metric_value(text, "broker_reservations_total") == 5.5);
  CHECK_FALSE(metric_value(text, "broker_missing").has_value());
}

TEST_CASE("proc_cpu_ticks adds utime and stime after the command name") {
  // Fields 14 and 15 are 250 and 50; the name holds ") (" and spaces.
  const std::string line = "4242 (lrb (x) y) S 1 4242 4242 0 -1 4194560 "
                           "1000 0 0 0 250 50 0 0 20 0 17 0 12345";
  CHECK(proc_cpu_ticks(line) == 300);
  CHECK_THROWS_AS(proc_cpu_ticks("4242 (lrb) S 1 2"), core::Error);
}

TEST_CASE("proc_status_kib reads one field in KiB") {
  const std::string status = "Name:\tlrb\nVmHWM:\t   51200 kB\n"
                             "VmRSS:\t   40960 kB\nVmRSSX:\t1 kB\n";
  CHECK(proc_status_kib(status, "VmRSS") == 40960);
  CHECK(proc_status_kib(status, "VmHWM") == 51200);
  CHECK_FALSE(proc_status_kib(status, "VmSwap").has_value());
}

TEST_CASE("the bench fleet is fixed by its seed") {
  const auto a = bench::make_fleet(50, 7);
  const auto b = bench::make_fleet(50, 7);
  const auto c = bench::make_fleet(50, 8);
  REQUIRE(a.size() == 50);
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].id == b[i].id);
    CHECK(a[i].cores == b[i].cores);
    CHECK(a[i].gib == 4 * a[i].cores); // 4 GiB per core
    CHECK(a[i].cores >= 8);
    CHECK(a[i].cores <= 512); // 8 << 6
    differs = differs || a[i].cores != c[i].cores;
  }
  CHECK(a[42].id == "bench-000042");
  CHECK(differs);
}

TEST_CASE("a bench advertisement reads back as the cluster it describes") {
  const auto fleet = bench::make_fleet(3, 1);
  const auto json = core::Json::parse(bench::advertisement_json(fleet[1], 9));
  CHECK(json["clusterID"] == fleet[1].id);
  CHECK(json["generation"] == 9);
  const auto cluster = bench::to_cluster(fleet[1]);
  // cores * 1000 millicores, nothing reserved so free = available.
  CHECK(cluster.free.get(core::Slot::cpu) == fleet[1].cores * 1000);
  CHECK(cluster.ad.prices.has_value());
}

} // namespace lrb::daemon
