#include <doctest/doctest.h>

#include "core/json.h"
#include "daemon/api.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using core::Json;
using testing::BrokerFixture;

// An Api over a fresh broker, with request helpers.
struct ApiFixture {
  BrokerFixture f;
  Api api{*f.broker};

  ApiResponse call(const std::string& method, const std::string& path,
                   const std::string& body = "",
                   std::multimap<std::string, std::string> query = {},
                   std::map<std::string, std::string> headers = {}) {
    ApiRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    req.query = std::move(query);
    req.headers = std::move(headers);
    return api.handle(req);
  }

  Json json(const ApiResponse& r) { return Json::parse(r.body); }

  void advertise(const std::string& file_body) {
    REQUIRE(call("POST", "/api/v1/advertisements", file_body).status == 200);
  }
};

const char* const k_paris = R"({"clusterID": "paris", "generation": 3,
  "endpoint": "https://paris.example:6443", "region": "europe-west9",
  "resources": {"allocatable": {"cpu": "32", "memory": "128Gi"},
                "available": {"cpu": "24", "memory": "96Gi"}},
  "prices": {"currency": "USD", "cpuPerHour": "0.031902",
             "memoryGiBPerHour": "0.004276"}})";

const char* const k_request =
    R"({"requesterID": "rome", "requestedResources": {"cpu": "4",
        "memory": "8Gi"}})";

} // namespace

TEST_CASE("routes: unknown paths are 404, wrong methods 405 with Allow") {
  ApiFixture a;
  struct Row {
    const char* method;
    const char* path;
    int status;
    const char* route;
  };
  const Row rows[] = {
      {"GET", "/healthz", 200, "/healthz"},
      {"HEAD", "/healthz", 200, "/healthz"},
      {"GET", "/nope", 404, "unmatched"},
      {"GET", "/api/v1/clusters/", 404, "unmatched"},
      {"GET", "/api/v1//clusters", 404, "unmatched"},
      {"DELETE", "/healthz", 405, "/healthz"},
      {"GET", "/api/v1/explain", 405, "/api/v1/explain"},
      {"PUT", "/api/v1/reservations/r-1/release", 405,
       "/api/v1/reservations/{id}/release"},
      {"GET", "/api/v1/clusters/oslo", 404, "/api/v1/clusters/{id}"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.method);
    CAPTURE(row.path);
    auto r = a.call(row.method, row.path);
    CHECK(r.status == row.status);
    CHECK(r.route == row.route);
    if (row.status >= 400) {
      CHECK(a.json(r).contains("error"));
    }
  }
  auto r = a.call("POST", "/api/v1/reservations/r-1");
  CHECK(r.status == 405);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"Allow", "GET"});
}

TEST_CASE("operations endpoints answer") {
  ApiFixture a;
  CHECK(a.json(a.call("GET", "/version"))["version"] == LRB_VERSION);
  CHECK(a.call("GET", "/readyz").status == 200);
  auto m = a.call("GET", "/metrics");
  CHECK(m.content_type.starts_with("text/plain; version=0.0.4"));
  CHECK(m.body.find("# TYPE broker_reservations_total counter") !=
        std::string::npos);
  a.f.broker->shutdown();
  CHECK(a.call("GET", "/readyz").status == 503);
}

TEST_CASE("create answers 201 with the reservation, a replay 200") {
  ApiFixture a;
  a.advertise(k_paris);
  auto r = a.call("POST", "/api/v1/reservations", k_request, {},
                  {{"idempotency-key", "abc"}});
  CHECK(r.status == 201);
  auto body = a.json(r);
  CHECK(body["status"]["phase"] == "Reserved");
  CHECK(body["targetClusterID"] == "paris");
  std::string id = body["id"];
  bool located = false;
  for (const auto& [name, value] : r.headers) {
    located |= name == "Location" && value == "/api/v1/reservations/" + id;
  }
  CHECK(located);

  auto again = a.call("POST", "/api/v1/reservations", k_request, {},
                      {{"idempotency-key", "abc"}});
  CHECK(again.status == 200);
  CHECK(a.json(again) == body);
  CHECK(a.json(a.call("GET", "/api/v1/reservations/" + id)) == body);
  auto cluster = a.json(a.call("GET", "/api/v1/clusters/paris"));
  CHECK(cluster["resources"]["reserved"]["cpu"] == "4");
  CHECK(cluster["resources"]["free"]["cpu"] == "20"); // 24 available - 4
}

