#include "daemon/api.h"

#include <charconv>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/quoting.h"

namespace lrb::daemon {

using core::Code;
using core::Error;
using core::Json;

namespace {

constexpr std::int64_t k_default_watch_ms = 30'000;
constexpr int k_default_list_limit = 1000;
constexpr int k_max_list_limit = 10'000;

ApiResponse json_response(int status, const Json& body) {
  ApiResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

Json items(Json array) {
  return Json{{"items", std::move(array)}};
}

// Splits "/a/b/c" into {"a", "b", "c"}; an empty segment (a double or
// trailing slash) is kept so that it never matches a route.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') {
    return out;
  }
  path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    path.remove_prefix(slash + 1);
  }
}

// Returns the only value of query parameter `name`, or "" when absent;
// a repeated parameter is ambiguous and refused.
std::string query_value(const ApiRequest& req, const std::string& name) {
  auto [first, last] = req.query.equal_range(name);
  if (first == last) {
    return {};
  }
  if (std::next(first) != last) {
    throw Error(Code::invalid_argument,
                fmt::format("query parameter {} is given more than once", name),
                name, "InvalidArgument");
  }
  return first->second;
}

void check_query_names(const ApiRequest& req,
                       std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : req.query) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      throw Error(Code::invalid_argument,
                  fmt::format("unknown query parameter {}: use {}",
                              core::quote_input(name),
                              fmt::join(allowed, ", ")),
                  name, "UnknownField");
    }
  }
}

std::int64_t parse_count(std::string_view text, std::string_view field,
                         std::int64_t max) {
  std::int64_t value = -1;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > max) {
    throw Error(Code::invalid_argument,
                fmt::format("{} must be a whole number from 0 to {}, not {}",
                            field, max, core::quote_input(text)),
                std::string(field), "InvalidArgument");
  }
  return value;
}

// Parses an optional JSON object body: empty means {}; other keys than
// `allowed` are refused, as in every request body.
Json optional_object(const std::string& body,
                     std::initializer_list<std::string_view> allowed) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Json::object();
  }
  Json j = core::parse_json(body);
  if (!j.is_object()) {
    throw Error(Code::invalid_argument, "the body must be a JSON object", "",
                "WrongType");
  }
  for (const auto& [key, value] : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw Error(Code::invalid_argument,
                  fmt::format("unknown field {}", core::quote_input(key)), key,
                  "UnknownField");
    }
  }
  return j;
}

std::string optional_string(const Json& j, const char* key) {
  if (!j.contains(key)) {
    return {};
  }
  if (!j[key].is_string()) {
    throw Error(Code::invalid_argument, fmt::format("{} must be a string", key),
                key, "WrongType");
  }
  return j[key].get<std::string>();
}

// Narrows a reservation listing to what an agent may see: asking for
// another cluster's reservations (clusterID=) is refused; a filter that
// pins the agent's cluster as requester or provider stands; any other
// gets "either side is the agent's cluster" added.
void scope_to_agent(const Identity& who, const std::string& cluster,
                    ReservationFilter& filter) {
  if (who.role != Role::agent) {
    return;
  }
  check_allowed(who, Permission::read, cluster);
  const std::string& own = who.cluster_id;
  if (filter.requester_id != own && filter.target_cluster_id != own &&
      filter.either_cluster_id != own) {
    filter.either_cluster_id = own;
  }
}

Json request_body(const std::string& body) {
  return core::parse_json(body);
}

std::vector<core::Phase> parse_phases(std::string_view text) {
  std::vector<core::Phase> phases;
  while (!text.empty()) {
    auto comma = text.find(',');
    phases.push_back(core::parse_phase(text.substr(0, comma), "phase"));
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return phases;
}

} // namespace

ApiResponse error_response(const Error& error) {
  return json_response(core::http_status(error.code()),
                       core::encode_error(error));
}

// What a route needs of its caller.
enum class Access {
  open,    // nothing: health, readiness, version
  metrics, // credentials only when the Authenticator protects /metrics
  checked, // credentials and a role that may do the route's action
};

// One route: a method and a path template whose "{}" segments capture,
// and who may call it.
struct Api::Route {
  std::string method;
  std::string path;
  Handler handler;
  Access access = Access::checked;
  Permission action = Permission::read;

