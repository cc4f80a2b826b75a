// cpp-httplib gives one thread per connection for the connection's whole
// life, keep-alive included, and its stock pool is a fixed size: a few
// idle keep-alive clients or parked watchers would then starve everyone
// else. So the server gets its own task queue, which starts threads on
// demand up to workers + max-watchers (the broker refuses to park more
// watchers than that, answering them at once), and keep-alive is short.
//
// Limits are enforced where httplib allows: the body limit through
// set_payload_max_length (413), an over-long request line by httplib
// itself (414), an over-long header line by httplib as a bare 400 that
// the error handler recognises and reports as 431, and the total size
// of the headers in the pre-routing handler (431). Every response the
// library makes on its own gets the same JSON error body as ours.
//
// TLS is httplib's SSLServer with an SSL_CTX set up here rather than by
// the library: TLS 1.2 at least, and a client CA that asks for a client
// certificate without requiring one (SSL_VERIFY_PEER alone), because a
// person with a bearer token has none; a certificate that is offered
// must verify, or the handshake fails. The verified certificate's names
// travel to the Api in the RequestContext, which decides who it is.
#include "daemon/http_server.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/quoting.h"
#include "daemon/certs.h"

namespace lrb::daemon {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// What the transport knows about the request this thread is serving.
// httplib serves a connection's requests one after another on one
// thread, so a thread_local is exactly per request; the logger resets
// it after every response.
struct RequestState {
  bool routed = false; // the pre-routing handler saw this request
  SteadyTime start{};
  std::string route = "unmatched";
  std::string subject; // who the Api found the caller to be
};
thread_local RequestState t_state;

// A task queue that grows: `min` threads at once, one more whenever a
// connection arrives and none is idle, up to `max`. Threads stay until
// shutdown, which lets every in-flight request finish.
class GrowingPool : public httplib::TaskQueue {
public:
  GrowingPool(std::size_t min, std::size_t max) : max_(std::max(min, max)) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < min; ++i) {
      spawn();
    }
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(fn));
      if (jobs_.size() > idle_ && threads_.size() < max_) {
        spawn();
      }
    }
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      t.join();
    }
  }

private:
  void spawn() {
    threads_.emplace_back([this] { work(); });
  }

  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        ++idle_;
        cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
        --idle_;
        if (jobs_.empty()) {
          return; // shutting down with nothing left to do
        }
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool shutdown_ = false;
};

// httplib's server (plain or TLS), with access to its listening socket
// so the backlog can be raised above the library's compiled-in 5.
template <class Base>
class Listening : public Base {
public:
  using Base::Base;
  void set_backlog(int backlog) { ::listen(this->svr_sock_, backlog); }
};

// Why the TLS set-up failed: the flag at fault and OpenSSL's reason.
struct TlsFailure {
  std::string flag;
  std::string why;
};

bool tls_failed(TlsFailure& failure, std::string flag, std::string why) {
  unsigned long code = ERR_get_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  failure = {std::move(flag), reason != nullptr
                                  ? fmt::format("{}: {}", why, reason)
                                  : std::move(why)};
  return false;
}

// Sets up the server's SSL_CTX; returns false with `failure` filled.
bool setup_tls(SSL_CTX& ctx, const HttpServerOptions& o, TlsFailure& failure) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(&ctx, o.tls_cert.c_str()) != 1) {
    return tls_failed(
        failure, "--tls-cert",
        fmt::format("cannot load the certificate {}", o.tls_cert));
  }
  if (SSL_CTX_use_PrivateKey_file(&ctx, o.tls_key.c_str(), SSL_FILETYPE_PEM) !=
      1) {
    return tls_failed(failure, "--tls-key",
                      fmt::format("cannot load the key {}", o.tls_key));
  }
  if (SSL_CTX_check_private_key(&ctx) != 1) {
    return tls_failed(
        failure, "--tls-key",
        fmt::format("{} is not the key of {}", o.tls_key, o.tls_cert));
  }
  if (o.client_ca.empty()) {
    return true;
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca.c_str());
  if (names == nullptr ||
      SSL_CTX_load_verify_locations(&ctx, o.client_ca.c_str(), nullptr) != 1) {
    if (names != nullptr) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
    }
    return tls_failed(failure, "--client-ca",
                      fmt::format("cannot load the client CA {}", o.client_ca));
  }
  SSL_CTX_set_client_CA_list(&ctx, names);
  SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
  return true;
}

