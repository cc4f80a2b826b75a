#include "daemon/metrics.h"

#include <cmath>

#include <fmt/format.h>

namespace lrb::daemon {

namespace {

// Latency buckets in seconds: 1 ms to 1 s for decisions, wider for HTTP
// and for the time a request takes to become Reserved (a durable
// commit).
const std::vector<double> k_decision_buckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
const std::vector<double> k_request_buckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

std::string format_value(double v) {
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", static_cast<std::int64_t>(v));
  }
  return fmt::format("{}", v);
}

} // namespace

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void MetricsWriter::family(std::string_view name, std::string_view type,
                           std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void MetricsWriter::sample(std::string_view name,
                           std::initializer_list<std::string_view> labels,
                           double value) {
  out_ += name;
  if (labels.size() > 0) {
    out_ += '{';
    bool first = true;
    for (auto it = labels.begin(); it != labels.end(); it += 2) {
      out_ += first ? "" : ",";
      first = false;
      out_ += fmt::format("{}=\"{}\"", *it, escape_label(*(it + 1)));
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void MetricsWriter::sample(std::string_view name,
                           const std::vector<std::string>& names,
                           const std::vector<std::string>& values,
                           double value) {
  out_ += name;
  if (!names.empty()) {
    out_ += '{';
    for (size_t i = 0; i < names.size(); ++i) {
      out_ += fmt::format("{}{}=\"{}\"", i == 0 ? "" : ",", names[i],
                          escape_label(values[i]));
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) {
    ++i;
  }
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::write(MetricsWriter& w, std::string_view name,
                      const std::vector<std::string>& names,
                      const std::vector<std::string>& values) const {
  auto bucket_names = names;
  bucket_names.push_back("le");
  auto bucket_values = values;
  bucket_values.emplace_back();
  std::uint64_t cumulative = 0;
  std::string bucket = fmt::format("{}_bucket", name);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    bucket_values.back() =
        i < bounds_.size() ? format_value(bounds_[i]) : "+Inf";
    w.sample(bucket, bucket_names, bucket_values,
             static_cast<double>(cumulative));
  }
  w.sample(fmt::format("{}_sum", name), names, values, sum_);
  w.sample(fmt::format("{}_count", name), names, values,
           static_cast<double>(count_));
}

Metrics::Metrics()
    : reservation_seconds_(k_request_buckets),
      decision_seconds_(k_decision_buckets) {}

void Metrics::reservation_phase(std::string_view phase,
                                std::string_view requester,
                                std::string_view target) {
  std::lock_guard lock(mu_);
  reservations_[{std::string(phase), std::string(requester),
                 std::string(target)}] += 1;
}

void Metrics::reservation_seconds(double seconds) {
  std::lock_guard lock(mu_);
  reservation_seconds_.observe(seconds);
}

void Metrics::decision_seconds(double seconds) {
  std::lock_guard lock(mu_);
  decision_seconds_.observe(seconds);
}

void Metrics::cluster_score(std::string_view cluster_id, double score) {
  std::lock_guard lock(mu_);
  auto it = scores_.find(cluster_id);
  if (it == scores_.end()) {
    scores_.emplace(std::string(cluster_id), score);
  } else {
    it->second = score;
  }
}

void Metrics::lock_conflict() {
  std::lock_guard lock(mu_);
  conflicts_ += 1;
}

void Metrics::cost_saving(std::string_view requester, double dollars_per_hour) {
  std::lock_guard lock(mu_);
  auto it = savings_.find(requester);
  if (it == savings_.end()) {
    savings_.emplace(std::string(requester), dollars_per_hour);
  } else {
    it->second += dollars_per_hour;
  }
}

void Metrics::http_request(std::string_view method, std::string_view route,
                           int code, double seconds) {
  std::lock_guard lock(mu_);
  Labels key{std::string(method), std::string(route), std::to_string(code)};
  http_requests_[key] += 1;
  key.pop_back();
  auto it = http_seconds_.find(key);
  if (it == http_seconds_.end()) {
    it = http_seconds_.emplace(key, Histogram(k_request_buckets)).first;
  }
  it->second.observe(seconds);
}

void Metrics::watchers(int parked) {
  std::lock_guard lock(mu_);
  watchers_ = parked;
}

void Metrics::write(std::string& out) const {
  std::lock_guard lock(mu_);
  MetricsWriter w(out);
  w.family("broker_reservations_total", "counter",
           "Reservations that entered each phase.");
  for (const auto& [labels, n] : reservations_) {
    w.sample("broker_reservations_total",
             {"phase", "requester", "target_cluster"}, labels, n);
  }

  w.family("broker_reservation_duration_seconds", "histogram",
           "Time from a create request to its durable Reserved commit.");
  reservation_seconds_.write(w, "broker_reservation_duration_seconds", {}, {});
  w.family("broker_decision_latency_seconds", "histogram",
           "Time one placement decision took.");
  decision_seconds_.write(w, "broker_decision_latency_seconds", {}, {});

  w.family("broker_cluster_score", "gauge",
           "Score of each cluster in the last decision that ranked it.");
  for (const auto& [id, score] : scores_) {
    w.sample("broker_cluster_score", {"cluster_id", id}, score);
  }
  w.family("broker_resource_lock_conflicts_total", "counter",
           "Optimistic-lock conflicts met while locking capacity.");
  w.sample("broker_resource_lock_conflicts_total", {}, conflicts_);
  w.family("broker_cost_savings_dollars", "gauge",
           "Sum per requester of the hourly price saved against the most "
           "expensive ranked candidate.");
  for (const auto& [requester, dollars] : savings_) {
    w.sample("broker_cost_savings_dollars", {"requester", requester}, dollars);
  }

  w.family("broker_http_requests_total", "counter",
           "HTTP requests by method, route and status code.");
  for (const auto& [labels, n] : http_requests_) {
    w.sample("broker_http_requests_total", {"method", "route", "code"}, labels,
             n);
  }
  w.family("broker_http_request_duration_seconds", "histogram",
           "HTTP request handling time by method and route.");
  for (const auto& [labels, h] : http_seconds_) {
    h.write(w, "broker_http_request_duration_seconds", {"method", "route"},
            labels);
  }
  w.family("broker_watchers", "gauge", "Watch requests parked right now.");
  w.sample("broker_watchers", {}, watchers_);
}

} // namespace lrb::daemon
