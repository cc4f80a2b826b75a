// The agent: one per cluster, it turns the cluster's Nodes and Pods into
// an advertisement, keeps the broker current, and makes capacity granted
// elsewhere usable (a Liqo ResourceSlice or hook commands). It is two
// loops on two threads, so that a slow API server or a hook never delays
// the heartbeat: the advertiser reads the inventory and posts it; the
// reconciler follows the broker's events for this cluster and acts on
// reservations. Neither trusts its memory for what is done: after a
// restart the broker's phases and the slices that exist say it, so every
// action is idempotent and each reservation is activated at most once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/types.h"
#include "kube/http.h"
#include "kube/kubeconfig.h"
#include "kube/objects.h"

namespace lrb::daemon {

// Everything `lrb agent` is told on its command line.
struct AgentConfig {
  std::string cluster_id;
  kube::HttpOptions broker;                // URL, TLS and token of the broker
  std::optional<kube::ClusterConfig> kube; // live API; unset with snapshots
  std::vector<std::string> snapshots;      // kubectl JSON files
  std::int64_t interval_ms = 10'000;
  std::string endpoint;
  std::string region; // "" takes the inventory's
  std::map<std::string, std::string> labels;
  std::optional<core::Prices> prices;
  bool liqo = false;
  std::string namespace_template = "liqo-tenant-{cluster}";
  std::string on_reserved;
  std::string on_released;
  std::string on_provide;
  std::int64_t hook_timeout_ms = 120'000;
  std::string state_dir; // "" keeps nothing across restarts
  bool once = false;
  // /healthz and /metrics: off while metrics_port is -1; 0 picks a port,
  // which is then written to metrics_port_file when one is named.
  std::string metrics_host = "127.0.0.1";
  int metrics_port = -1;
  std::string metrics_port_file;
};

// What the agent has done since it started, shared by its loops and
// read by the metrics endpoint.
struct AgentCounters {
  std::atomic<std::int64_t> advertisements{0};
  std::atomic<std::int64_t> advertise_errors{0};
  std::atomic<std::int64_t> slices_created{0};
  std::atomic<std::int64_t> slices_deleted{0};
  std::atomic<std::int64_t> activations{0};
  std::atomic<std::int64_t> releases{0};
  std::atomic<std::int64_t> hooks_run{0};
  std::atomic<std::int64_t> provided{0};
  std::atomic<std::int64_t> last_advertisement_ms{0}; // 0: none yet
};

// Returns the counters in the Prometheus text format, each series
// labelled with `cluster`.
std::string format_agent_metrics(const AgentCounters& counters,
                                 std::string_view cluster);

// One answer of the agent's HTTP endpoint.
struct AgentHttpAnswer {
  int status = 200;
  std::string content_type;
  std::string body;
};

// Answers GET /healthz (200 while `running`, else 503), GET /metrics,
// and anything else with a 404 JSON error.
AgentHttpAnswer agent_http_answer(const AgentCounters& counters,
                                  std::string_view cluster, bool running,
                                  const std::string& method,
                                  const std::string& path);

// The agent's /healthz and /metrics server, on its own thread from
// construction (when the config asks for one) to destruction.
class AgentMetricsServer {
public:
  // Binds config.metrics_host:metrics_port and writes the port file;
  // does nothing when metrics_port is -1. Throws Error(unavailable)
  // naming --metrics-listen when the address cannot be bound.
  AgentMetricsServer(const AgentConfig& config, const AgentCounters& counters,
                     const std::atomic<bool>& running);
  // Stops the server and joins its thread.
  ~AgentMetricsServer();
  AgentMetricsServer(const AgentMetricsServer&) = delete;
  AgentMetricsServer& operator=(const AgentMetricsServer&) = delete;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the inventory of one pass gave: the advertisement's body and the
// pods Liqo offloaded here, summed per origin (requester) cluster.
struct ClusterView {
  core::Advertisement ad;
  std::map<std::string, core::ResourceList> offloaded;
};

// Label Liqo puts on a pod it offloaded, naming the origin cluster.
inline constexpr std::string_view k_origin_label = "liqo.io/origin-cluster-id";
// Label lrb puts on a slice, naming its reservation.
inline constexpr std::string_view k_reservation_label = "lrb.io/reservation-id";

// Returns the next generation: max(last + 1, now_ms), so it grows across
// restarts even when the clock steps back.
std::int64_t next_generation(std::int64_t last, std::int64_t now_ms);

// Keeps the last generation sent in DIR/generation (written by rename,
// so a crash leaves the old or the new value, never half of one).
class GenerationStore {
public:
  // Uses `state_dir` ("" keeps the value in memory only).
  explicit GenerationStore(std::string state_dir);
  // Returns the next generation for `now_ms` and persists it; throws
  // Error(unavailable) naming the file when it cannot be written.
  std::int64_t advance(std::int64_t now_ms);

private:
  std::string path_;
  std::int64_t last_ = 0;
};

// Returns what runs here per reservation id: the pods offloaded from each
// requester, handed to that requester's holding reservations on this
// cluster in id order, each capped at its granted amounts. Pods beyond
// every grant are not attributed (an approximation: Liqo does not say
// which reservation a pod belongs to).
std::map<std::string, core::ResourceList>
attribute_consumed(const std::map<std::string, core::ResourceList>& offloaded,
                   const std::vector<core::Reservation>& provided);

// Returns the tenant namespace for `provider` from a template holding
// "{cluster}".
std::string tenant_namespace(std::string_view templ, std::string_view provider);

// Returns the Liqo ResourceSlice asking `provider` for the reservation's
// amounts, named after the reservation and labelled with its id.
core::Json slice_object(const core::Reservation& r, std::string_view ns);

// Returns the API path of the slice collection in `ns` ("" for all).
std::string slice_path(std::string_view ns);

// The provider's answer to a slice, as its Resources condition says.
enum class SliceAnswer { none, accepted, denied };

// Reads the Resources condition of a slice's status.
SliceAnswer slice_answer(const core::Json& slice);

// What the reconciler does for one reservation it requested.
enum class Action {
  none,         // nothing to do (already done, or not ours to do)
  create_slice, // Reserved, no slice yet
  wait,         // Reserved, slice exists, provider has not answered
  activate,     // Reserved and accepted (or the hook succeeded)
  release,      // Reserved and denied (or the hook failed)
  delete_slice, // the reservation ended and its slice remains
  run_hook,     // Reserved, hooks mode
};

// Decides the action for a requester's reservation in `phase` given
// whether its slice exists and what the provider answered (Liqo mode),
// or for hooks mode when `liqo` is false.
Action decide(core::Phase phase, bool liqo, bool slice_exists,
              SliceAnswer answer);

// Returns the printable name of an action ("create_slice").
std::string_view action_name(Action action);

// Returns the hook environment for a reservation: LRB_RESERVATION_ID,
// LRB_PROVIDER, LRB_PROVIDER_ENDPOINT, LRB_REQUESTER, LRB_CPU,
// LRB_MEMORY, LRB_GPU (quantities as Kubernetes writes them).
std::map<std::string, std::string> hook_environment(const core::Reservation& r);

// How a hook ended.
struct HookResult {
  int exit_code = -1; // -1 when killed or it could not start
  bool timed_out = false;
  std::string stderr_text;
  // Returns the last non-empty line of stderr, trimmed.
  std::string last_line() const;
};

// Runs `command` with /bin/sh -c, `stdin_text` on its stdin and `env`
// added to the environment, killing its process group after
// `timeout_ms`.
HookResult run_hook(const std::string& command,
                    const std::map<std::string, std::string>& env,
                    const std::string& stdin_text, std::int64_t timeout_ms);

// Reads the cluster from snapshots or the API into a view whose
// advertisement has everything but generation, timestamp and consumed.
ClusterView read_cluster(const AgentConfig& config);

// Returns whether two advertisements differ in anything but generation
// and timestamp.
bool advertisement_changed(const core::Advertisement& a,
                           const core::Advertisement& b);

// Runs the agent until `stop` becomes true (or after one advertisement
// with `once`); returns the exit code. Broker and API errors are logged
// and retried, never fatal.
int run_agent(const AgentConfig& config, const std::atomic<bool>& stop);

} // namespace lrb::daemon
