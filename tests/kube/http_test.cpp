// Tests of the HTTP(S) client against real httplib servers on 127.0.0.1
// (and ::1 when the machine has it), with certificates made per test.
#include <string>

#include <doctest/doctest.h>

#include "core/error.h"
#include "kube/http.h"
#include "kube/test_support.h"

namespace lrb::kube {

using core::Code;
using core::Error;
using testing::Pki;
using testing::ServerThread;
using testing::TempDir;

namespace {

// Echoes what the server saw: method, path, query, auth, body, type.
void echo_handler(const httplib::Request& req, httplib::Response& res) {
  std::string query;
  for (const auto& [key, value] : req.params) {
    query += key + "=" + value + ";";
  }
  res.set_header("X-Seen-Path", req.path);
  res.set_header("X-Seen-Query", query);
  res.set_header("X-Seen-Auth", req.get_header_value("Authorization"));
  res.set_header("X-Seen-Host", req.get_header_value("Host"));
  res.set_header("X-Seen-Type", req.get_header_value("Content-Type"));
  res.set_header("X-Seen-Agent", req.get_header_value("User-Agent"));
  res.set_header("X-Seen-Cn", testing::peer_common_name(req));
  res.set_content(req.method + " " + req.body, "text/plain");
}

void serve_echo(httplib::Server& server) {
  server.Get(".*", echo_handler);
  server.Post(".*", echo_handler);
  server.Delete(".*", echo_handler);
}

std::string url(const std::string& scheme, int port,
                const std::string& rest = "") {
  return scheme + "://127.0.0.1:" + std::to_string(port) + rest;
}

// Returns options for `base_url` with everything else defaulted.
HttpOptions options_for(const std::string& base_url) {
  HttpOptions options;
  options.base_url = base_url;
  return options;
}

// Returns the message of the Error(code) thrown by `fn`.
template <typename Fn>
std::string error_of(Fn&& fn, Code code) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(e.code() == code);
    return e.what();
  }
  FAIL("no error thrown");
  return {};
}

} // namespace

TEST_CASE("plain http: prefix, query, body, headers and bearer token") {
  httplib::Server server;
  serve_echo(server);
  ServerThread thread(server);
  REQUIRE(thread.port() > 0);

  HttpOptions options;
  options.base_url = url("http", thread.port(), "/prefix/");
  options.bearer_token = "s3cret";
  HttpClient client(options);
  CHECK(client.base_url() == options.base_url);

  HttpResponse get = client.request("GET", "/api/v1/pods?limit=2&continue=" +
                                               url_encode("a b/c"));
  CHECK(get.status == 200);
  CHECK(get.body == "GET ");
  // The prefix's trailing '/' is dropped so paths join with one '/'.
  CHECK(get.header("x-seen-path") == "/prefix/api/v1/pods");
  CHECK(get.header("X-Seen-Query") == "continue=a b/c;limit=2;");
  CHECK(get.header("x-seen-auth") == "Bearer s3cret");
  CHECK(get.header("x-seen-agent") == "lrb");
  CHECK(get.header("x-seen-host") ==
        "127.0.0.1:" + std::to_string(thread.port()));
  CHECK(get.header("no-such-header").empty());

  HttpResponse post = client.request("POST", "/things", R"({"a":1})");
  CHECK(post.body == R"(POST {"a":1})");
  CHECK(post.header("x-seen-type") == "application/json");

  client.set_bearer_token("");
  HttpResponse anonymous = client.request("DELETE", "/things/x");
  CHECK(anonymous.body == "DELETE ");
  CHECK(anonymous.header("x-seen-auth").empty());
}

TEST_CASE("any status is returned, not thrown") {
  httplib::Server server;
  server.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"kind":"Status"})", "application/json");
  });
  ServerThread thread(server);
  REQUIRE(thread.port() > 0);
  HttpClient client(options_for(url("http", thread.port())));
  HttpResponse res = client.request("GET", "/missing");
  CHECK(res.status == 404);
  CHECK(res.body == R"({"kind":"Status"})");
  CHECK(res.header("content-type") == "application/json");
}

TEST_CASE("an IPv6 host is bracketed in the URL and the Host header") {
  httplib::Server server;
  serve_echo(server);
  ServerThread thread(server, "::1");
  if (thread.port() <= 0) {
    MESSAGE("::1 is not available here; skipping");
    return;
  }
  std::string port = std::to_string(thread.port());
  HttpClient client(options_for("http://[::1]:" + port));
  HttpResponse res = client.request("GET", "/version");
  CHECK(res.status == 200);
  CHECK(res.header("x-seen-host") == "[::1]:" + port);
}