TEST_CASE("bad bodies are 400 naming the field; nothing is stored") {
  ApiFixture a;
  a.advertise(k_paris);
  struct Row {
    const char* body;
    const char* field;
  };
  const Row rows[] = {
      {R"({"requesterID": "rome", "requestedResources": {"cpu": "0",
          "memory": "1Gi"}})",
       "requestedResources.cpu"},
      {R"({"requesterID": "Rome_1", "requestedResources": {"cpu": "1",
          "memory": "1Gi"}})",
       "requesterID"},
      {R"({"requesterID": "rome", "requestedResources": {"cpu": "1",
          "memory": "1Gi"}, "duration": "25h"})",
       "duration"},
      {R"({"requesterID": "rome", "requestedResources": {"cpu": "1",
          "memory": "1Gi"}, "colour": "red"})",
       "colour"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.body);
    auto r = a.call("POST", "/api/v1/reservations", row.body);
    CHECK(r.status == 400);
    CHECK(a.json(r)["error"]["field"] == row.field);
  }
  auto malformed = a.call("POST", "/api/v1/reservations", "{\"requesterID\"");
  CHECK(malformed.status == 400);
  CHECK(a.json(malformed)["error"]["code"] == "MalformedJSON");
  CHECK(a.f.broker->reservations({}).empty());
}

TEST_CASE("lifecycle endpoints take optional bodies") {
  ApiFixture a;
  a.advertise(k_paris);
  std::string id =
      a.json(a.call("POST", "/api/v1/reservations", k_request))["id"];
  std::string base = "/api/v1/reservations/" + id;

  auto unknown = a.call("POST", base + "/activate", R"({"granted": {}})");
  CHECK(unknown.status == 400);
  CHECK(a.json(unknown)["error"]["field"] == "granted");
  auto too_much = a.call("POST", base + "/activate",
                         R"({"grantedResources": {"cpu": "5"}})");
  CHECK(a.json(too_much)["error"]["field"] == "grantedResources.cpu");

  auto active = a.call("POST", base + "/activate",
                       R"({"grantedResources": {"cpu": "3"}})");
  CHECK(active.status == 200);
  CHECK(a.json(active)["grantedResources"]["cpu"] == "3");
  auto renewed = a.call("POST", base + "/renew", R"({"duration": "2h"})");
  CHECK(renewed.status == 200);
  CHECK(a.json(a.call("POST", base + "/renew",
                      R"({"duration": 5})"))["error"]["field"] == "duration");
  CHECK(a.call("POST", base + "/release", "").status == 200);
  auto twice = a.call("POST", base + "/release", R"({"reason": "again"})");
  CHECK(twice.status == 409);
  auto message = a.json(twice)["error"]["message"].get<std::string>();
  CHECK(message.find("Released") != std::string::npos);
}