// Returns the names of the client certificate the handshake verified,
// if the client sent one.
std::optional<PeerCertificate> verified_peer(const httplib::Request& req) {
  if (req.ssl == nullptr) {
    return std::nullopt;
  }
  const X509* cert = SSL_get0_peer_certificate(req.ssl);
  if (cert == nullptr || SSL_get_verify_result(req.ssl) != X509_V_OK) {
    return std::nullopt;
  }
  return peer_certificate(cert);
}

const char* const k_methods[] = {"GET",    "HEAD",    "POST",  "PUT",
                                 "DELETE", "OPTIONS", "PATCH", "TRACE"};

// Returns the method as a metric label: unknown methods are folded into
// one value so hostile clients cannot grow the label set.
std::string method_label(const std::string& method) {
  for (const char* m : k_methods) {
    if (method == m) {
      return method;
    }
  }
  return method.empty() ? "INVALID" : "OTHER";
}

// Returns whether `req` has a known method and HTTP/1.0 or HTTP/1.1.
bool request_line_ok(const httplib::Request& req) {
  const std::string label = method_label(req.method);
  return label != "OTHER" && label != "INVALID" &&
         (req.version == "HTTP/1.1" || req.version == "HTTP/1.0");
}

double seconds_since(SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

void send(httplib::Response& res, const ApiResponse& r) {
  res.status = r.status;
  for (const auto& [name, value] : r.headers) {
    res.set_header(name, value);
  }
  res.set_content(r.body, r.content_type);
}

// Returns the error the library meant by a status it set on its own.
core::Error library_error(int status, const httplib::Request& req,
                          const HttpServerOptions& options) {
  using core::Code;
  switch (status) {
  case 413:
    // httplib caps form-encoded bodies (curl's default type) at 8 KiB.
    if (req.get_header_value("Content-Type")
            .starts_with("application/x-www-form-urlencoded")) {
      return {Code::too_large,
              "a form-encoded request body is limited to 8192 bytes: send "
              "it with Content-Type: application/json",
              "", "BodyTooLarge"};
    }
    return {Code::too_large,
            fmt::format("request body is over the limit of {} bytes",
                        options.max_body),
            "", "BodyTooLarge"};
  case 414:
    return {Code::too_large, "request URL is over the limit of 8192 bytes", "",
            "URITooLong"};
  case 431:
    return {Code::too_large,
            fmt::format("request headers are over the limit (8192 bytes a "
                        "line, {} in all)",
                        options.max_header_bytes),
            "", "HeadersTooLarge"};
  case 400:
    if (!req.has_header("Content-Length") &&
        !req.has_header("Transfer-Encoding") && !req.method.empty()) {
      return {Code::invalid_argument,
              fmt::format("{} needs a Content-Length header (0 for an "
                          "empty body)",
                          req.method),
              "", "LengthRequired"};
    }
    return {Code::invalid_argument, "malformed HTTP request", "", "BadRequest"};
  default:
    return {Code::internal, fmt::format("HTTP {}", status), "", "HTTPError"};
  }
}

ApiRequest to_api_request(const httplib::Request& req) {
  ApiRequest out;
  out.method = req.method;
  out.path = req.path;
  for (const auto& [name, value] : req.params) {
    out.query.emplace(name, value);
  }
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    out.headers.emplace(std::move(lower), value);
  }
  out.body = req.body;
  out.ctx.remote_addr = req.remote_addr;
  out.ctx.peer = verified_peer(req);
  return out;
}

std::size_t header_bytes(const httplib::Headers& headers) {
  std::size_t total = 0;
  for (const auto& [name, value] : headers) {
    total += name.size() + value.size() + 4;
  }
  return total;
}

} // namespace

struct HttpServer::Impl {
  Api& api;
  Metrics& metrics;
  HttpServerOptions options;
  // Set by make_server(), so declared before the server it reaches.
  std::function<void(int)> set_backlog;
  std::unique_ptr<httplib::Server> owned;
  httplib::Server& server;

  Impl(Api& a, Metrics& m, HttpServerOptions o)
      : api(a), metrics(m), options(std::move(o)), owned(make_server()),
        server(*owned) {
    configure();
    install_handlers();
  }

