// The arithmetic `lrb bench` reports with, and its JSON document. Kept
// apart from the load generator because none of it touches a socket or
// a clock: it is the part a reader must trust to believe the figures,
// so it is the part the unit tests pin down.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/quantity.h"
#include "daemon/bench.h"

namespace lrb::daemon {

namespace {

core::Json encode_latency(const LatencySummary& s) {
  return {{"count", s.count},
          {"p50", s.p50},
          {"p99", s.p99},
          {"p999", s.p999},
          {"max", s.max}};
}

// Returns a / b, or null when there is no floor to compare with.
core::Json ratio(double a, double b) {
  if (b <= 0) {
    return nullptr;
  }
  return std::round(a / b * 1000) / 1000;
}

core::Json encode_floors(const BenchReport& r) {
  const FloorReport& f = r.floors;
  if (!f.measured) {
    return nullptr;
  }
  return {{"sqlite_commits_per_s", f.sqlite_commits_per_s},
          {"http_requests_per_s", f.http_requests_per_s},
          {"http_latency_ms", encode_latency(f.http_latency)},
          {"http_failures", f.http_failures},
          {"scan_us", f.scan_us},
          {"decide_us", encode_latency(f.decide_us)}};
}

// Each lrb figure over its floor: throughputs as lrb/floor (below 1 is
// slower than the floor), latencies and times as lrb/floor (above 1 is
// slower).
core::Json encode_ratios(const BenchReport& r) {
  const FloorReport& f = r.floors;
  if (!f.measured) {
    return nullptr;
  }
  return {
      {"creates_per_s_over_sqlite_commits_per_s",
       ratio(r.creates_per_s, f.sqlite_commits_per_s)},
      {"creates_per_s_over_http_requests_per_s",
       ratio(r.creates_per_s, f.http_requests_per_s)},
      {"create_p50_over_http_p50",
       ratio(r.create_latency.p50, f.http_latency.p50)},
      {"create_p99_over_http_p99",
       ratio(r.create_latency.p99, f.http_latency.p99)},
      {"ingest_per_s_over_http_requests_per_s",
       ratio(r.ingest_per_s, f.http_requests_per_s)},
      {"decide_p50_over_scan", ratio(f.decide_us.p50, f.scan_us)},
  };
}

core::Json encode_broker(const BenchReport& r) {
  core::Json j{{"spawned", r.spawned},
               {"pinning", r.pinning},
               {"cpu_seconds", r.broker_cpu_s},
               {"cpu_percent_of_one_core",
                r.elapsed_s > 0 ? r.broker_cpu_s / r.elapsed_s * 100 : 0.0},
               {"rss_mib", r.broker_rss_mib},
               {"peak_rss_mib", r.broker_peak_rss_mib}};
  j["restart_ready_ms"] =
      r.restart_ready_ms ? core::Json(*r.restart_ready_ms) : nullptr;
  return j;
}

} // namespace

std::int64_t BenchReport::error_count() const {
  std::int64_t total = 0;
  for (const auto& [status, count] : errors) {
    total += count;
  }
  return total;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  const double n = static_cast<double>(sorted.size());
  // A small epsilon keeps p * n exact for products such as 99.9 * 1000.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

LatencySummary summarize(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  LatencySummary s;
  s.count = static_cast<std::int64_t>(values.size());
  s.p50 = percentile(values, 50);
  s.p99 = percentile(values, 99);
  s.p999 = percentile(values, 99.9);
  s.max = values.empty() ? 0 : values.back();
  return s;
}

std::int64_t scheduled_ns(std::int64_t index, double rate) {
  return std::llround(static_cast<double>(index) * 1e9 / rate);
}

std::int64_t advertise_offset_ns(std::int64_t index, std::int64_t clusters,
                                 std::int64_t period_ns) {
  if (clusters <= 0) {
    return 0;
  }
  // 128 bits: 10,000 clusters times a period of hours overflows 63.
  return static_cast<std::int64_t>(static_cast<core::Int128>(index) *
                                   period_ns / clusters);
}

std::int64_t advertisements_due(std::int64_t clusters, std::int64_t period_ns,
                                std::int64_t window_ns) {
  std::int64_t due = 0;
  for (std::int64_t j = 0; j < clusters && period_ns > 0; ++j) {
    const std::int64_t left =
        window_ns - advertise_offset_ns(j, clusters, period_ns);
    due += left > 0 ? (left + period_ns - 1) / period_ns : 0;
  }
  return due;
}

std::optional<double> metric_value(std::string_view text,
                                   std::string_view name) {
  std::optional<double> sum;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) {
      continue;
    }
    const char next = line[name.size()];
    if (next != ' ' && next != '{') {
      continue; // another metric whose name starts with `name`
    }
    const auto space = line.rfind(' ');
    sum = sum.value_or(0) + std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

std::int64_t proc_cpu_ticks(std::string_view stat_line) {
  // The command name (field 2) may hold spaces and parentheses: fields
  // are counted from the last ')'; utime and stime are fields 14, 15.
  const auto close = stat_line.rfind(')');
  std::istringstream in{std::string(
      close == std::string_view::npos ? "" : stat_line.substr(close + 1))};
  std::string field;
  std::int64_t utime = -1, stime = -1;
  for (int number = 3; in >> field && number <= 15; ++number) {
    if (number == 14 || number == 15) {
      (number == 14 ? utime : stime) = std::strtoll(field.c_str(), nullptr, 10);
    }
  }
  if (utime < 0 || stime < 0) {
    throw core::Error(core::Code::internal,
                      "cannot read utime and stime from /proc/<pid>/stat");
  }
  return utime + stime;
}

std::optional<std::int64_t> proc_status_kib(std::string_view status,
                                            std::string_view name) {
  std::istringstream in{std::string(status)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.rfind(name, 0) == 0 &&
        line[name.size()] == ':') {
      return std::strtoll(line.c_str() + name.size() + 1, nullptr, 10);
    }
  }
  return std::nullopt;
}

core::Json encode_bench_report(const BenchReport& r) {
  const BenchOptions& o = r.options;
  core::Json j{
      {"config",
       {{"broker", r.spawned ? "spawned" : o.broker_url},
        {"clusters", o.clusters},
        {"advertise_every_ms", o.advertise_every_ms},
        {"clients", o.clients},
        {"rate", o.rate},
        {"duration_ms", o.duration_ms},
        {"release", o.release},
        {"watchers", o.watchers},
        {"seed", o.seed}}},
      {"elapsed_s", r.elapsed_s},
      {"creates",
       {{"target_per_s", o.rate},
        {"achieved_per_s", r.creates_per_s},
        {"count", r.creates},
        {"reserved", r.reserved},
        {"failed", r.failed},
        {"released", r.releases},
        {"unsent", r.unsent},
        {"latency_ms", encode_latency(r.create_latency)}}},
      {"ingest",
       {{"count", r.advertisements},
        {"per_s", r.ingest_per_s},
        {"unsent", r.ads_unsent},
        {"initial_per_s", r.initial_ingest_per_s}}},
      {"notifications", {{"latency_ms", encode_latency(r.notify_latency)}}},
      {"lock_conflicts", r.lock_conflicts},
      {"errors", r.error_count()},
      {"errors_by_status", r.errors},
      {"broker", encode_broker(r)},
      {"double_bookings",
       r.checked ? core::Json(r.double_bookings) : core::Json(nullptr)},
      {"doctor",
       {{"holding", r.doctor_holding}, {"findings", r.doctor_findings}}},
      {"floors", encode_floors(r)},
      {"ratios", encode_ratios(r)}};
  return j;
}

} // namespace lrb::daemon