TEST_CASE("list filters are checked and applied") {
  ApiFixture a;
  a.advertise(k_paris);
  a.call("POST", "/api/v1/reservations", k_request);
  a.call("POST", "/api/v1/reservations",
         R"({"requesterID": "rome", "requestedResources": {"cpu": "99",
             "memory": "1Gi"}})");
  struct Row {
    std::multimap<std::string, std::string> query;
    int status;
    std::size_t items; // when 200
    const char* field; // when 400
  };
  const Row rows[] = {
      {{}, 200, 2, ""},
      {{{"clusterID", "paris"}, {"role", "provider"}}, 200, 1, ""},
      {{{"clusterID", "rome"}, {"role", "requester"}}, 200, 2, ""},
      {{{"clusterID", "paris"}}, 200, 1, ""},
      {{{"phase", "Reserved,Failed"}}, 200, 2, ""},
      {{{"phase", "Failed"}}, 200, 1, ""},
      {{{"requesterID", "paris"}}, 200, 0, ""},
      {{{"limit", "1"}}, 200, 1, ""},
      {{{"phase", "Sleeping"}}, 400, 0, "phase"},
      {{{"role", "provider"}}, 400, 0, "clusterID"},
      {{{"clusterID", "paris"}, {"role", "owner"}}, 400, 0, "role"},
      {{{"limit", "-1"}}, 400, 0, "limit"},
      {{{"clusterID", "Bad_ID"}}, 400, 0, "clusterID"},
      {{{"colour", "red"}}, 400, 0, "colour"},
  };
  for (const auto& row : rows) {
    auto r = a.call("GET", "/api/v1/reservations", "", row.query);
    CAPTURE(r.body);
    CHECK(r.status == row.status);
    if (row.status == 200) {
      CHECK(a.json(r)["items"].size() == row.items);
    } else {
      CHECK(a.json(r)["error"]["field"] == row.field);
    }
  }
}

TEST_CASE("events answer with the page shape and check their parameters") {
  ApiFixture a;
  a.advertise(k_paris);
  auto r = a.call("GET", "/api/v1/events", "", {{"timeout", "0s"}});
  CHECK(r.status == 200);
  auto page = a.json(r);
  CHECK(page["lastSeq"] == 1);
  REQUIRE(page["events"].size() == 1);
  CHECK(page["events"][0]["type"] == "ClusterRegistered");
  CHECK(page["events"][0]["clusterID"] == "paris");
  CHECK(page["events"][0]["seq"] == 1);

  struct Row {
    std::multimap<std::string, std::string> query;
    int status;
    const char* field;
  };
  const Row rows[] = {
      {{{"since", "x"}}, 400, "since"},
      {{{"since", "-1"}}, 400, "since"},
      {{{"since", "7"}}, 410, "since"},
      {{{"timeout", "90"}}, 400, "timeout"},
      {{{"timeout", "11m"}}, 400, "timeout"},
      {{{"clusterID", "NO"}}, 400, "clusterID"},
  };
  for (const auto& row : rows) {
    auto bad = a.call("GET", "/api/v1/events", "", row.query);
    CAPTURE(bad.body);
    CHECK(bad.status == row.status);
    CHECK(a.json(bad)["error"]["field"] == row.field);
  }
}

TEST_CASE("advertisements: lists sorted by id, a lower generation noted") {
  ApiFixture a;
  a.advertise(k_paris);
  a.advertise(R"({"clusterID": "berlin", "generation": 1,
    "resources": {"allocatable": {"cpu": "8", "memory": "8Gi"}}})");
  auto list = a.json(a.call("GET", "/api/v1/advertisements"));
  REQUIRE(list["items"].size() == 2);
  CHECK(list["items"][0]["clusterID"] == "berlin");
  CHECK(list["items"][1]["clusterID"] == "paris");
  CHECK(list["items"][1]["state"] == "Ready");

  auto older = a.call("POST", "/api/v1/advertisements",
                      R"({"clusterID": "paris", "generation": 2})");
  CHECK(older.status == 200);
  CHECK(a.json(older)["ignored"] == true);
  CHECK(a.json(older)["generation"] == 3);

  auto cordoned = a.json(a.call("POST", "/api/v1/clusters/paris/cordon"));
  CHECK(cordoned["state"] == "Cordoned");
  CHECK(a.json(a.call("POST", "/api/v1/clusters/paris/uncordon"))["state"] ==
        "Ready");
  auto explained = a.json(a.call("POST", "/api/v1/explain", k_request));
  CHECK(explained["chosen"] == "paris");
  CHECK(explained["rows"].size() == 2);
}

} // namespace lrb::daemon
