#include <doctest/doctest.h>

#include "core/json.h"
#include "daemon/api.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using core::Json;
using testing::BrokerFixture;

const char* const k_tokens = "admin-token-0000000000 root admin\n"
                             "oper-token-0000000000 alice operator\n"
                             "view-token-0000000000 grafana viewer\n"
                             "rome-token-0000000000 rome agent\n";

// An Api that checks tokens and client certificates.
struct AuthApiFixture {
  BrokerFixture f;
  Api api{*f.broker,
          Authenticator({parse_tokens(k_tokens, "tokens"), true, false})};

  ApiResponse call(const std::string& token, const std::string& method,
                   const std::string& path, const std::string& body = "",
                   std::multimap<std::string, std::string> query = {}) {
    ApiRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    req.query = std::move(query);
    if (!token.empty()) {
      req.headers["authorization"] = "Bearer " + token + "-token-0000000000";
    }
    return api.handle(req);
  }

  std::string ad(const std::string& id) {
    return R"({"clusterID": ")" + id + R"(", "generation": 1,
      "resources": {"allocatable": {"cpu": "32", "memory": "128Gi"},
                    "available": {"cpu": "24", "memory": "96Gi"}}})";
  }

  // Returns the id of a new reservation of `requester` on `provider`.
  std::string reserve(const std::string& requester,
                      const std::string& provider) {
    auto r = call("admin", "POST", "/api/v1/reservations",
                  R"({"requesterID": ")" + requester +
                      R"(", "targetClusterID": ")" + provider +
                      R"(", "requestedResources": {"cpu": "1",
                      "memory": "1Gi"}})");
    REQUIRE(r.status == 201);
    return Json::parse(r.body)["id"].get<std::string>();
  }
};

std::string error_code(const ApiResponse& r) {
  return Json::parse(r.body)["error"].value("code", "");
}

} // namespace

TEST_CASE("no credentials is 401 with WWW-Authenticate; health stays open") {
  AuthApiFixture a;
  for (const char* path : {"/healthz", "/readyz", "/version", "/metrics"}) {
    CAPTURE(path);
    CHECK(a.call("", "GET", path).status == 200);
  }
  auto r = a.call("", "GET", "/api/v1/clusters");
  CHECK(r.status == 401);
  CHECK(error_code(r) == "Unauthenticated");
  bool challenged = false;
  for (const auto& [name, value] : r.headers) {
    challenged |= name == "WWW-Authenticate" && value.starts_with("Bearer");
  }
  CHECK(challenged);
  CHECK(a.call("nobody", "GET", "/api/v1/clusters").status == 401);
}

TEST_CASE("each role gets its own answer from each endpoint") {
  AuthApiFixture a;
  REQUIRE(
      a.call("admin", "POST", "/api/v1/advertisements", a.ad("paris")).status ==
      200);
  struct Row {
    const char* token;
    const char* method;
    const char* path;
    bool with_ad; // body: rome's advertisement
    int status;
  };
  const Row rows[] = {
      {"view", "GET", "/api/v1/clusters", false, 200},
      {"view", "POST", "/api/v1/advertisements", true, 403},
      {"view", "POST", "/api/v1/clusters/paris/cordon", false, 403},
      {"rome", "POST", "/api/v1/advertisements", true, 200},
      {"rome", "POST", "/api/v1/clusters/paris/cordon", false, 403},
      {"oper", "POST", "/api/v1/advertisements", true, 403},
      {"oper", "POST", "/api/v1/clusters/paris/cordon", false, 200},
      {"oper", "POST", "/api/v1/clusters/paris/uncordon", false, 200},
      {"admin", "POST", "/api/v1/advertisements", true, 200},
  };
  for (const auto& row : rows) {
    CAPTURE(row.token);
    CAPTURE(row.path);
    auto r = a.call(row.token, row.method, row.path,
                    row.with_ad ? a.ad("rome") : "");
    CHECK(r.status == row.status);
    if (row.status == 403) {
      CHECK(error_code(r) == "PermissionDenied");
      CHECK(Json::parse(r.body)["error"]["message"].get<std::string>().find(
                "may not") != std::string::npos);
    }
  }
}

