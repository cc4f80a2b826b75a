#include <thread>

#include <doctest/doctest.h>

#include "core/json.h"
#include "daemon/certs.h"
#include "daemon/http_server.h"
#include "daemon_support.h"
#include "kube/http.h"

namespace lrb::daemon {

namespace {

// A fleet PKI made with the certs module: a CA, a server certificate for
// 127.0.0.1, rome's client certificate, and a client certificate from
// another CA.
struct Pki {
  testing::TempDir tmp;
  std::string dir = tmp.file("pki");
  std::string other = tmp.file("other");

  Pki() {
    init_ca({dir, "fleet CA", 30, false});
    IssueOptions server;
    server.dir = dir;
    server.server = true;
    server.ips = {"127.0.0.1"};
    issue_certificate(server);
    IssueOptions rome;
    rome.dir = dir;
    rome.name = "rome";
    issue_certificate(rome);
    init_ca({other, "other CA", 30, false});
    rome.dir = other;
    issue_certificate(rome);
  }
};

// A broker served over TLS with client certificates and one token.
struct TlsServer {
  Pki pki;
  testing::BrokerFixture f;
  Api api{*f.broker,
          Authenticator(
              {parse_tokens("viewer-token-000000000 grafana viewer\n", "t"),
               true, false})};
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  int port = 0;

  TlsServer() {
    HttpServerOptions o;
    o.port = 0;
    o.workers = 2;
    o.max_watchers = 2;
    o.tls_cert = pki.dir + "/server.crt";
    o.tls_key = pki.dir + "/server.key";
    o.client_ca = pki.dir + "/ca.crt";
    server = std::make_unique<HttpServer>(api, f.metrics, o);
    port = server->bind();
    thread = std::thread([this] { server->serve(); });
  }
  ~TlsServer() {
    f.broker->shutdown();
    server->stop();
    thread.join();
  }

  // Returns a client trusting the fleet CA, with the pair `stem` of
  // `dir` when given.
  kube::HttpOptions client(const std::string& dir = {},
                           const std::string& stem = {}) const {
    kube::HttpOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(port);
    o.tls.ca_file = pki.dir + "/ca.crt";
    if (!stem.empty()) {
      o.tls.cert_file = dir + "/" + stem + ".crt";
      o.tls.key_file = dir + "/" + stem + ".key";
    }
    return o;
  }
};

const char* const k_rome_ad = R"({"clusterID": "rome", "generation": 1,
  "resources": {"allocatable": {"cpu": "8", "memory": "32Gi"},
                "available": {"cpu": "6", "memory": "24Gi"}}})";

} // namespace

TEST_CASE("over mTLS the client certificate is the caller's identity") {
  TlsServer s;
  kube::HttpClient rome(s.client(s.pki.dir, "rome"));
  auto r = rome.request("POST", "/api/v1/advertisements", k_rome_ad);
  CHECK(r.status == 200);
  // rome may not speak for paris: its identity came from the certificate.
  std::string paris = k_rome_ad;
  paris.replace(paris.find("rome"), 4, "paris");
  r = rome.request("POST", "/api/v1/advertisements", paris);
  CHECK(r.status == 403);
  CHECK(r.body.find("rome (agent:rome)") != std::string::npos);
}

TEST_CASE("over TLS a client without a certificate needs a token") {
  TlsServer s;
  kube::HttpClient anonymous(s.client());
  CHECK(anonymous.request("GET", "/healthz").status == 200);
  auto r = anonymous.request("GET", "/api/v1/clusters");
  CHECK(r.status == 401);
  CHECK(r.header("www-authenticate").starts_with("Bearer"));
  auto with_token = s.client();
  with_token.bearer_token = "viewer-token-000000000";
  CHECK(
      kube::HttpClient(with_token).request("GET", "/api/v1/clusters").status ==
      200);
}

TEST_CASE("a certificate from another CA fails the handshake") {
  TlsServer s;
  kube::HttpClient stranger(s.client(s.pki.other, "rome"));
  try {
    stranger.request("GET", "/api/v1/clusters");
    FAIL("the request went through");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::Code::unavailable);
  }
  // The server keeps serving good clients.
  kube::HttpClient rome(s.client(s.pki.dir, "rome"));
  CHECK(rome.request("GET", "/api/v1/clusters").status == 200);
}

TEST_CASE("bad TLS files stop the server with the flag named") {
  Pki pki;
  testing::BrokerFixture f;
  Api api{*f.broker};
  struct Row {
    std::string cert, key, ca;
    const char* field;
  };
  const Row rows[] = {
      {pki.dir + "/nope.crt", pki.dir + "/server.key", "", "--tls-cert"},
      {pki.dir + "/server.crt", pki.dir + "/nope.key", "", "--tls-key"},
      // rome's key is not the server certificate's.
      {pki.dir + "/server.crt", pki.dir + "/rome.key", "", "--tls-key"},
      {pki.dir + "/server.crt", "", "", "--tls-key"},
      {pki.dir + "/server.crt", pki.dir + "/server.key", pki.dir + "/no.crt",
       "--client-ca"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.field);
    HttpServerOptions o;
    o.port = 0;
    o.tls_cert = row.cert;
    o.tls_key = row.key;
    o.client_ca = row.ca;
    try {
      HttpServer server(api, f.metrics, o);
      FAIL("the server was made");
    } catch (const core::Error& e) {
      CHECK(e.code() == core::Code::invalid_argument);
      CHECK(e.field() == row.field);
    }
  }
}

} // namespace lrb::daemon