  // Returns whether `parts` matches the template, filling `params`.
  bool matches(const std::vector<std::string_view>& parts,
               Params& params) const {
    auto want = segments(path);
    if (want.size() != parts.size()) {
      return false;
    }
    params.clear();
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == "{id}") {
        if (parts[i].empty()) {
          return false;
        }
        params.emplace_back(parts[i]);
      } else if (want[i] != parts[i]) {
        return false;
      }
    }
    return true;
  }
};

Api::Api(Broker& broker, Authenticator auth)
    : broker_(broker), auth_(std::move(auth)) {
  constexpr auto open = Access::open;
  constexpr auto checked = Access::checked;
  routes_ = {
      {"GET", "/healthz", &Api::healthz, open},
      {"GET", "/readyz", &Api::readyz, open},
      {"GET", "/version", &Api::version, open},
      {"GET", "/metrics", &Api::metrics, Access::metrics, Permission::metrics},
      {"POST", "/api/v1/advertisements", &Api::advertise, checked,
       Permission::advertise},
      {"GET", "/api/v1/advertisements", &Api::list_clusters},
      {"GET", "/api/v1/advertisements/{id}", &Api::get_cluster},
      {"GET", "/api/v1/clusters", &Api::list_clusters},
      {"GET", "/api/v1/clusters/{id}", &Api::get_cluster},
      {"POST", "/api/v1/clusters/{id}/cordon", &Api::cordon, checked,
       Permission::cordon},
      {"POST", "/api/v1/clusters/{id}/uncordon", &Api::uncordon, checked,
       Permission::cordon},
      {"POST", "/api/v1/reservations", &Api::create, checked,
       Permission::reserve},
      {"GET", "/api/v1/reservations", &Api::list_reservations},
      {"GET", "/api/v1/reservations/{id}", &Api::get_reservation},
      {"POST", "/api/v1/reservations/{id}/activate", &Api::activate, checked,
       Permission::lifecycle},
      {"POST", "/api/v1/reservations/{id}/renew", &Api::renew, checked,
       Permission::lifecycle},
      {"POST", "/api/v1/reservations/{id}/release", &Api::release, checked,
       Permission::lifecycle},
      {"POST", "/api/v1/explain", &Api::explain},
      {"GET", "/api/v1/events", &Api::events, checked, Permission::watch},
  };
}

Api::~Api() = default;

std::vector<std::string> Api::routes() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    out.push_back(r.method + " " + r.path);
  }
  return out;
}

ApiResponse Api::handle(ApiRequest request) noexcept {
  try {
    return dispatch(request);
  } catch (const Error& e) {
    return error_response(e);
  } catch (const std::exception& e) {
    LRB_LOG(error, "request failed", kv("method", request.method),
            kv("path", core::quote_input(request.path)), kv("error", e.what()));
    try {
      return error_response(Error(Code::internal, "internal error"));
    } catch (...) {
      ApiResponse r;
      r.status = 500;
      return r;
    }
  } catch (...) {
    ApiResponse r;
    r.status = 500;
    return r;
  }
}

// Sets the request's identity from its credentials and checks that its
// role may do the route's action at all; handlers scope agents further.
void Api::authenticate(const Route& route, ApiRequest& request) const {
  if (route.access == Access::open ||
      (route.access == Access::metrics && !auth_.protects_metrics())) {
    return;
  }
  auto it = request.headers.find("authorization");
  request.ctx.identity = auth_.authenticate(
      it == request.headers.end() ? std::string_view() : it->second,
      request.ctx.peer);
  check_allowed(request.ctx.identity, route.action);
}

ApiResponse Api::dispatch(ApiRequest& request) {
  auto parts = segments(request.path);
  Params params;
  std::vector<std::string> allowed;
  std::string matched;
  for (const auto& route : routes_) {
    if (!route.matches(parts, params)) {
      continue;
    }
    matched = route.path;
    // HEAD is answered as GET (the transport drops the body).
    if (route.method == request.method ||
        (route.method == "GET" && request.method == "HEAD")) {
      ApiResponse r;
      bool known = false; // whether the caller authenticated
      try {
        authenticate(route, request);
        known = true;
        r = (this->*route.handler)(request, params);
      } catch (const Error& e) {
        r = error_response(e);
        if (e.code() == Code::unauthenticated) {
          r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"lrb\"");
        }
      }
      r.route = route.path;
      if (auth_.enabled() && route.access != Access::open) {
        r.subject = known ? describe(request.ctx.identity) : "unauthenticated";
      }
      return r;
    }
    allowed.push_back(route.method);
  }
  if (matched.empty()) {
    return error_response(Error(
        Code::not_found,
        fmt::format("no such endpoint {}", core::quote_input(request.path)), "",
        "NotFound"));
  }
  auto r = error_response(Error(Code::method_not_allowed,
                                fmt::format("{} is not allowed on {}: use {}",
                                            core::quote_input(request.method),
                                            matched, fmt::join(allowed, ", ")),
                                "", "MethodNotAllowed"));
  r.headers.emplace_back("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
  r.route = matched;
  return r;
}