  // Returns a plain server, or a TLS one when a certificate is given.
  std::unique_ptr<httplib::Server> make_server() {
    if (options.tls_cert.empty() && options.tls_key.empty()) {
      auto plain = std::make_unique<Listening<httplib::Server>>();
      set_backlog = [p = plain.get()](int b) { p->set_backlog(b); };
      return plain;
    }
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      throw core::Error(core::Code::invalid_argument,
                        "TLS needs both --tls-cert and --tls-key",
                        options.tls_cert.empty() ? "--tls-cert" : "--tls-key");
    }
    TlsFailure failure;
    auto tls = std::make_unique<Listening<httplib::SSLServer>>(
        [&](SSL_CTX& ctx) { return setup_tls(ctx, options, failure); });
    if (!tls->is_valid()) {
      throw core::Error(core::Code::invalid_argument,
                        fmt::format("{}: {}", failure.flag, failure.why),
                        failure.flag, "InvalidTLSConfig");
    }
    set_backlog = [p = tls.get()](int b) { p->set_backlog(b); };
    return tls;
  }

  void configure() {
    auto workers = static_cast<std::size_t>(std::max(1, options.workers));
    auto most =
        workers + static_cast<std::size_t>(std::max(0, options.max_watchers));
    server.new_task_queue = [workers, most] {
      return new GrowingPool(workers, most);
    };
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(1000);
    server.set_keep_alive_timeout(options.keep_alive_seconds);
    server.set_read_timeout(options.io_timeout_seconds, 0);
    server.set_write_timeout(options.io_timeout_seconds, 0);
    server.set_payload_max_length(options.max_body);
  }

  void install_handlers() {
    server.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) {
          return pre_route(req, res);
        });
    auto dispatch = [this](const httplib::Request& req,
                           httplib::Response& res) { handle(req, res); };
    const std::string any = ".*";
    server.Get(any, dispatch);
    server.Post(any, dispatch);
    server.Put(any, dispatch);
    server.Patch(any, dispatch);
    server.Delete(any, dispatch);
    server.Options(any, dispatch);
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          return on_error(req, res);
        }));
    server.set_exception_handler([](const httplib::Request&,
                                    httplib::Response& res,
                                    std::exception_ptr) {
      send(res,
           error_response(core::Error(core::Code::internal, "internal error")));
    });
    server.set_logger(
        [this](const httplib::Request& req, const httplib::Response& res) {
          log_request(req, res);
        });
  }

  httplib::Server::HandlerResponse pre_route(const httplib::Request& req,
                                             httplib::Response& res) {
    t_state.routed = true;
    t_state.start = std::chrono::steady_clock::now();
    t_state.route = "unmatched";
    if (header_bytes(req.headers) <= options.max_header_bytes) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    send(res, error_response(library_error(431, req, options)));
    res.status = 431;
    return httplib::Server::HandlerResponse::Handled;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    // httplib caps only a Content-Length body; a chunked one arrives
    // whole, however long, so it is refused here before any decoding.
    if (req.body.size() > options.max_body) {
      send(res, error_response(library_error(413, req, options)));
      return;
    }
    ApiResponse r = api.handle(to_api_request(req));
    t_state.route = r.route;
    t_state.subject = r.subject;
    send(res, r);
  }

  // Called for every status >= 400; gives the library's own error
  // responses (empty body) our JSON shape.
  httplib::Server::HandlerResponse on_error(const httplib::Request& req,
                                            httplib::Response& res) {
    if (!res.body.empty()) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    // A well-formed request line whose headers failed to parse, before
    // any routing: httplib refuses an over-long header line this way. A
    // request line that is itself malformed (an unknown method or HTTP
    // version) stays a 400.
    if (res.status == 400 && !t_state.routed && request_line_ok(req)) {
      res.status = 431;
    }
    auto r = error_response(library_error(res.status, req, options));
    res.set_content(r.body, r.content_type);
    return httplib::Server::HandlerResponse::Handled;
  }

  void log_request(const httplib::Request& req, const httplib::Response& res) {
    double seconds = t_state.routed ? seconds_since(t_state.start) : 0.0;
    metrics.http_request(method_label(req.method), t_state.route, res.status,
                         seconds);
    LRB_LOG(debug, "http request", kv("method", method_label(req.method)),
            kv("path", req.path), kv("status", res.status),
            kv("route", t_state.route), kv("remote", req.remote_addr),
            kv("identity", t_state.subject), kv("dur_ms", seconds * 1e3));
    t_state = RequestState{};
  }
};

