// libFuzzer harness for the HTTP request path end to end: the input is
// written, byte for byte, to a TCP connection to the broker's real
// transport (HttpServer on 127.0.0.1, an ephemeral port), which parses
// the request line, headers and body framing (Content-Length, chunked),
// enforces its limits and hands the request to the real Api and Broker
// on a SQLite file in a temporary directory. Whatever framing the bytes
// claim, they are all the client sends: the server runs with no read
// and no keep-alive timeout, so a request that promises more than it
// has fails at once, as a slow client's would after the timeout. (The
// client cannot half-close instead: httplib writes no response to a
// peer that has shut down its side.)
//
// The server lives across inputs (starting one per input would fuzz the
// startup instead) and is rebuilt on a fresh database every few
// thousand inputs so that the clusters and reservations the inputs
// create do not grow without bound. Beyond not crashing and not
// leaking it checks that no input makes the broker answer 5xx (a 500 is
// a bug the transport caught) or hold a half-closed connection open.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "daemon/api.h"
#include "daemon/broker.h"
#include "daemon/http_server.h"
#include "daemon/metrics.h"
#include "daemon/sqlite_store.h"

namespace {

namespace fs = std::filesystem;

constexpr int k_inputs_per_server = 5000;
// Long enough for a loaded machine; a broker with no timeouts of its own
// has no reason to hold a connection for anything near it.
constexpr int k_answer_timeout_ms = 30'000;

// Aborts unless `check` holds; libFuzzer then saves the input.
void require(bool check) {
  if (!check) {
    std::abort();
  }
}

// The advertisement every fresh server starts with, so that creates
// have somewhere to go.
lrb::core::Advertisement paris() {
  return lrb::core::decode_advertisement(lrb::core::parse_json(
      R"({"clusterID": "paris", "generation": 1,
          "endpoint": "https://paris.example:6443", "region": "eu",
          "resources": {"allocatable": {"cpu": "32", "memory": "128Gi"},
                        "available": {"cpu": "24", "memory": "96Gi"}},
          "prices": {"currency": "USD", "cpuPerHour": "0.032",
                     "memoryGiBPerHour": "0.0043"}})"));
}

// A broker behind its HTTP server on its own database and thread.
struct Server {
  fs::path dir;
  lrb::daemon::Metrics metrics;
  std::unique_ptr<lrb::daemon::Store> store;
  std::unique_ptr<lrb::daemon::Broker> broker;
  std::unique_ptr<lrb::daemon::Api> api;
  std::unique_ptr<lrb::daemon::HttpServer> http;
  std::thread thread;
  int port = 0;

  explicit Server(fs::path d) : dir(std::move(d)) {
    fs::create_directories(dir);
    store = lrb::daemon::open_sqlite_store({.path = (dir / "lrb.db")});
    lrb::daemon::BrokerConfig config;
    config.max_watchers = 0; // a watch answers at once, never parks
    broker = std::make_unique<lrb::daemon::Broker>(
        *store, lrb::core::system_clock(), config, metrics);
    broker->advertise({}, paris());
    api = std::make_unique<lrb::daemon::Api>(*broker);
    lrb::daemon::HttpServerOptions options;
    options.port = 0;
    options.workers = 2;
    options.max_watchers = 2;
    options.max_body = 64 * 1024;
    options.max_header_bytes = 8 * 1024;
    options.io_timeout_seconds = 0;
    options.keep_alive_seconds = 0;
    http = std::make_unique<lrb::daemon::HttpServer>(*api, metrics, options);
    port = http->bind();
    thread = std::thread([this] { http->serve(); });
  }

  ~Server() {
    http->stop();
    thread.join();
    broker->shutdown();
    http.reset();
    api.reset();
    broker.reset();
    store.reset();
    fs::remove_all(dir);
  }
};

Server* g_server = nullptr;
int g_served = 0;
fs::path g_root;

// Returns the server for this input, replacing a well-used one.
Server& server() {
  if (g_server != nullptr && g_served < k_inputs_per_server) {
    ++g_served;
    return *g_server;
  }
  delete g_server;
  static int generation = 0;
  g_server = new Server(g_root / std::to_string(generation++));
  g_served = 1;
  return *g_server;
}

// Connects to 127.0.0.1:`port`; returns the socket.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  require(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  require(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Sends `bytes`. The server may close first (it refused the request
// early), which ends the sending.
void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until the server closes; aborts when it keeps the connection
// open past the timeout (with no timeouts of its own, it must not).
std::string read_all(int fd) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(k_answer_timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    require(left.count() > 0 &&
            ::poll(&p, 1, static_cast<int>(left.count())) == 1);
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// Returns the status of the first response in `answer`, or 0.
int first_status(std::string_view answer) {
  constexpr std::string_view k_prefix = "HTTP/1.1 ";
  if (!answer.starts_with(k_prefix) || answer.size() < k_prefix.size() + 3) {
    return 0;
  }
  return std::atoi(std::string(answer.substr(k_prefix.size(), 3)).c_str());
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  lrb::core::set_log_level(lrb::core::LogLevel::off);
  // Memory-backed when the system has it: a commit's fsync on a busy
  // disk would otherwise stall the server for seconds.
  const char* tmp = std::getenv("TMPDIR");
  fs::path base = tmp != nullptr ? tmp : "/tmp";
  if (std::error_code ec; fs::is_directory("/dev/shm", ec)) {
    base = "/dev/shm";
  }
  g_root = base / ("lrb-http-fuzz-" + std::to_string(::getpid()));
  std::atexit([] {
    std::error_code ignored;
    fs::remove_all(g_root, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  Server& s = server();
  int fd = connect_to(s.port);
  send_all(fd, {reinterpret_cast<const char*>(data), size});
  const std::string answer = read_all(fd);
  ::close(fd);

  // Nothing, or a response whose status is not a server error.
  const int status = first_status(answer);
  require(answer.empty() || (status >= 100 && status < 500));
  return 0;
}