// ---- operations ----

ApiResponse Api::healthz(const ApiRequest&, const Params&) {
  return json_response(200, {{"status", "ok"}});
}

ApiResponse Api::readyz(const ApiRequest&, const Params&) {
  if (!broker_.ready()) {
    return error_response(Error(Code::unavailable,
                                "not ready: the database is not open and "
                                "migrated, or the broker is stopping",
                                "", "NotReady"));
  }
  return json_response(200, {{"status", "ready"}});
}

ApiResponse Api::version(const ApiRequest&, const Params&) {
  return json_response(200, {{"version", LRB_VERSION}});
}

ApiResponse Api::metrics(const ApiRequest&, const Params&) {
  ApiResponse r;
  broker_.write_metrics(r.body);
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

// ---- clusters ----

ApiResponse Api::advertise(const ApiRequest& req, const Params&) {
  auto ad = core::decode_advertisement(request_body(req.body));
  check_allowed(req.ctx.identity, Permission::advertise, ad.cluster_id);
  auto result = broker_.advertise(req.ctx, std::move(ad));
  Json out = core::encode_cluster(result.cluster);
  if (result.ignored) {
    out["ignored"] = true;
    out["note"] = result.note;
  }
  return json_response(200, out);
}

ApiResponse Api::list_clusters(const ApiRequest& req, const Params&) {
  check_query_names(req, {});
  Json list = Json::array();
  for (const auto& c : broker_.clusters()) {
    list.push_back(core::encode_cluster(c));
  }
  return json_response(200, items(std::move(list)));
}

ApiResponse Api::get_cluster(const ApiRequest&, const Params& params) {
  return json_response(200, core::encode_cluster(broker_.cluster(params[0])));
}

ApiResponse Api::cordon(const ApiRequest& req, const Params& params) {
  return json_response(200, core::encode_cluster(broker_.set_cordoned(
                                req.ctx, params[0], true)));
}

ApiResponse Api::uncordon(const ApiRequest& req, const Params& params) {
  return json_response(200, core::encode_cluster(broker_.set_cordoned(
                                req.ctx, params[0], false)));
}

// ---- reservations ----

ApiResponse Api::create(const ApiRequest& req, const Params&) {
  auto request = core::decode_request(request_body(req.body));
  std::string key;
  if (auto it = req.headers.find("idempotency-key"); it != req.headers.end()) {
    key = it->second;
    if (key.empty()) {
      throw Error(Code::invalid_argument, "Idempotency-Key is empty",
                  "Idempotency-Key", "InvalidIdempotencyKey");
    }
  }
  auto result = broker_.create(req.ctx, std::move(request), key);
  auto r = json_response(result.replayed ? 200 : 201,
                         core::encode_reservation(result.reservation));
  r.headers.emplace_back("Location",
                         "/api/v1/reservations/" + result.reservation.id);
  if (result.replayed) {
    r.headers.emplace_back("Idempotent-Replayed", "true");
  }
  return r;
}

ApiResponse Api::list_reservations(const ApiRequest& req, const Params&) {
  check_query_names(req, {"clusterID", "role", "phase", "requesterID",
                          "targetClusterID", "limit"});
  ReservationFilter filter;
  auto cluster = query_value(req, "clusterID");
  auto role = query_value(req, "role");
  if (!cluster.empty()) {
    core::check_dns_label(cluster, "clusterID");
  }
  if (role == "requester") {
    filter.requester_id = cluster;
  } else if (role == "provider") {
    filter.target_cluster_id = cluster;
  } else if (role.empty()) {
    filter.either_cluster_id = cluster;
  } else {
    throw Error(Code::invalid_argument,
                fmt::format("role must be requester or provider, not {}",
                            core::quote_input(role)),
                "role", "InvalidArgument");
  }
  if (!role.empty() && cluster.empty()) {
    throw Error(Code::invalid_argument, "role needs a clusterID", "clusterID",
                "MissingField");
  }
  for (auto [name, slot] :
       {std::pair{"requesterID", &filter.requester_id},
        std::pair{"targetClusterID", &filter.target_cluster_id}}) {
    if (auto v = query_value(req, name); !v.empty()) {
      core::check_dns_label(v, name);
      *slot = v;
    }
  }
  scope_to_agent(req.ctx.identity, cluster, filter);
  filter.phases = parse_phases(query_value(req, "phase"));
  filter.limit = k_default_list_limit;
  if (auto v = query_value(req, "limit"); !v.empty()) {
    filter.limit = static_cast<int>(parse_count(v, "limit", k_max_list_limit));
  }
  Json list = Json::array();
  for (const auto& r : broker_.reservations(filter)) {
    list.push_back(core::encode_reservation(r));
  }
  return json_response(200, items(std::move(list)));
}

ApiResponse Api::get_reservation(const ApiRequest& req, const Params& params) {
  auto r = broker_.reservation(params[0]);
  if (!may_see(req.ctx.identity, r.request.requester_id, r.target_cluster_id)) {
    throw Error(Code::permission_denied,
                fmt::format("{} may not read reservation {}: an agent sees "
                            "only reservations its cluster requested or "
                            "provides",
                            describe(req.ctx.identity), r.id),
                "", "PermissionDenied");
  }
  return json_response(200, core::encode_reservation(r));
}

ApiResponse Api::activate(const ApiRequest& req, const Params& params) {
  Json body = optional_object(req.body, {"grantedResources"});
  std::optional<core::ResourceList> granted;
  if (body.contains("grantedResources")) {
    granted =
        core::decode_resources(body["grantedResources"], "grantedResources");
  }
  return json_response(200, core::encode_reservation(
                                broker_.activate(req.ctx, params[0], granted)));
}

ApiResponse Api::renew(const ApiRequest& req, const Params& params) {
  Json body = optional_object(req.body, {"duration"});
  std::optional<std::int64_t> duration;
  if (body.contains("duration")) {
    duration =
        core::parse_duration_ms(optional_string(body, "duration"), "duration");
  }
  return json_response(200, core::encode_reservation(
                                broker_.renew(req.ctx, params[0], duration)));
}

ApiResponse Api::release(const ApiRequest& req, const Params& params) {
  Json body = optional_object(req.body, {"reason"});
  return json_response(
      200, core::encode_reservation(broker_.release(
               req.ctx, params[0], optional_string(body, "reason"))));
}

ApiResponse Api::explain(const ApiRequest& req, const Params&) {
  auto request = core::decode_request(request_body(req.body));
  return json_response(
      200, core::encode_decision(broker_.explain(std::move(request))));
}

ApiResponse Api::events(const ApiRequest& req, const Params&) {
  check_query_names(req, {"since", "clusterID", "timeout"});
  std::int64_t since = 0;
  if (auto v = query_value(req, "since"); !v.empty()) {
    since = parse_count(v, "since", INT64_MAX);
  }
  auto cluster = query_value(req, "clusterID");
  if (!cluster.empty()) {
    core::check_dns_label(cluster, "clusterID");
  }
  // An agent follows its own cluster, whether it says so or not.
  const Identity& who = req.ctx.identity;
  if (who.role == Role::agent && cluster.empty()) {
    cluster = who.cluster_id;
  }
  check_allowed(who, Permission::watch, cluster);
  std::int64_t timeout = k_default_watch_ms;
  if (auto v = query_value(req, "timeout"); !v.empty()) {
    timeout = core::parse_duration_ms(v, "timeout", true);
  }

  auto page = broker_.watch(since, cluster, timeout);
  ApiResponse r;
  r.body = "{\"events\":[";
  for (size_t i = 0; i < page.events.size(); ++i) {
    r.body += i == 0 ? "" : ",";
    r.body += page.events[i];
  }
  r.body += fmt::format("],\"lastSeq\":{}}}", page.last_seq);
  return r;
}

} // namespace lrb::daemon
