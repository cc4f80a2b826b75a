// The floors of `lrb bench` and the fleet they share with the load:
// what this machine does with none of lrb's logic in the way. Each floor
// mirrors one step of a create: the durable, version-checked UPDATE
// (bare SQLite, same pragmas as the broker's durable writes), the HTTP
// round trip (a bare cpp-httplib server answering a fixed body to a create-
// sized POST from the same number of keep-alive clients, through the same
// client class the load uses), and the decision (a scan over a 64-byte compact
// view of the same table, beside core::decide over the full rows). The server
// side of each floor runs on the CPU the broker would get, so the two
// figures are taken under the same pinning.
//
// This is the second file of src/ that runs an HTTP server; it serves
// only the floor, bound to 127.0.0.1 on an ephemeral port for the length
// of one timed loop.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <sched.h>

#include "core/error.h"
#include "core/json.h"
#include "core/scoring.h"
#include "daemon/bench.h"
#include "daemon/bench_fleet.h"
#include "daemon/sqlite.h"
#include "kube/http.h"

namespace lrb::daemon {

namespace bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int64_t k_gi = std::int64_t{1} << 30;

core::ResourceList capacity_of(const FleetMember& m) {
  core::ResourceList list;
  list.set(core::Slot::cpu, m.cores * 1000);
  list.set(core::Slot::memory, m.gib * k_gi);
  list.set(core::Slot::pods, m.cores * 8);
  if (m.gpus > 0) {
    list.set(core::Slot::gpu, m.gpus);
  }
  return list;
}

core::Advertisement advertisement_of(const FleetMember& m) {
  const RegionPrice& region = k_region_prices[m.region];
  core::Advertisement ad;
  ad.cluster_id = m.id;
  ad.cluster_name = m.id;
  ad.endpoint = fmt::format("https://{}.bench.invalid:6443", m.id);
  ad.region = region.region;
  ad.labels = {{"bench", "true"}};
  ad.resources.capacity = capacity_of(m);
  ad.resources.allocatable = ad.resources.capacity;
  ad.resources.available = ad.resources.capacity;
  ad.resources.largest_node_available = ad.resources.capacity;
  core::Prices prices;
  prices.cpu_per_hour = region.cpu;
  prices.memory_gib_per_hour = region.memory;
  if (m.gpus > 0) {
    ad.gpu_models = {{"T4", m.gpus}};
    prices.gpu_per_hour = {{"T4", region.t4}};
  }
  ad.prices = prices;
  return ad;
}

} // namespace

std::vector<FleetMember> make_fleet(int clusters, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<FleetMember> fleet(static_cast<std::size_t>(clusters));
  for (int i = 0; i < clusters; ++i) {
    FleetMember& m = fleet[static_cast<std::size_t>(i)];
    m.id = fmt::format("bench-{:06}", i);
    m.cores = std::int64_t{8} << (rng() % 7);
    m.gib = 4 * m.cores;
    m.region = static_cast<int>(rng() % std::size(k_region_prices));
    m.gpus = k_region_prices[m.region].t4 > 0 && rng() % 5 == 0 ? 8 : 0;
  }
  return fleet;
}

std::string advertisement_json(const FleetMember& member,
                               std::int64_t generation) {
  core::Advertisement ad = advertisement_of(member);
  ad.generation = generation;
  return core::encode_advertisement(ad).dump();
}

core::Cluster to_cluster(const FleetMember& member) {
  core::Cluster c;
  c.ad = advertisement_of(member);
  c.free = c.ad.resources.available;
  return c;
}

kube::HttpOptions http_options(const std::string& url,
                               std::chrono::milliseconds read_timeout) {
  kube::HttpOptions options;
  options.base_url = url;
  options.read_timeout = read_timeout;
  options.user_agent = "lrb-bench";
  return options;
}

