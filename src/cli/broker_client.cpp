#include "cli/broker_client.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/duration.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

constexpr std::chrono::milliseconds k_connect_timeout{5'000};
constexpr std::size_t k_body_excerpt = 200;

// Returns the start of a body that is not an API error, for messages.
std::string excerpt(std::string_view body) {
  std::string flat(body.substr(0, k_body_excerpt));
  for (char& c : flat) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  return body.size() > k_body_excerpt ? flat + "..." : flat;
}

core::Json parse_body(std::string_view body, std::string_view action) {
  try {
    return core::parse_json(body.empty() ? std::string_view("{}") : body);
  } catch (const Error&) {
    throw Error(Code::internal,
                fmt::format("{}: the broker answered with something that is "
                            "not JSON: {}",
                            action, excerpt(body)));
  }
}

// Appends "?key=value" or "&key=value" when value is not empty.
void add_param(std::string& query, std::string_view key,
               std::string_view value) {
  if (value.empty()) {
    return;
  }
  query += query.empty() ? '?' : '&';
  query += fmt::format("{}={}", key, kube::url_encode(value));
}

std::string path_id(std::string_view id) {
  return kube::url_encode(id);
}

// Returns whether a transport failure was the broker's certificate being
// refused, for which "is the broker running?" would mislead.
bool tls_failure(std::string_view message) {
  return message.find("certificate verify failed") != std::string_view::npos;
}

} // namespace

kube::HttpOptions http_options(const Globals& globals) {
  kube::HttpOptions options;
  options.base_url = globals.broker;
  options.tls.ca_file = globals.ca;
  options.tls.cert_file = globals.cert;
  options.tls.key_file = globals.key;
  options.tls.insecure_skip_verify = globals.insecure_skip_tls_verify;
  options.bearer_token = globals.token;
  options.connect_timeout = k_connect_timeout;
  options.read_timeout = BrokerClient::k_read_timeout;
  options.user_agent = "lrb/" LRB_VERSION;
  return options;
}

Error response_error(int status, std::string_view body,
                     std::string_view action) {
  const Code code = core::code_for_http_status(status);
  core::Json j;
  try {
    j = core::parse_json(body);
  } catch (const Error&) {
    j = nullptr;
  }
  const bool api_error = j.is_object() && j.contains("error") &&
                         j["error"].is_object() &&
                         j["error"].value("message", "") != "";
  if (!api_error) {
    return Error(code, fmt::format("{}: the broker answered HTTP {}: {}",
                                   action, status,
                                   body.empty() ? "(no body)" : excerpt(body)));
  }
  const auto& e = j["error"];
  return Error(code, fmt::format("{}: {}", action, e.value("message", "")),
               e.value("field", ""), e.value("code", ""));
}

std::string reservation_query(const ReservationFilter& filter) {
  std::string query;
  add_param(query, "requesterID", filter.requester);
  add_param(query, "targetClusterID", filter.provider);
  add_param(query, "phase", filter.phase);
  return query;
}

namespace {

kube::HttpOptions with_timeout(kube::HttpOptions options,
                               std::chrono::milliseconds timeout) {
  options.read_timeout = timeout;
  options.connect_timeout = std::min(options.connect_timeout, timeout);
  return options;
}

} // namespace

BrokerClient::BrokerClient(const Globals& globals,
                           std::chrono::milliseconds timeout)
    : url_(globals.broker), source_(globals.broker_source),
      http_(with_timeout(http_options(globals), timeout)) {
  if (globals.insecure_skip_tls_verify && url_.rfind("https://", 0) == 0) {
    print_warning("--insecure-skip-tls-verify: the broker's certificate is "
                  "not verified; anyone between here and the broker can "
                  "read and change this traffic");
  }
}

core::Json
BrokerClient::send(std::string_view method, std::string_view path,
                   std::string_view body, std::string_view action,
                   const std::map<std::string, std::string>& headers) {
  kube::HttpResponse response;
  try {
    response = http_.request(method, path, body, headers);
  } catch (const Error& e) {
    if (e.code() != Code::unavailable) {
      throw;
    }
    if (tls_failure(e.what())) {
      throw Error(Code::unavailable,
                  fmt::format("{}: {}: check --ca (LRB_CA), and that the "
                              "broker's certificate names the host of {}",
                              action, e.what(), url_));
    }
    throw Error(Code::unavailable,
                fmt::format("{}: {}; is the broker running? the URL came "
                            "from {}: set another with --broker or "
                            "LRB_BROKER",
                            action, e.what(), source_));
  }
  if (response.status < 200 || response.status > 299) {
    throw response_error(response.status, response.body, action);
  }
  return parse_body(response.body, action);
}

core::Json BrokerClient::get(std::string_view path, std::string_view action) {
  return send("GET", path, {}, action, {});
}

core::Json BrokerClient::post(std::string_view path, const core::Json& body,
                              std::string_view action,
                              const std::map<std::string, std::string>& h) {
  return send("POST", path, body.dump(), action, h);
}

core::Json BrokerClient::clusters() {
  return get("/api/v1/clusters", "list clusters");
}

core::Json BrokerClient::cluster(std::string_view id) {
  return get("/api/v1/clusters/" + path_id(id),
             fmt::format("get cluster {}", id));
}

core::Json BrokerClient::reservations(const ReservationFilter& filter) {
  return get("/api/v1/reservations" + reservation_query(filter),
             "list reservations");
}

core::Json BrokerClient::reservation(std::string_view id) {
  return get("/api/v1/reservations/" + path_id(id),
             fmt::format("get reservation {}", id));
}

core::Json BrokerClient::create(const core::Json& request,
                                const std::string& idempotency_key) {
  std::map<std::string, std::string> headers;
  if (!idempotency_key.empty()) {
    headers.emplace("Idempotency-Key", idempotency_key);
  }
  return post("/api/v1/reservations", request, "reserve", headers);
}

core::Json BrokerClient::explain(const core::Json& request) {
  return post("/api/v1/explain", request, "explain");
}

core::Json BrokerClient::lifecycle(std::string_view id, std::string_view step,
                                   const core::Json& body) {
  return post(fmt::format("/api/v1/reservations/{}/{}", path_id(id), step),
              body, fmt::format("{} {}", step, id));
}

core::Json BrokerClient::cordon(std::string_view id, bool cordon) {
  const std::string_view step = cordon ? "cordon" : "uncordon";
  return post(fmt::format("/api/v1/clusters/{}/{}", path_id(id), step),
              core::Json::object(), fmt::format("{} {}", step, id));
}

core::Json BrokerClient::events(std::int64_t since, std::string_view cluster,
                                std::int64_t timeout_ms) {
  std::string query = fmt::format("?since={}", since);
  add_param(query, "clusterID", cluster);
  add_param(query, "timeout", core::format_duration(timeout_ms));
  return get("/api/v1/events" + query, "watch events");
}

std::string BrokerClient::version() {
  const core::Json j = get("/version", "get the broker's version");
  if (!j.contains("version") || !j["version"].is_string()) {
    throw Error(Code::internal,
                "get the broker's version: the answer has no \"version\"");
  }
  return j["version"].get<std::string>();
}

} // namespace lrb::cli
