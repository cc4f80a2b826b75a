// libFuzzer harness for every request body and query string the broker
// decodes, run through the real handlers of api.cpp (Api::handle) on a
// real Broker. json_fuzz covers the core decoders on their own; this one
// also reaches what only the handlers decode (the optional bodies of
// activate, renew and release, the Idempotency-Key, list filters) and
// the broker calls behind them. The first input byte picks the
// endpoint, the rest is the body (or the query string).
//
// Each input gets a fresh in-memory store with two clusters advertised
// and one reservation made, so that every input starts from the same
// state and the lifecycle calls have something to act on. Beyond not
// crashing it checks what a client relies on: no input is a 5xx (a 500
// is a bug the handler caught), every answer is a JSON document, every
// error names a code and a message, and a refused create writes no row.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "daemon/api.h"
#include "daemon/broker.h"
#include "daemon/memory_store.h"
#include "daemon/metrics.h"

namespace {

using lrb::core::Json;
using lrb::daemon::ApiRequest;
using lrb::daemon::ApiResponse;

constexpr std::string_view k_rome =
    R"({"clusterID": "rome", "generation": 1,
        "endpoint": "https://rome.example:6443", "region": "europe-south",
        "resources": {"allocatable": {"cpu": "16", "memory": "64Gi"},
                      "available": {"cpu": "16", "memory": "64Gi"}},
        "prices": {"currency": "USD", "cpuPerHour": "0.03",
                   "memoryGiBPerHour": "0.004"}})";

constexpr std::string_view k_paris =
    R"({"clusterID": "paris", "generation": 1,
        "endpoint": "https://paris.example:6443", "region": "europe-west",
        "resources": {"allocatable": {"cpu": "32", "memory": "128Gi",
                                      "nvidia.com/gpu": "4"},
                      "available": {"cpu": "24", "memory": "96Gi",
                                    "nvidia.com/gpu": "4"}},
        "gpuModels": {"T4": 4},
        "prices": {"currency": "USD", "cpuPerHour": "0.032",
                   "memoryGiBPerHour": "0.0043",
                   "gpuPerHour": {"default": "0.35"}}})";

constexpr std::string_view k_request =
    R"({"requesterID": "rome",
        "requestedResources": {"cpu": "4", "memory": "8Gi"}})";

// Aborts unless `check` holds; libFuzzer then saves the input.
void require(bool check) {
  if (!check) {
    std::abort();
  }
}

// A broker over a fresh in-memory store, with rome and paris advertised
// and one Reserved reservation of rome's on paris.
struct World {
  lrb::core::ManualClock clock;
  lrb::daemon::Metrics metrics;
  std::unique_ptr<lrb::daemon::Store> store = lrb::daemon::open_memory_store();
  lrb::daemon::Broker broker{*store, clock, config(), metrics};
  lrb::daemon::Api api{broker};
  std::string reservation;

  World() {
    require(call("POST", "/api/v1/advertisements", k_rome).status == 200);
    require(call("POST", "/api/v1/advertisements", k_paris).status == 200);
    auto made = call("POST", "/api/v1/reservations", k_request);
    require(made.status == 201);
    reservation = Json::parse(made.body).at("id").get<std::string>();
  }

  static lrb::daemon::BrokerConfig config() {
    lrb::daemon::BrokerConfig c;
    c.max_watchers = 0; // a watch answers at once, never parks
    return c;
  }

  ApiResponse call(std::string method, std::string path,
                   std::string_view body) {
    ApiRequest req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.body = std::string(body);
    return api.handle(req);
  }

  std::size_t reservation_count() {
    return broker.reservations(lrb::daemon::ReservationFilter{}).size();
  }
};

// Splits "a=1&b=2" into query parameters, as the transport would.
void add_query(ApiRequest& req, std::string_view text) {
  while (!text.empty()) {
    auto amp = text.find('&');
    auto pair = text.substr(0, amp);
    auto eq = pair.find('=');
    req.query.emplace(std::string(pair.substr(0, eq)),
                      eq == std::string_view::npos
                          ? std::string()
                          : std::string(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) {
      break;
    }
    text.remove_prefix(amp + 1);
  }
}

// Builds the request that input selector `which` sends with `rest`.
ApiRequest make_request(const World& w, std::uint8_t which,
                        std::string_view rest) {
  ApiRequest req;
  req.method = "POST";
  req.body = std::string(rest);
  const std::string res = "/api/v1/reservations/" + w.reservation;
  switch (which % 9) {
  case 0:
    req.path = "/api/v1/advertisements";
    break;
  case 1:
    req.path = "/api/v1/reservations";
    break;
  case 2:
    req.path = "/api/v1/explain";
    break;
  case 3:
    req.path = res + "/activate";
    break;
  case 4:
    req.path = res + "/renew";
    break;
  case 5:
    req.path = res + "/release";
    break;
  case 6:
    // A create with the rest as its Idempotency-Key.
    req.path = "/api/v1/reservations";
    req.body = std::string(k_request);
    req.headers.emplace("idempotency-key", std::string(rest));
    break;
  default:
    req.method = "GET";
    req.path = which % 9 == 7 ? "/api/v1/reservations" : "/api/v1/events";
    req.body.clear();
    add_query(req, rest);
  }
  return req;
}

// Checks the shape every answer must have.
void check_response(const ApiResponse& r) {
  require(r.status >= 200 && r.status < 500);
  if (r.content_type != "application/json") {
    return;
  }
  Json body = Json::parse(r.body); // throws (and so fails) if not JSON
  if (r.status >= 400) {
    require(body.at("error").at("code").is_string());
    require(!body.at("error").at("message").get<std::string>().empty());
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  lrb::core::set_log_level(lrb::core::LogLevel::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) {
    return 0;
  }
  World w;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1),
                              size - 1);
  const auto before = w.reservation_count();
  const ApiRequest req = make_request(w, data[0], rest);
  const ApiResponse r = w.api.handle(req);
  check_response(r);

  // A refused create or explain leaves no row behind.
  if (r.status >= 400 || req.path == "/api/v1/explain") {
    require(w.reservation_count() == before);
  }
  return 0;
}