bool pin_thread(int cpu) {
  if (std::thread::hardware_concurrency() < 2) {
    return false;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

} // namespace bench

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `fn` on a thread pinned to `cpu` (when allowed) and waits for it.
template <typename Fn>
void on_cpu(int cpu, Fn&& fn) {
  std::thread worker([&] {
    bench::pin_thread(cpu);
    fn();
  });
  worker.join();
}

// --- (a) SQLite: one durable version-checked UPDATE per transaction ---

double sqlite_floor(int rows, std::int64_t floor_ms) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("lrb-bench-floor-{}", ::getpid());
  std::filesystem::create_directories(dir);
  double rate = 0;
  {
    SqliteDb db((dir / "floor.db").string(), false, 5000);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
            "CREATE TABLE t (id INTEGER PRIMARY KEY, version INTEGER "
            "NOT NULL, body TEXT NOT NULL)");
    db.exec(fmt::format("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT "
                        "i + 1 FROM n WHERE i + 1 < {}) INSERT INTO t "
                        "SELECT i, 0, '' FROM n",
                        rows));
    std::vector<std::int64_t> version(static_cast<std::size_t>(rows), 0);
    const std::string body(512, 'x'); // about a cluster row's size
    std::int64_t commits = 0;
    const auto start = Clock::now();
    while (seconds_since(start) * 1000 < static_cast<double>(floor_ms)) {
      const auto id = static_cast<std::size_t>(commits % rows);
      db.exec("BEGIN IMMEDIATE");
      auto stmt = db.prepare("UPDATE t SET version = version + 1, body = ? "
                             "WHERE id = ? AND version = ?");
      stmt.bind(1, body)
          .bind(2, static_cast<std::int64_t>(id))
          .bind(3, version[id]);
      if (stmt.run() != 1) {
        throw core::Error(core::Code::internal,
                          "sqlite floor: a version-checked UPDATE missed");
      }
      db.exec("COMMIT");
      ++version[id];
      ++commits;
    }
    rate = static_cast<double>(commits) / seconds_since(start);
  }
  std::filesystem::remove_all(dir);
  return rate;
}

// --- (b) HTTP: a bare server answering a fixed body ---

// A body shaped like the bench's create, so that the floor's round trip
// carries what a create's does.
constexpr std::string_view k_floor_request =
    R"({"requesterID":"bench-000001","requestedResources":)"
    R"({"cpu":"2","memory":"4Gi"}})";

struct HttpFloor {
  double per_s = 0;
  LatencySummary latency;
  std::int64_t failures = 0;
};

// Hammers `port` from `clients` keep-alive connections until `until`.
HttpFloor hammer(int port, int clients, Clock::time_point until) {
  std::vector<std::vector<double>> samples(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  std::atomic<std::int64_t> failures{0};
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      bench::pin_thread(0);
      kube::HttpClient client(
          bench::http_options(fmt::format("http://127.0.0.1:{}", port)));
      auto& mine = samples[static_cast<std::size_t>(c)];
      while (Clock::now() < until) {
        const auto sent = Clock::now();
        try {
          client.request("POST", "/floor", k_floor_request);
        } catch (const core::Error&) {
          ++failures; // the floor then reads low, never high
          continue;
        }
        mine.push_back(seconds_since(sent) * 1000);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::vector<double> all;
  for (auto& s : samples) {
    all.insert(all.end(), s.begin(), s.end());
  }
  HttpFloor floor;
  floor.per_s = static_cast<double>(all.size()) / seconds_since(start);
  floor.latency = summarize(std::move(all));
  floor.failures = failures;
  return floor;
}

HttpFloor http_floor(int clients, std::int64_t floor_ms) {
  httplib::Server server;
  server.new_task_queue = [clients] {
    return new httplib::ThreadPool(static_cast<std::size_t>(clients) + 2);
  };
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1'000'000);
  server.Post("/floor", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"ok":true})", "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    throw core::Error(core::Code::unavailable,
                      "http floor: cannot bind 127.0.0.1 on any port");
  }
  // The pool's threads inherit the listener's CPU: the broker's.
  std::thread listener([&] {
    bench::pin_thread(1);
    server.listen_after_bind();
  });
  // httplib 0.11 has no wait_until_ready: poll, bounded.
  for (int i = 0; i < 2000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  HttpFloor floor;
  try {
    floor = hammer(port, clients,
                   Clock::now() + std::chrono::milliseconds(floor_ms));
  } catch (...) {
    server.stop();
    listener.join();
    throw;
  }
  server.stop();
  listener.join();
  return floor;
}

// --- (c) the decision: a bare scan of a compact view ---

