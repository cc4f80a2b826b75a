// The broker's HTTP API without the HTTP: routing, authentication and
// authorization, query and body decoding, the call into the Broker
// service and the encoding of its answer or error. Keeping this apart
// from the server (http_server.cpp, the only file that touches
// cpp-httplib's server) means every endpoint and every rule of who may
// call it is unit-tested without a socket, and the transport can change
// without touching a handler.
//
// Every route names the action it is (identity.h's table): the caller
// is authenticated and the role checked before the handler runs; the
// handlers then scope what an agent sees and does to its own cluster.
// The health endpoints and /version stay open; /metrics is open unless
// the Authenticator protects it.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "daemon/auth.h"
#include "daemon/broker.h"
#include "daemon/identity.h"

namespace lrb::daemon {

// One request as the transport received it.
struct ApiRequest {
  std::string method;                            // "GET", "POST", ...
  std::string path;                              // without the query
  std::multimap<std::string, std::string> query; // decoded parameters
  std::map<std::string, std::string> headers;    // names lower-cased
  std::string body;
  RequestContext ctx;
};

// One response for the transport to send.
struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string route = "unmatched"; // the route template, for metrics
  std::string subject; // the authenticated caller, for the request log
};

// Returns the JSON error response for `error` ({"error": {...}} with the
// code's HTTP status).
ApiResponse error_response(const core::Error& error);

// Routes requests to the broker. Thread-safe (it holds no state of its
// own besides the broker and the immutable Authenticator).
class Api {
public:
  // Serves `broker`; `auth` decides who callers are (by default every
  // caller is an anonymous admin).
  explicit Api(Broker& broker, Authenticator auth = {});
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Handles one request; never throws: every failure becomes an error
  // response (a bug becomes a 500 and an error log line). A request
  // without valid credentials, when authentication is on, is answered
  // 401 with a WWW-Authenticate header; one its role may not make, 403.
  ApiResponse handle(ApiRequest request) noexcept;

  // Returns the route templates this API serves ("GET /healthz", ...).
  std::vector<std::string> routes() const;

private:
  struct Route;
  using Params = std::vector<std::string>;
  using Handler = ApiResponse (Api::*)(const ApiRequest&, const Params&);

  ApiResponse dispatch(ApiRequest& request);
  void authenticate(const Route& route, ApiRequest& request) const;

  ApiResponse healthz(const ApiRequest&, const Params&);
  ApiResponse readyz(const ApiRequest&, const Params&);
  ApiResponse version(const ApiRequest&, const Params&);
  ApiResponse metrics(const ApiRequest&, const Params&);
  ApiResponse advertise(const ApiRequest&, const Params&);
  ApiResponse list_clusters(const ApiRequest&, const Params&);
  ApiResponse get_cluster(const ApiRequest&, const Params&);
  ApiResponse cordon(const ApiRequest&, const Params&);
  ApiResponse uncordon(const ApiRequest&, const Params&);
  ApiResponse create(const ApiRequest&, const Params&);
  ApiResponse list_reservations(const ApiRequest&, const Params&);
  ApiResponse get_reservation(const ApiRequest&, const Params&);
  ApiResponse activate(const ApiRequest&, const Params&);
  ApiResponse renew(const ApiRequest&, const Params&);
  ApiResponse release(const ApiRequest&, const Params&);
  ApiResponse explain(const ApiRequest&, const Params&);
  ApiResponse events(const ApiRequest&, const Params&);

  Broker& broker_;
  Authenticator auth_;
  std::vector<Route> routes_;
};

} // namespace lrb::daemon