TEST_CASE("https over IPv6 checks the IP subjectAltNames") {
  // The default test certificate names 127.0.0.1 and ::1; the second one
  // names only 127.0.0.1, so reaching it as ::1 is a mismatch.
  for (const char* san : {"IP:127.0.0.1,IP:::1", "IP:127.0.0.1"}) {
    INFO(std::string(san));
    Pki pki = Pki::make(san);
    auto server = testing::make_tls_server(pki.server);
    serve_echo(*server);
    ServerThread thread(*server, "::1");
    if (thread.port() <= 0) {
      MESSAGE("::1 is not available here; skipping");
      return;
    }
    HttpOptions options =
        options_for("https://[::1]:" + std::to_string(thread.port()));
    options.tls.ca_pem = pki.ca.cert_pem;
    if (std::string(san).find("::1") != std::string::npos) {
      CHECK(HttpClient(options).request("GET", "/x").status == 200);
    } else {
      std::string message = error_of(
          [&] { HttpClient(options).request("GET", "/x"); }, Code::unavailable);
      CHECK(message.ends_with("certificate verify failed: IP address "
                              "mismatch"));
    }
  }
}

TEST_CASE("https: the CA from memory or a file verifies the server") {
  Pki pki = Pki::make();
  auto server = testing::make_tls_server(pki.server);
  serve_echo(*server);
  ServerThread thread(*server);
  REQUIRE(thread.port() > 0);
  TempDir dir;

  SUBCASE("CA in memory") {
    HttpOptions options = options_for(url("https", thread.port()));
    options.tls.ca_pem = pki.ca.cert_pem;
    CHECK(HttpClient(options).request("GET", "/x").status == 200);
  }
  SUBCASE("CA file") {
    HttpOptions options = options_for(url("https", thread.port()));
    options.tls.ca_file = dir.write("ca.crt", pki.ca.cert_pem);
    CHECK(HttpClient(options).request("GET", "/x").status == 200);
  }
  SUBCASE("a CA bundle with an unrelated CA first") {
    HttpOptions options = options_for(url("https", thread.port()));
    options.tls.ca_pem = Pki::make().ca.cert_pem + pki.ca.cert_pem;
    CHECK(HttpClient(options).request("GET", "/x").status == 200);
  }
  SUBCASE("insecure skips verification") {
    HttpOptions options = options_for(url("https", thread.port()));
    options.tls.insecure_skip_verify = true;
    CHECK(HttpClient(options).request("GET", "/x").status == 200);
  }
}

TEST_CASE("https: verification failures say so and name the origin") {
  Pki pki = Pki::make();
  auto server = testing::make_tls_server(pki.server);
  serve_echo(*server);
  ServerThread thread(*server);
  REQUIRE(thread.port() > 0);
  std::string origin = url("https", thread.port());

  SUBCASE("another CA") {
    HttpOptions options = options_for(origin);
    options.tls.ca_pem = Pki::make().ca.cert_pem;
    HttpClient client(options);
    std::string message =
        error_of([&] { client.request("GET", "/x"); }, Code::unavailable);
    CHECK(message.starts_with("cannot reach " + origin + ": "));
    CHECK(message.find("certificate verify failed") != std::string::npos);
  }
  SUBCASE("no CA: the system roots do not know the test CA") {
    HttpClient client(options_for(origin));
    std::string message =
        error_of([&] { client.request("GET", "/x"); }, Code::unavailable);
    CHECK(message.find("certificate verify failed") != std::string::npos);
  }
}

TEST_CASE("https: the server name is checked, tls-server-name overrides") {
  // A certificate that names only kube.internal, served on 127.0.0.1.
  Pki pki = Pki::make("DNS:kube.internal");
  auto server = testing::make_tls_server(pki.server);
  serve_echo(*server);
  ServerThread thread(*server);
  REQUIRE(thread.port() > 0);
  HttpOptions options = options_for(url("https", thread.port()));
  options.tls.ca_pem = pki.ca.cert_pem;

  std::string message = error_of(
      [&] { HttpClient(options).request("GET", "/x"); }, Code::unavailable);
  CHECK(message.find("certificate verify failed") != std::string::npos);
  CHECK(message.find("mismatch") != std::string::npos);

  options.tls.server_name = "kube.internal";
  HttpResponse res = HttpClient(options).request("GET", "/x");
  CHECK(res.status == 200);
  // The Host header still names the URL that was dialled.
  CHECK(res.header("x-seen-host") ==
        "127.0.0.1:" + std::to_string(thread.port()));
}