// What a decision needs of one cluster, in 64 bytes.
struct alignas(64) CompactRow {
  std::int64_t free_cpu = 0; // millicores
  std::int64_t free_memory = 0;
  std::int64_t free_gpu = 0;
  std::int64_t alloc_cpu = 0;
  std::int64_t alloc_memory = 0;
  double price_cpu = 0;
  double price_memory = 0;
  std::uint32_t flags = 0; // bit 0: ready
  std::uint32_t id = 0;
};
static_assert(sizeof(CompactRow) == 64);

// Returns the index of the best fitting row for 4 cores and 16 GiB, by
// the weighted headroom and cost terms, or -1.
int scan(const std::vector<CompactRow>& rows) {
  constexpr std::int64_t cpu = 4000, memory = 16 * bench::k_gi;
  int best = -1;
  double best_score = -1;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const CompactRow& r = rows[i];
    if ((r.flags & 1U) == 0 || r.free_cpu < cpu || r.free_memory < memory) {
      continue;
    }
    const double headroom = 0.5 * static_cast<double>(r.free_cpu - cpu) /
                                static_cast<double>(r.alloc_cpu) +
                            0.5 * static_cast<double>(r.free_memory - memory) /
                                static_cast<double>(r.alloc_memory);
    const double price = r.price_cpu * 4 + r.price_memory * 16;
    const double score = 0.7 * headroom + 0.3 * (1.0 / (1.0 + price));
    if (score > best_score) {
      best_score = score;
      best = static_cast<int>(i);
    }
  }
  return best;
}

std::vector<CompactRow> compact(const std::vector<core::Cluster>& table) {
  std::vector<CompactRow> rows(table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const core::Cluster& c = table[i];
    CompactRow& r = rows[i];
    r.free_cpu = c.free.get(core::Slot::cpu);
    r.free_memory = c.free.get(core::Slot::memory);
    r.free_gpu = c.free.get(core::Slot::gpu);
    r.alloc_cpu = c.ad.resources.allocatable.get(core::Slot::cpu);
    r.alloc_memory = c.ad.resources.allocatable.get(core::Slot::memory);
    r.price_cpu = c.ad.prices ? c.ad.prices->cpu_per_hour : 0;
    r.price_memory = c.ad.prices ? c.ad.prices->memory_gib_per_hour : 0;
    r.flags = c.state == core::ClusterState::ready ? 1U : 0U;
    r.id = static_cast<std::uint32_t>(i);
  }
  return rows;
}

// Times `fn` repeatedly for about `floor_ms`; returns µs per call.
template <typename Fn>
std::vector<double> time_calls(std::int64_t floor_ms, Fn&& fn) {
  std::vector<double> us;
  const auto start = Clock::now();
  while (seconds_since(start) * 1000 < static_cast<double>(floor_ms) ||
         us.size() < 5) {
    const auto t = Clock::now();
    fn();
    us.push_back(seconds_since(t) * 1e6);
  }
  return us;
}

void decision_floors(int clusters, std::uint64_t seed, std::int64_t floor_ms,
                     FloorReport& out) {
  std::vector<core::Cluster> table;
  for (const auto& m : bench::make_fleet(clusters, seed)) {
    table.push_back(bench::to_cluster(m));
  }
  const auto rows = compact(table);
  std::atomic<int> sink{0};
  out.scan_us =
      summarize(time_calls(floor_ms / 2, [&] { sink += scan(rows); })).p50;

  core::ReservationRequest request;
  request.requester_id = "bench-requester";
  request.requested.set(core::Slot::cpu, 4000);
  request.requested.set(core::Slot::memory, 16 * bench::k_gi);
  const core::ScoringConfig config;
  out.decide_us = summarize(time_calls(floor_ms / 2, [&] {
    sink +=
        core::decide(request, table, config, core::Detail::summary).candidates;
  }));
}

} // namespace

FloorReport measure_floors(int clients, int clusters, std::uint64_t seed,
                           std::int64_t floor_ms) {
  FloorReport out;
  on_cpu(1, [&] {
    out.sqlite_commits_per_s = sqlite_floor(std::max(clusters, 1), floor_ms);
  });
  const HttpFloor http = http_floor(std::max(clients, 1), floor_ms);
  out.http_requests_per_s = http.per_s;
  out.http_latency = http.latency;
  out.http_failures = http.failures;
  on_cpu(1,
         [&] { decision_floors(std::max(clusters, 1), seed, floor_ms, out); });
  out.measured = true;
  return out;
}

} // namespace lrb::daemon
