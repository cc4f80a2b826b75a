// Tests of the agent's /healthz and /metrics answers, built from the
// counters alone, and of the small server's stop, which must work
// whether or not serve() has begun. The served endpoint is exercised by
// tests/e2e/agent_metrics_test.sh (curl and promtool).
#include <chrono>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "daemon/agent.h"
#include "daemon/http_server.h"

namespace lrb::daemon {

namespace {

// Returns the lines of `text` that do not start with '#'.
std::vector<std::string> samples(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') {
      out.push_back(line);
    }
  }
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("agent metrics: every counter is one labelled sample") {
  AgentCounters c;
  c.advertisements = 7;
  c.advertise_errors = 2;
  c.slices_created = 3;
  c.slices_deleted = 1;
  c.activations = 4;
  c.releases = 5;
  c.hooks_run = 6;
  c.provided = 8;
  c.last_advertisement_ms = 1'700'000'000'123;
  const std::string text = format_agent_metrics(c, "rome");
  // 8 counters + 1 gauge, each with exactly one sample.
  CHECK(samples(text).size() == 9);
  struct Row {
    std::string name;
    std::string value;
  };
  const std::vector<Row> rows = {
      {"lrb_agent_advertisements_total", "7"},
      {"lrb_agent_advertise_errors_total", "2"},
      {"lrb_agent_slices_created_total", "3"},
      {"lrb_agent_slices_deleted_total", "1"},
      {"lrb_agent_activations_total", "4"},
      {"lrb_agent_releases_total", "5"},
      {"lrb_agent_hooks_run_total", "6"},
      {"lrb_agent_reservations_provided_total", "8"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(has_line(text, "# TYPE " + r.name + " counter"));
    CHECK(text.find("# HELP " + r.name + " ") != std::string::npos);
    CHECK(has_line(text, r.name + "{cluster=\"rome\"} " + r.value));
  }
  // 1'700'000'000'123 ms = 1'700'000'000 s + 123 ms.
  CHECK(has_line(text, "# TYPE lrb_agent_last_advertisement_timestamp_seconds "
                       "gauge"));
  CHECK(has_line(text, "lrb_agent_last_advertisement_timestamp_seconds"
                       "{cluster=\"rome\"} 1700000000.123"));
}

TEST_CASE("agent metrics: before any advertisement the gauge is 0.000") {
  AgentCounters c;
  const std::string text = format_agent_metrics(c, "paris");
  CHECK(has_line(text, "lrb_agent_advertisements_total{cluster=\"paris\"} 0"));
  // 5 ms: 0 s and 005 ms, zero-padded so it is not read as 0.5 s.
  c.last_advertisement_ms = 5;
  CHECK(has_line(format_agent_metrics(c, "paris"),
                 "lrb_agent_last_advertisement_timestamp_seconds"
                 "{cluster=\"paris\"} 0.005"));
}

TEST_CASE("agent metrics: a label value is escaped") {
  AgentCounters c;
  const std::string text = format_agent_metrics(c, "a\"b\\c\nd");
  CHECK(has_line(text, "lrb_agent_releases_total{cluster=\"a\\\"b\\\\c\\nd\"} "
                       "0"));
}

TEST_CASE("agent http: health follows the loops, other paths are 404") {
  AgentCounters c;
  c.advertisements = 1;
  auto ok = agent_http_answer(c, "rome", true, "GET", "/healthz");
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
  auto stopping = agent_http_answer(c, "rome", false, "GET", "/healthz");
  CHECK(stopping.status == 503);
  auto metrics = agent_http_answer(c, "rome", true, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.content_type.starts_with("text/plain; version=0.0.4"));
  CHECK(has_line(metrics.body,
                 "lrb_agent_advertisements_total{cluster=\"rome\"} 1"));
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{
           {"GET", "/"},
           {"GET", "/metricsx"},
           {"POST", "/metrics"},
           {"DELETE", "/healthz"}}) {
    CAPTURE(method);
    CAPTURE(path);
    auto r = agent_http_answer(c, "rome", true, method, path);
    CHECK(r.status == 404);
    CHECK(r.content_type == "application/json");
    CHECK(r.body.find("\"NotFound\"") != std::string::npos);
  }
}

TEST_CASE("simple http server: stop before serve makes serve return") {
  SimpleHttpServer server(
      "127.0.0.1", 0,
      [](const std::string&, const std::string&) { return SimpleResponse{}; });
  CHECK(server.bind() > 0);
  server.stop();
  auto served = std::async(std::launch::async, [&server] { server.serve(); });
  // A lost stop() would leave serve() listening for good.
  CHECK(served.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
}

TEST_CASE("simple http server: stop while serving ends serve") {
  SimpleHttpServer server(
      "127.0.0.1", 0,
      [](const std::string&, const std::string&) { return SimpleResponse{}; });
  CHECK(server.bind() > 0);
  auto served = std::async(std::launch::async, [&server] { server.serve(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.stop();
  CHECK(served.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
}

} // namespace lrb::daemon