TEST_CASE("an agent sees and acts only where its cluster takes part") {
  AuthApiFixture a;
  for (const char* id : {"paris", "berlin", "rome"}) {
    REQUIRE(
        a.call("admin", "POST", "/api/v1/advertisements", a.ad(id)).status ==
        200);
  }
  auto mine = a.reserve("rome", "paris");
  auto theirs = a.reserve("paris", "berlin");
  auto provided = a.reserve("paris", "rome");

  // Publishing or reserving as paris is refused.
  CHECK(
      a.call("rome", "POST", "/api/v1/advertisements", a.ad("paris")).status ==
      403);
  CHECK(a.call("rome", "POST", "/api/v1/reservations",
               R"({"requesterID": "paris", "requestedResources":
                   {"cpu": "1", "memory": "1Gi"}})")
            .status == 403);
  // Its own reservation it reads and releases; paris's it may not touch.
  CHECK(a.call("rome", "GET", "/api/v1/reservations/" + mine).status == 200);
  CHECK(a.call("rome", "GET", "/api/v1/reservations/" + theirs).status == 403);
  // paris's reservation on rome rome sees, as its provider, but it is
  // paris's to release.
  CHECK(a.call("rome", "GET", "/api/v1/reservations/" + provided).status ==
        200);
  CHECK(a.call("rome", "POST", "/api/v1/reservations/" + provided + "/release")
            .status == 403);
  CHECK(a.call("rome", "POST", "/api/v1/reservations/" + theirs + "/release")
            .status == 403);
  CHECK(a.call("rome", "GET", "/api/v1/reservations", "",
               {{"clusterID", "paris"}})
            .status == 403);
  CHECK(a.call("rome", "GET", "/api/v1/events", "", {{"clusterID", "paris"}})
            .status == 403);

  // The listing holds only reservations rome takes part in.
  auto list = Json::parse(a.call("rome", "GET", "/api/v1/reservations").body);
  for (const auto& r : list["items"]) {
    CHECK((r["requesterID"] == "rome" || r["targetClusterID"] == "rome"));
  }
  // Its own and the one it provides: 2 of the 3.
  CHECK(list["items"].size() == 2);
  CHECK(a.call("rome", "POST", "/api/v1/reservations/" + mine + "/release")
            .status == 200);
  // A viewer reads everything and changes nothing.
  auto all = Json::parse(a.call("view", "GET", "/api/v1/reservations").body);
  CHECK(all["items"].size() == 3);
  CHECK(a.call("view", "POST", "/api/v1/reservations/" + theirs + "/release")
            .status == 403);
  CHECK(a.call("oper", "POST", "/api/v1/reservations/" + theirs + "/release")
            .status == 200);
}

TEST_CASE("a certificate identifies the caller when no token is sent") {
  AuthApiFixture a;
  ApiRequest req;
  req.method = "POST";
  req.path = "/api/v1/advertisements";
  req.body = a.ad("rome");
  req.ctx.peer = PeerCertificate{"rome", "rome", {"lrb:agent"}};
  CHECK(a.api.handle(req).status == 200);
  req.body = a.ad("paris");
  auto r = a.api.handle(req);
  CHECK(r.status == 403);
  CHECK(r.subject == "rome (agent:rome)");
}

TEST_CASE("/metrics needs credentials when protected") {
  BrokerFixture f;
  Api api{*f.broker,
          Authenticator({parse_tokens(k_tokens, "tokens"), false, true})};
  ApiRequest req;
  req.method = "GET";
  req.path = "/metrics";
  CHECK(api.handle(req).status == 401);
  req.headers["authorization"] = "Bearer view-token-0000000000";
  CHECK(api.handle(req).status == 200);
  req.path = "/healthz";
  req.headers.clear();
  CHECK(api.handle(req).status == 200);
}

} // namespace lrb::daemon
