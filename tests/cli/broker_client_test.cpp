#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/broker_client.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

// Returns a port of 127.0.0.1 that was just free and is now closed, so a
// connection to it is refused.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

} // namespace

TEST_CASE("an API error keeps the broker's code, message and field") {
  const std::string body =
      R"({"error":{"code":"InvalidTransition","message":"reservation )"
      R"(r-1 is Released, not Reserved or Active","field":"status.phase"}})";
  const core::Error e = response_error(409, body, "release r-1");
  CHECK(e.code() == core::Code::conflict); // exit 4
  CHECK(std::string(e.what()) ==
        "release r-1: reservation r-1 is Released, not Reserved or Active");
  CHECK(e.field() == "status.phase");
  CHECK(e.reason() == "InvalidTransition");
}

TEST_CASE("the status decides the code, with or without an API body") {
  struct Row {
    int status;
    const char* body;
    core::Code code;
    const char* message;
  };
  const Row rows[] = {
      {404, R"({"error":{"code":"NotFound","message":"no reservation r-9"}})",
       core::Code::not_found, "get reservation r-9: no reservation r-9"},
      {400, R"({"error":{"code":"InvalidQuantity","message":"bad cpu"}})",
       core::Code::invalid_argument, "get reservation r-9: bad cpu"},
      {503, "<html>busy</html>", core::Code::unavailable,
       "get reservation r-9: the broker answered HTTP 503: <html>busy</html>"},
      {500, "", core::Code::internal,
       "get reservation r-9: the broker answered HTTP 500: (no body)"},
      {502, R"({"error":{}})", core::Code::internal,
       R"(get reservation r-9: the broker answered HTTP 502: {"error":{}})"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.status);
    const core::Error e =
        response_error(row.status, row.body, "get reservation r-9");
    CHECK(e.code() == row.code);
    CHECK(std::string(e.what()) == row.message);
  }
}

TEST_CASE("a long error page is cut to its start") {
  const std::string page(1000, 'x');
  const core::Error e = response_error(500, page, "list clusters");
  // 200 characters of the page, then "..."
  CHECK(std::string(e.what()) == "list clusters: the broker answered HTTP "
                                 "500: " +
                                     std::string(200, 'x') + "...");
}

TEST_CASE("reservation filters become the broker's query parameters") {
  CHECK(reservation_query({}).empty());
  CHECK(reservation_query({"rome", "", ""}) == "?requesterID=rome");
  CHECK(reservation_query({"", "paris", "Reserved,Active"}) ==
        "?targetClusterID=paris&phase=Reserved%2CActive");
}

TEST_CASE("globals become HTTP options, TLS and token included") {
  Globals g;
  g.broker = "https://broker.example:7443";
  g.ca = "/etc/lrb/ca.pem";
  g.cert = "/etc/lrb/client.pem";
  g.key = "/etc/lrb/client.key";
  g.token = "t0ken";
  g.insecure_skip_tls_verify = true;
  const auto o = http_options(g);
  CHECK(o.base_url == "https://broker.example:7443");
  CHECK(o.tls.ca_file == "/etc/lrb/ca.pem");
  CHECK(o.tls.cert_file == "/etc/lrb/client.pem");
  CHECK(o.tls.key_file == "/etc/lrb/client.key");
  CHECK(o.tls.insecure_skip_verify);
  CHECK(o.bearer_token == "t0ken");
  // A watch is held open up to 30 s; the client waits longer.
  CHECK(o.read_timeout > std::chrono::seconds(30));
}

TEST_CASE("an unreachable broker is exit 5 with the URL and the way out") {
  Globals g;
  g.broker = "http://127.0.0.1:" + std::to_string(closed_port());
  g.broker_source = "LRB_BROKER";
  BrokerClient client(g);
  try {
    client.clusters();
    FAIL("a closed port must not answer");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::Code::unavailable);
    CHECK(core::exit_code(e.code()) == 5);
    const std::string message = e.what();
    CHECK(message.rfind("list clusters: cannot reach " + g.broker, 0) == 0);
    CHECK(message.find("the URL came from LRB_BROKER") != std::string::npos);
    CHECK(message.find("--broker or LRB_BROKER") != std::string::npos);
  }
}

} // namespace lrb::cli