TEST_CASE("https: client certificates from memory or files") {
  Pki pki = Pki::make();
  auto server = testing::make_tls_server(pki.server, pki.ca.cert_pem);
  serve_echo(*server);
  ServerThread thread(*server);
  REQUIRE(thread.port() > 0);
  TempDir dir;
  HttpOptions options = options_for(url("https", thread.port()));
  options.tls.ca_pem = pki.ca.cert_pem;

  SUBCASE("without one the handshake is refused") {
    error_of([&] { HttpClient(options).request("GET", "/x"); },
             Code::unavailable);
  }
  SUBCASE("in memory") {
    options.tls.cert_pem = pki.client.cert_pem;
    options.tls.key_pem = pki.client.key_pem;
    CHECK(HttpClient(options).request("GET", "/x").header("x-seen-cn") ==
          "alice");
  }
  SUBCASE("files") {
    options.tls.cert_file = dir.write("client.crt", pki.client.cert_pem);
    options.tls.key_file = dir.write("client.key", pki.client.key_pem);
    CHECK(HttpClient(options).request("GET", "/x").header("x-seen-cn") ==
          "alice");
  }
}

TEST_CASE("bad TLS material is invalid_argument naming the field") {
  Pki pki = Pki::make();
  struct Row {
    const char* name;
    std::string TlsOptions::*member;
    std::string value;
    std::string TlsOptions::*member2;
    std::string value2;
    const char* field;
  };
  const Row rows[] = {
      {"missing CA file", &TlsOptions::ca_file, "/nonexistent/ca.crt", nullptr,
       "", "tls.ca"},
      {"CA without a certificate", &TlsOptions::ca_pem, "not pem", nullptr, "",
       "tls.ca"},
      {"certificate without key", &TlsOptions::cert_pem, pki.client.cert_pem,
       nullptr, "", "tls.key"},
      {"key without certificate", &TlsOptions::key_pem, pki.client.key_pem,
       nullptr, "", "tls.cert"},
      {"garbage certificate", &TlsOptions::cert_pem, "x", &TlsOptions::key_pem,
       "y", "tls.cert"},
      {"key of another certificate", &TlsOptions::cert_pem, pki.client.cert_pem,
       &TlsOptions::key_pem, pki.server.key_pem, "tls.key"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    HttpOptions options = options_for("https://127.0.0.1:1");
    options.tls.*row.member = row.value;
    if (row.member2 != nullptr) {
      options.tls.*row.member2 = row.value2;
    }
    try {
      HttpClient client(options);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Code::invalid_argument);
      CHECK(e.field() == row.field);
    }
  }
}

TEST_CASE("bad base URLs are invalid_argument") {
  const char* urls[] = {
      "127.0.0.1:6443",          // no scheme
      "ftp://127.0.0.1",         // not http(s)
      "https://",                // no host
      "https://:6443",           // no host before the port
      "https://[::1",            // unclosed bracket
      "https://[::1]x",          // junk after the bracket
      "https://127.0.0.1:0",     // port 0
      "https://127.0.0.1:65536", // port over 65535
      "https://127.0.0.1:64x",   // port not a number
      "https://127.0.0.1/a?b=c", // query in a base URL
  };
  for (const char* bad : urls) {
    INFO(std::string(bad));
    std::string message =
        error_of([&] { HttpClient(options_for(bad)); }, Code::invalid_argument);
    CHECK(message.find(bad) != std::string::npos);
  }
}

TEST_CASE("a refused connection is unavailable with the origin") {
  // Bind a port without listening, then free it, so nothing answers.
  int port = testing::unused_port();
  REQUIRE(port > 0);
  HttpClient client(options_for(url("http", port, "/p")));
  std::string message =
      error_of([&] { client.request("GET", "/x"); }, Code::unavailable);
  CHECK(message.starts_with(
      "cannot reach http://127.0.0.1:" + std::to_string(port) + ": "));
}

TEST_CASE("a slow server times out as unavailable") {
  httplib::Server server;
  server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("late", "text/plain");
  });
  ServerThread thread(server);
  REQUIRE(thread.port() > 0);
  HttpOptions options = options_for(url("http", thread.port()));
  options.read_timeout = std::chrono::milliseconds(150);
  HttpClient client(options);
  error_of([&] { client.request("GET", "/slow"); }, Code::unavailable);
}

TEST_CASE("url_encode keeps unreserved characters only") {
  struct Row {
    const char* in;
    const char* out;
  };
  const Row rows[] = {
      {"abcXYZ019-._~", "abcXYZ019-._~"}, // RFC 3986 unreserved
      {"a b", "a%20b"},                   // space is 0x20
      {"k=v&x", "k%3Dv%26x"},             // '=' 0x3D, '&' 0x26
      {"app in (a,b)", "app%20in%20%28a%2Cb%29"},
      {"\xC3\xA9", "%C3%A9"}, // UTF-8 bytes one by one
      {"", ""},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.in));
    CHECK(url_encode(row.in) == row.out);
  }
}

} // namespace lrb::kube