HttpServer::HttpServer(Api& api, Metrics& metrics, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(api, metrics, std::move(options))) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  auto& o = impl_->options;
  int port = o.port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(o.host);
  } else if (!impl_->server.bind_to_port(o.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw core::Error(core::Code::unavailable,
                      fmt::format("cannot listen on {}:{}: the address is in "
                                  "use or not local",
                                  o.host, o.port),
                      "listen", "ListenFailed");
  }
  impl_->set_backlog(o.listen_backlog);
  return port;
}

void HttpServer::serve() {
  impl_->server.listen_after_bind();
}

void HttpServer::stop() {
  impl_->server.stop();
}

} // namespace lrb::daemon

// The agent's small server. Its requests carry no body and need no
// identity, so it has none of the broker's limits or TLS: only a fixed
// pool, short timeouts and the JSON error shape. httplib's stop() does
// nothing before listen has started, so stop() repeats it until serve()
// has returned, and serve() does not start once stop() was called.
namespace lrb::daemon {

struct SimpleHttpServer::Impl {
  std::string host;
  int port;
  SimpleHandler handler;
  httplib::Server server;
  std::mutex mu;
  bool stopped = false;
  bool serving = false;
  std::atomic<bool> done{false};

  Impl(std::string h, int p, SimpleHandler fn, int threads)
      : host(std::move(h)), port(p), handler(std::move(fn)) {
    auto n = static_cast<std::size_t>(std::max(1, threads));
    server.new_task_queue = [n] { return new httplib::ThreadPool(n); };
    server.set_keep_alive_timeout(2);
    server.set_read_timeout(5, 0);
    server.set_write_timeout(5, 0);
    server.set_payload_max_length(64 * 1024);
    auto dispatch = [this](const httplib::Request& req,
                           httplib::Response& res) { answer(req, res); };
    server.Get(".*", dispatch);
    server.Post(".*", dispatch);
    server.Put(".*", dispatch);
    server.Delete(".*", dispatch);
    server.Patch(".*", dispatch);
    server.Options(".*", dispatch);
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request&, httplib::Response& res) {
          return library_error_body(res);
        }));
  }

  void answer(const httplib::Request& req, httplib::Response& res) {
    SimpleResponse r;
    try {
      r = handler(req.method, req.path);
    } catch (const std::exception& e) {
      LRB_LOG(warn, "http handler failed", kv("path", req.path),
              kv("error", e.what()));
      auto err = error_response(core::Error(core::Code::internal, e.what()));
      r = {err.status, err.content_type, err.body};
    }
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  }

  // Gives the library's own error responses (empty body) our JSON shape.
  static httplib::Server::HandlerResponse
  library_error_body(httplib::Response& res) {
    if (!res.body.empty()) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    auto code = res.status == 404 ? core::Code::not_found
                                  : core::Code::invalid_argument;
    auto r =
        error_response(core::Error(code, fmt::format("HTTP {}", res.status)));
    res.set_content(r.body, r.content_type);
    return httplib::Server::HandlerResponse::Handled;
  }
};

SimpleHttpServer::SimpleHttpServer(std::string host, int port,
                                   SimpleHandler handler, int threads)
    : impl_(std::make_unique<Impl>(std::move(host), port, std::move(handler),
                                   threads)) {}

SimpleHttpServer::~SimpleHttpServer() = default;

int SimpleHttpServer::bind() {
  auto& i = *impl_;
  int port = i.port;
  if (port == 0) {
    port = i.server.bind_to_any_port(i.host);
  } else if (!i.server.bind_to_port(i.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw core::Error(core::Code::unavailable,
                      fmt::format("cannot listen on {}:{}: the address is in "
                                  "use or not local",
                                  i.host, i.port),
                      "listen", "ListenFailed");
  }
  return port;
}

void SimpleHttpServer::serve() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) {
      impl_->done = true;
      return;
    }
    impl_->serving = true;
  }
  impl_->server.listen_after_bind();
  impl_->done = true;
}

void SimpleHttpServer::stop() {
  bool serving = false;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
    serving = impl_->serving;
  }
  // Bounded: listen starts within moments of serving being set.
  for (int i = 0; serving && !impl_->done && i < 1000; ++i) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void write_port_file(const std::string& path, int port,
                     const std::string& flag) {
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    out.flush();
    if (!out) {
      throw core::Error(core::Code::unavailable,
                        fmt::format("{}: cannot write {}", flag, tmp), flag);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw core::Error(core::Code::unavailable,
                      fmt::format("{}: cannot rename {} to {}: {}", flag, tmp,
                                  path, std::strerror(errno)),
                      flag);
  }
}

} // namespace lrb::daemon
