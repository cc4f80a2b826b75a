#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <httplib.h>

#include "core/json.h"
#include "daemon/http_server.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using Clock = std::chrono::steady_clock;

// A broker served on an ephemeral 127.0.0.1 port from its own thread.
struct ServerFixture {
  testing::BrokerFixture f;
  Api api{*f.broker};
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  int port = 0;

  explicit ServerFixture(HttpServerOptions options = small_options())
      : f(broker_config(options)) {
    options.port = 0;
    server = std::make_unique<HttpServer>(api, f.metrics, options);
    port = server->bind();
    thread = std::thread([this] { server->serve(); });
  }
  ~ServerFixture() { stop(); }

  void stop() {
    if (thread.joinable()) {
      f.broker->shutdown();
      server->stop();
      thread.join();
    }
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(20));
    return c;
  }

  // The broker parks no more watchers than the server has threads for,
  // as `lrb broker` sets both from --max-watchers.
  static BrokerConfig broker_config(const HttpServerOptions& options) {
    auto config = testing::test_config();
    config.max_watchers = options.max_watchers;
    return config;
  }

  static HttpServerOptions small_options() {
    HttpServerOptions o;
    o.max_body = 1024;
    o.max_header_bytes = 16 * 1024;
    o.workers = 2;
    o.max_watchers = 4;
    return o;
  }
};

std::string error_code(const httplib::Result& res) {
  return core::Json::parse(res->body)["error"]["code"].get<std::string>();
}

} // namespace

TEST_CASE("the server routes to the API and answers errors as JSON") {
  ServerFixture s;
  auto c = s.client();
  auto ok = c.Get("/healthz");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->get_header_value("Content-Type") == "application/json");
  auto missing = c.Get("/nope");
  CHECK(missing->status == 404);
  CHECK(error_code(missing) == "NotFound");
  auto wrong = c.Delete("/healthz");
  CHECK(wrong->status == 405);
  CHECK(wrong->get_header_value("Allow") == "GET");
  // A request is counted right after its response is written, so the
  // count may trail the client by a moment.
  const std::string counted = "broker_http_requests_total{method=\"GET\","
                              "route=\"/healthz\",code=\"200\"} 1";
  std::string body;
  for (int i = 0; i < 100 && body.find(counted) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    body = c.Get("/metrics")->body;
  }
  CHECK(body.find(counted) != std::string::npos);
}

TEST_CASE("body, URL and header limits answer 413, 414 and 431") {
  ServerFixture s;
  auto c = s.client();
  auto big = c.Post("/api/v1/reservations", std::string(1025, 'x'),
                    "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);
  CHECK(error_code(big) == "BodyTooLarge");

  auto long_url = c.Get("/api/v1/clusters?x=" + std::string(9000, 'a'));
  REQUIRE(long_url);
  CHECK(long_url->status == 414);
  CHECK(error_code(long_url) == "URITooLong");

  // One header line over 8192 bytes, then many lines over 16 KiB in all.
  auto long_line = c.Get("/healthz", {{"X-Big", std::string(9000, 'a')}});
  REQUIRE(long_line);
  CHECK(long_line->status == 431);
  httplib::Headers many;
  for (int i = 0; i < 5; ++i) {
    many.emplace("X-H" + std::to_string(i), std::string(4000, 'a'));
  }
  auto too_many = c.Get("/healthz", many);
  REQUIRE(too_many);
  CHECK(too_many->status == 431);
  CHECK(error_code(too_many) == "HeadersTooLarge");

  // The server is still fine.
  CHECK(s.client().Get("/healthz")->status == 200);
}

TEST_CASE("parked watchers neither starve requests nor outgrow the bound") {
  ServerFixture s; // 2 workers, at most 4 parked watchers
  std::vector<std::thread> watchers;
  std::atomic<int> answered_fast{0};
  for (int i = 0; i < 6; ++i) {
    watchers.emplace_back([&] {
      auto start = Clock::now();
      auto res = s.client().Get("/api/v1/events?since=0&timeout=3s");
      if (res && res->status == 200 &&
          Clock::now() - start < std::chrono::milliseconds(1500)) {
        ++answered_fast;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // 6 connections hold threads, yet an API request is served at once.
  auto start = Clock::now();
  auto res = s.client().Get("/healthz");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Clock::now() - start < std::chrono::seconds(1));
  for (auto& w : watchers) {
    w.join();
  }
  // 6 - 4 parked = 2 were answered at once.
  CHECK(answered_fast == 2);
}

TEST_CASE("stopping answers parked watchers and returns") {
  ServerFixture s;
  std::thread watcher([&] {
    auto res = s.client().Get("/api/v1/events?since=0&timeout=60s");
    CHECK(res);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto start = Clock::now();
  s.stop();
  watcher.join();
  CHECK(Clock::now() - start < std::chrono::seconds(5));
}

} // namespace lrb::daemon
