// The broker's HTTP transport: the one place of lrb that runs an HTTP
// server. It turns connections into ApiRequests for the Api and enforces
// what must be enforced before a handler runs: TLS and the verification
// of client certificates, body, URL and header limits, the connection
// thread pool, keep-alive, request metrics and logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/api.h"
#include "daemon/metrics.h"

namespace lrb::daemon {

// How the server listens and what it allows.
struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 7070; // 0 picks an ephemeral port
  std::size_t max_body = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 64 * 1024; // all header lines together
  // Connection threads: `workers` are started at once; more are started
  // on demand up to workers + max_watchers, so parked watchers and idle
  // keep-alive connections never starve API requests of a thread. Set
  // max_watchers to at least the broker's own bound (BrokerConfig).
  int workers = 16;
  int max_watchers = 512;
  int keep_alive_seconds = 3;
  int io_timeout_seconds = 10; // reading a request, writing a response
  int listen_backlog = 1024;
  // TLS: with a certificate and key the server speaks only HTTPS. With
  // a client CA it asks for a client certificate and refuses one the CA
  // did not sign; a client without one may still send a bearer token.
  std::string tls_cert; // PEM chain, the server's certificate first
  std::string tls_key;  // PEM private key
  std::string client_ca;
};

// An HTTP server for one Api. bind() then serve() (blocking) on one
// thread; stop() from any thread.
class HttpServer {
public:
  // Serves `api`; loads the TLS files when given, throwing
  // Error(invalid_argument) naming the flag (--tls-cert, --tls-key,
  // --client-ca) of a file that cannot be read or does not match.
  HttpServer(Api& api, Metrics& metrics, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; returns the bound port. Throws Error(unavailable)
  // naming the address when the port cannot be bound.
  int bind();

  // Accepts and serves connections until stop(); returns after in-flight
  // requests have finished.
  void serve();

  // Stops accepting; serve() then drains and returns. Thread-safe.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One response of a SimpleHttpServer handler.
struct SimpleResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Answers one request from its method and path (without the query).
using SimpleHandler =
    std::function<SimpleResponse(const std::string&, const std::string&)>;

// A small plain-HTTP server for a process that is not the broker (the
// agent's /healthz and /metrics): a few threads, no TLS, no bodies, no
// Api. bind() then serve() (blocking) on one thread; stop() from any.
class SimpleHttpServer {
public:
  // Serves `handler` on host:port (port 0 picks one) with `threads`
  // connection threads.
  SimpleHttpServer(std::string host, int port, SimpleHandler handler,
                   int threads = 2);
  ~SimpleHttpServer();
  SimpleHttpServer(const SimpleHttpServer&) = delete;
  SimpleHttpServer& operator=(const SimpleHttpServer&) = delete;

  // Binds and listens; returns the bound port. Throws Error(unavailable)
  // naming the address when the port cannot be bound.
  int bind();

  // Serves until stop() has been called, whether before or during it.
  void serve();

  // Stops serving; serve() then returns. Thread-safe.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes `port` and a newline to `path` through a rename, so a reader
// never sees a half-written file; throws Error(unavailable) naming
// `flag` (--port-file, --metrics-port-file) when it cannot.
void write_port_file(const std::string& path, int port,
                     const std::string& flag);

} // namespace lrb::daemon
