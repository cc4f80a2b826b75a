// The Kubernetes API client of lrb: JSON over HTTPS with the habits of
// client-go that matter to an agent reading a large cluster. Reads are
// retried with jittered, bounded backoff on transport errors, 429 and
// 5xx (never on other 4xx); a 401 triggers one re-authentication; lists
// are paged with limit/continue and handed over one page at a time, so
// 150,000 pods never sit in one response, and a list whose continue
// token expired (410) starts again. Failures carry the API server's own
// Status reason and message.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "kube/credentials.h"
#include "kube/kubeconfig.h"

namespace lrb::kube {

using Json = nlohmann::json;

// How requests are retried.
struct RetryPolicy {
  int max_attempts = 5; // including the first
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
};

// Tunables of a KubeClient; the defaults suit a real cluster.
struct KubeClientOptions {
  RetryPolicy retry;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{30000};
  int max_list_restarts = 3; // 410 restarts of one list before giving up
  std::string user_agent = "lrb";
  std::uint64_t jitter_seed = 0; // 0: seeded from the system
  // Waits between attempts; tests replace it to record the delays.
  std::function<void(std::chrono::milliseconds)> sleep;
  const core::Clock* clock = nullptr; // default: the system clock
  Credentials::Options credentials;
};

// One page of a list, as handed to the caller.
struct ListPage {
  const Json& items;                     // the page's items (a JSON array)
  std::string resource_version;          // of the list as a whole
  std::optional<std::int64_t> remaining; // remainingItemCount, if sent
  int index;                             // 0 for the first page of a pass
  bool restarted; // the list started over: drop what earlier pages gave
};

// A client for one API server as one user. Not thread-safe: use one per
// thread (they may share nothing but the config).
class KubeClient {
public:
  // Prepares the connection and credentials; throws Error as HttpClient
  // and Credentials do for bad TLS material.
  explicit KubeClient(ClusterConfig config, KubeClientOptions options = {});
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // GETs an object or any JSON document at `path` (with its query).
  Json get(std::string_view path);

  // Lists the collection at `path` in pages of `limit` items (0: all at
  // once), calling `on_page` for each; returns the list's
  // resourceVersion. Restarts on 410 Expired at most max_list_restarts
  // times, then throws Error(gone).
  std::string list(std::string_view path, std::int64_t limit,
                   const std::function<void(const ListPage&)>& on_page);

  // POSTs `object` to the collection at `path`; returns the created
  // object. A duplicate is Error(conflict) with reason AlreadyExists.
  Json create(std::string_view path, const Json& object);

  // DELETEs the object at `path`; a missing one is Error(not_found).
  void remove(std::string_view path);

  // Returns the configuration this client talks with.
  const ClusterConfig& config() const;

private:
  // Returns one page, or nullopt when its continue token expired.
  std::optional<Json> fetch_page(std::string_view path, std::int64_t limit,
                                 const std::string& continue_token,
                                 int& restarts);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds the Error for a non-2xx answer: the code from the HTTP status,
// the reason and message from a Kubernetes Status body when there is
// one ("kubernetes API 403 Forbidden: nodes is forbidden: ...").
core::Error status_error(int http_status, std::string_view body);

} // namespace lrb::kube
