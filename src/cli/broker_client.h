// The CLI's side of the broker's HTTP API (DESIGN.md sections 4 and 5).
// Verbs ask for objects and get the broker's own JSON back, so that
// -o json prints exactly what the API said and tables decode it with
// core's decoders. Every failure leaves this file as a core::Error whose
// code follows the HTTP status (so exit codes follow core's one table),
// whose message starts with what was being done, and, when the broker
// cannot be reached, says which URL was tried and how to point the CLI
// elsewhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cli/app.h"
#include "core/error.h"
#include "core/json.h"
#include "kube/http.h"

namespace lrb::cli {

// Filters of `lrb get reservations`; empty fields do not filter.
struct ReservationFilter {
  std::string requester; // requesterID=
  std::string provider;  // targetClusterID=
  std::string phase;     // phase=, comma-separated phases
};

// Returns the HTTP options for the broker from resolved globals: URL,
// TLS files, bearer token, and a read timeout longer than any watch.
kube::HttpOptions http_options(const Globals& globals);

// Returns the error for a non-2xx answer: the code from the status, the
// broker's message, field and reason from its error body when it sent
// one, and `action` ("get reservation r-1") in front of the message.
core::Error response_error(int status, std::string_view body,
                           std::string_view action);

// Returns the query string (with its leading '?', or "") for a filter.
std::string reservation_query(const ReservationFilter& filter);

// A client of one broker. Not thread-safe; one per verb run.
class BrokerClient {
public:
  // Prepares a client for the broker the globals name, giving up on a
  // connection or an answer after `timeout` (by default longer than any
  // watch); warns on stderr when certificate verification is off.
  explicit BrokerClient(const Globals& globals,
                        std::chrono::milliseconds timeout = k_read_timeout);

  // The default time to wait for an answer: a watch is held open for up
  // to 30 s by the broker.
  static constexpr std::chrono::milliseconds k_read_timeout{45'000};

  // Sends GET `path`; returns the JSON body of a 2xx answer.
  core::Json get(std::string_view path, std::string_view action);

  // Sends POST `path` with `body`; returns the JSON body of a 2xx answer.
  core::Json post(std::string_view path, const core::Json& body,
                  std::string_view action,
                  const std::map<std::string, std::string>& headers = {});

  // Returns {"items": [cluster...]}.
  core::Json clusters();
  // Returns one cluster.
  core::Json cluster(std::string_view id);
  // Returns {"items": [reservation...]} matching `filter`.
  core::Json reservations(const ReservationFilter& filter);
  // Returns one reservation.
  core::Json reservation(std::string_view id);

  // Creates a reservation; returns it (phase Reserved or Failed).
  core::Json create(const core::Json& request,
                    const std::string& idempotency_key);
  // Returns the decision for a request, without locking anything.
  core::Json explain(const core::Json& request);
  // Runs a lifecycle step ("activate", "renew", "release") on `id`.
  core::Json lifecycle(std::string_view id, std::string_view step,
                       const core::Json& body);
  // Cordons (or uncordons) a cluster; returns the broker's answer.
  core::Json cordon(std::string_view id, bool cordon);

  // Returns {"events": [...], "lastSeq": N}: events after `since` that
  // concern `cluster` ("" for all), waiting up to `timeout_ms` for one.
  core::Json events(std::int64_t since, std::string_view cluster,
                    std::int64_t timeout_ms);

  // Returns the broker's version string.
  std::string version();

  // Returns the broker's base URL.
  const std::string& url() const { return url_; }

private:
  core::Json send(std::string_view method, std::string_view path,
                  std::string_view body, std::string_view action,
                  const std::map<std::string, std::string>& headers);

  std::string url_;
  std::string source_;
  kube::HttpClient http_;
};

} // namespace lrb::cli
