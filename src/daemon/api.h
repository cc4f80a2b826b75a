// The broker's HTTP API without the HTTP: routing, query and body
// decoding, the call into the Broker service and the encoding of its
// answer or error. Keeping this apart from the server (http_server.cpp,
// the only file that touches cpp-httplib's server) means every endpoint
// is unit-tested without a socket, and the transport can change without
// touching a handler.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

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
};

// Returns the JSON error response for `error` ({"error": {...}} with the
// code's HTTP status).
ApiResponse error_response(const core::Error& error);

// Routes requests to the broker. Thread-safe (it holds no state of its
// own besides the broker).
class Api {
public:
  explicit Api(Broker& broker);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Handles one request; never throws: every failure becomes an error
  // response (a bug becomes a 500 and an error log line).
  ApiResponse handle(const ApiRequest& request) noexcept;

  // Returns the route templates this API serves ("GET /healthz", ...).
  std::vector<std::string> routes() const;

private:
  struct Route;
  using Params = std::vector<std::string>;
  using Handler = ApiResponse (Api::*)(const ApiRequest&, const Params&);

  ApiResponse dispatch(const ApiRequest& request);

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
  std::vector<Route> routes_;
};

} // namespace lrb::daemon
