// Prometheus metrics of the broker, written in the text exposition format
// 0.0.4. A handful of families is all the broker needs, so they are held
// here directly (labelled counters, gauges and fixed-bucket histograms
// under one mutex) rather than through a client library: a scrape is a
// string build, an update is a map lookup. Per-cluster gauges are not
// stored at all; the broker writes them from its cluster table at scrape
// time with MetricsWriter.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lrb::daemon {

// Appends families and samples in the exposition format.
class MetricsWriter {
public:
  explicit MetricsWriter(std::string& out) : out_(out) {}

  // Writes the HELP and TYPE lines of a family.
  void family(std::string_view name, std::string_view type,
              std::string_view help);

  // Writes one sample; `labels` alternate name, value.
  void sample(std::string_view name,
              std::initializer_list<std::string_view> labels, double value);
  void sample(std::string_view name, const std::vector<std::string>& names,
              const std::vector<std::string>& values, double value);

private:
  std::string& out_;
};

// Returns `value` escaped for a label value (backslash, quote, newline).
std::string escape_label(std::string_view value);

// A histogram with fixed upper bounds (seconds).
class Histogram {
public:
  explicit Histogram(std::vector<double> bounds);
  // Records one observation.
  void observe(double value);
  // Writes the _bucket, _sum and _count samples under `name` with extra
  // labels `names`/`values`.
  void write(MetricsWriter& w, std::string_view name,
             const std::vector<std::string>& names,
             const std::vector<std::string>& values) const;

private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_; // per bucket, not cumulative
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// The broker's own metrics. Thread-safe.
class Metrics {
public:
  Metrics();

  // Counts a reservation entering `phase`.
  void reservation_phase(std::string_view phase, std::string_view requester,
                         std::string_view target);
  // Records the time from request to Reserved.
  void reservation_seconds(double seconds);
  // Records how long one decision took.
  void decision_seconds(double seconds);
  // Remembers the last score of a cluster.
  void cluster_score(std::string_view cluster_id, double score);
  // Counts an optimistic-lock conflict.
  void lock_conflict();
  // Adds the per-hour saving of a placement to the requester's sum.
  void cost_saving(std::string_view requester, double dollars_per_hour);
  // Counts one HTTP request and its duration.
  void http_request(std::string_view method, std::string_view route, int code,
                    double seconds);
  // Sets the number of parked watchers.
  void watchers(int parked);

  // Appends every family held here.
  void write(std::string& out) const;

private:
  using Labels = std::vector<std::string>;
  mutable std::mutex mu_;
  std::map<Labels, double> reservations_;
  Histogram reservation_seconds_;
  Histogram decision_seconds_;
  std::map<std::string, double, std::less<>> scores_;
  double conflicts_ = 0;
  std::map<std::string, double, std::less<>> savings_;
  std::map<Labels, double> http_requests_;
  std::map<Labels, Histogram> http_seconds_;
  int watchers_ = 0;
};

} // namespace lrb::daemon
