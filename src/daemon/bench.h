// The load generator behind `lrb bench`: simulated clusters advertising
// on a period, clients creating (and releasing) reservations on an
// open-loop schedule, and agents parked on the watch endpoint, all over
// HTTP on 127.0.0.1 against a real broker. Latency is measured from the
// time a request was scheduled, not from when a connection was free to
// send it, so a stall of the broker shows up as latency instead of
// silently lowering the offered rate.
//
// Every figure is printed beside a floor measured in the same run on the
// same machine (a bare SQLite commit loop, a bare HTTP server, a bare
// scan of the cluster table), because absolute figures mean little on a
// shared two-core machine while the ratio to what the machine itself
// allows survives a change of machine. The arithmetic the report rests
// on (schedules, percentiles, /proc and /metrics parsing) is kept in
// small pure functions so that it can be tested on its own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace lrb::daemon {

// What `lrb bench` was asked to do (its flags).
struct BenchOptions {
  std::string broker_url; // "" spawns a broker from `self_exe`
  std::string self_exe = "/proc/self/exe";
  std::string db_path; // with broker_url: its database, for the doctor
  int clusters = 10'000;
  std::int64_t advertise_every_ms = 5'000;
  int clients = 64;
  double rate = 200; // creates per second; 0 = closed loop
  std::int64_t duration_ms = 10'000;
  bool release = true;
  int watchers = 0;
  std::uint64_t seed = 1;
  bool floors = true;
  bool restart_check = true;     // SIGKILL the spawned broker, time a restart
  std::int64_t floor_ms = 1'000; // length of each timed floor
};

// Latency percentiles in milliseconds.
struct LatencySummary {
  std::int64_t count = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

// The floors: what the machine allows without lrb's logic.
struct FloorReport {
  bool measured = false;
  double sqlite_commits_per_s = 0; // version-checked UPDATE, FULL sync
  double http_requests_per_s = 0;  // fixed body, the same client count
  LatencySummary http_latency;
  std::int64_t http_failures = 0; // requests with no answer
  double scan_us = 0;             // bare scan of the compact cluster table
  LatencySummary decide_us;       // core::decide over the same table (µs)
};

// Everything one run measured.
struct BenchReport {
  BenchOptions options;
  bool spawned = false;
  std::string pinning; // what sched_setaffinity allowed
  double elapsed_s = 0;
  std::int64_t creates = 0; // answered 201
  std::int64_t reserved = 0;
  std::int64_t failed = 0; // 201 with phase Failed (nothing fitted)
  std::int64_t releases = 0;
  std::int64_t unsent = 0; // due in the window, not sent by its end
  double creates_per_s = 0;
  LatencySummary create_latency;
  std::int64_t advertisements = 0;
  std::int64_t ads_unsent = 0;
  double ingest_per_s = 0;
  double initial_ingest_per_s = 0; // registering every cluster first
  LatencySummary notify_latency;
  std::int64_t lock_conflicts = 0;
  std::map<std::string, std::int64_t> errors; // status (or "transport")
  double broker_cpu_s = 0;                    // during the timed run
  double broker_rss_mib = 0;
  double broker_peak_rss_mib = 0;
  std::optional<double> restart_ready_ms;
  bool checked = false; // the invariant check ran (a spawned broker)
  std::int64_t doctor_holding = 0;
  std::int64_t double_bookings = 0;
  std::vector<std::string> doctor_findings;
  FloorReport floors;

  // Returns the total of `errors`.
  std::int64_t error_count() const;
};

// Runs the benchmark. Throws Error(unavailable) when the broker cannot
// be started or reached, Error(invalid_argument) naming a bad option.
BenchReport run_bench(const BenchOptions& options);

// Measures the three floors with `clients` HTTP connections over a
// table of `clusters` rows, each timed loop lasting about `floor_ms`.
FloorReport measure_floors(int clients, int clusters, std::uint64_t seed,
                           std::int64_t floor_ms);

// Returns the report as the JSON document of `lrb bench -o json`.
core::Json encode_bench_report(const BenchReport& report);

// Returns the nearest-rank percentile `p` (0 < p <= 100) of `sorted`
// (ascending): the value at 1-based rank ceil(p / 100 * n); 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

// Sorts `values` and returns their p50, p99, p99.9 and maximum.
LatencySummary summarize(std::vector<double> values);

// Returns when request `index` (0-based) is due, in nanoseconds after
// the start, for `rate` requests per second (rate > 0).
std::int64_t scheduled_ns(std::int64_t index, double rate);

// Returns the offset of cluster `index` of `clusters` inside one
// advertisement period, spreading the fleet evenly over the period.
std::int64_t advertise_offset_ns(std::int64_t index, std::int64_t clusters,
                                 std::int64_t period_ns);

// Returns how many advertisements fall due in a window of `window_ns`
// when `clusters` advertise every `period_ns` at advertise_offset_ns.
std::int64_t advertisements_due(std::int64_t clusters, std::int64_t period_ns,
                                std::int64_t window_ns);

// Returns the sum of the samples of metric `name` (any labels) in a
// Prometheus text exposition; nullopt when there is none.
std::optional<double> metric_value(std::string_view text,
                                   std::string_view name);

// Returns utime + stime, in clock ticks, from a /proc/<pid>/stat line;
// throws Error(internal) when the line does not parse.
std::int64_t proc_cpu_ticks(std::string_view stat_line);

// Returns the value in KiB of field `name` ("VmRSS", "VmHWM") of a
// /proc/<pid>/status text; nullopt when absent.
std::optional<std::int64_t> proc_status_kib(std::string_view status,
                                            std::string_view name);

} // namespace lrb::daemon
