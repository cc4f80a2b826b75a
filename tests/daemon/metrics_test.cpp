#include <set>

#include <doctest/doctest.h>

#include "daemon/metrics.h"

namespace lrb::daemon {

TEST_CASE("label values are escaped") {
  CHECK(escape_label(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(escape_label("two\nlines") == "two\\nlines");
  CHECK(escape_label("plain") == "plain");
}

TEST_CASE("a histogram writes cumulative buckets, sum and count") {
  Histogram h({0.1, 1.0});
  for (double v : {0.05, 0.1, 0.5, 3.0}) {
    h.observe(v);
  }
  std::string out;
  MetricsWriter w(out);
  h.write(w, "x_seconds", {"route"}, {"/a"});
  // <= 0.1: 0.05 and 0.1 (bounds are inclusive); <= 1: also 0.5; all 4.
  // Sum 0.05 + 0.1 + 0.5 + 3.0 = 3.65.
  CHECK(out == "x_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
               "x_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
               "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
               "x_seconds_sum{route=\"/a\"} 3.65\n"
               "x_seconds_count{route=\"/a\"} 4\n");
}

TEST_CASE("every family has HELP and TYPE before its samples") {
  Metrics m;
  m.reservation_phase("Reserved", "rome", "paris");
  m.reservation_phase("Reserved", "rome", "paris");
  m.http_request("GET", "/healthz", 200, 0.002);
  m.cost_saving("rome", 0.25);
  m.cost_saving("rome", 0.5);
  m.lock_conflict();
  std::string text;
  m.write(text);
  CHECK(text.find("broker_reservations_total{phase=\"Reserved\",requester="
                  "\"rome\",target_cluster=\"paris\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("broker_cost_savings_dollars{requester=\"rome\"} 0.75\n") !=
        std::string::npos);
  CHECK(text.find("broker_resource_lock_conflicts_total 1\n") !=
        std::string::npos);
  CHECK(text.find("broker_http_requests_total{method=\"GET\",route="
                  "\"/healthz\",code=\"200\"} 1\n") != std::string::npos);

  // Walk the lines: a sample's family must have been declared.
  std::set<std::string> declared;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("# TYPE ")) {
      declared.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.starts_with("#")) {
      continue;
    }
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!declared.count(name) && name.ends_with(suffix)) {
        name = name.substr(0, name.size() - std::string(suffix).size());
      }
    }
    CAPTURE(line);
    CHECK(declared.count(name) == 1);
  }
}

} // namespace lrb::daemon
