// The agent's /healthz and /metrics. An agent has no API of its own, so
// it gets the transport's small server rather than the broker's Api:
// the only questions asked of it are "are the loops alive" (a probe)
// and "what have they done" (a scrape). The text is built from the
// atomic counters at the moment of the scrape; a counter may be one
// step ahead of another, which Prometheus tolerates. Health is whether
// the loops still run, not whether the broker answers: a broker outage
// must not make Kubernetes restart every agent, which would not help.
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "daemon/agent.h"
#include "daemon/api.h"
#include "daemon/http_server.h"
#include "daemon/metrics.h"

namespace lrb::daemon {

namespace {

using core::Code;
using core::Error;

// One series of the agent's metrics.
struct Series {
  std::string_view name;
  std::string_view type;
  std::string_view help;
  const std::atomic<std::int64_t>& value;
};

std::vector<Series> series_of(const AgentCounters& c) {
  return {
      {"lrb_agent_advertisements_total", "counter",
       "Advertisements the broker accepted.", c.advertisements},
      {"lrb_agent_advertise_errors_total", "counter",
       "Advertisements that failed or were refused.", c.advertise_errors},
      {"lrb_agent_slices_created_total", "counter",
       "Liqo ResourceSlices created.", c.slices_created},
      {"lrb_agent_slices_deleted_total", "counter",
       "Liqo ResourceSlices deleted.", c.slices_deleted},
      {"lrb_agent_activations_total", "counter",
       "Reservations this agent activated.", c.activations},
      {"lrb_agent_releases_total", "counter",
       "Reservations this agent released.", c.releases},
      {"lrb_agent_hooks_run_total", "counter", "Hook commands run.",
       c.hooks_run},
      {"lrb_agent_reservations_provided_total", "counter",
       "Reservations seen that this cluster provides.", c.provided},
  };
}

} // namespace

std::string format_agent_metrics(const AgentCounters& counters,
                                 std::string_view cluster) {
  const std::string label = escape_label(cluster);
  std::string out;
  for (const auto& s : series_of(counters)) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0}{{cluster=\"{3}\"}} "
                       "{4}\n",
                       s.name, s.help, s.type, label, s.value.load());
  }
  // Milliseconds to seconds, exact to the millisecond.
  std::int64_t ms = counters.last_advertisement_ms.load();
  out += fmt::format(
      "# HELP lrb_agent_last_advertisement_timestamp_seconds Unix time of "
      "the last accepted advertisement (0: none yet).\n"
      "# TYPE lrb_agent_last_advertisement_timestamp_seconds gauge\n"
      "lrb_agent_last_advertisement_timestamp_seconds{{cluster=\"{}\"}} "
      "{}.{:03}\n",
      label, ms / 1000, ms % 1000);
  return out;
}

AgentHttpAnswer agent_http_answer(const AgentCounters& counters,
                                  std::string_view cluster, bool running,
                                  const std::string& method,
                                  const std::string& path) {
  const std::string text = "text/plain; charset=utf-8";
  if (method == "GET" && path == "/healthz") {
    return running ? AgentHttpAnswer{200, text, "ok\n"}
                   : AgentHttpAnswer{503, text, "stopping\n"};
  }
  if (method == "GET" && path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8",
            format_agent_metrics(counters, cluster)};
  }
  auto r = error_response(
      Error(Code::not_found,
            fmt::format("no {} {} here: the agent serves GET /healthz and GET "
                        "/metrics",
                        method, path),
            "", "NotFound"));
  return {r.status, r.content_type, r.body};
}

struct AgentMetricsServer::Impl {
  std::unique_ptr<SimpleHttpServer> server;
  std::thread thread;
};

AgentMetricsServer::AgentMetricsServer(const AgentConfig& config,
                                       const AgentCounters& counters,
                                       const std::atomic<bool>& running)
    : impl_(std::make_unique<Impl>()) {
  if (config.metrics_port < 0) {
    return;
  }
  auto handler = [&counters, &running, cluster = config.cluster_id](
                     const std::string& method, const std::string& path) {
    auto a = agent_http_answer(counters, cluster, running, method, path);
    return SimpleResponse{a.status, a.content_type, a.body};
  };
  impl_->server = std::make_unique<SimpleHttpServer>(
      config.metrics_host, config.metrics_port, handler);
  int port = 0;
  try {
    port = impl_->server->bind();
  } catch (const Error& e) {
    throw Error(Code::unavailable,
                fmt::format("--metrics-listen: {}", e.what()),
                "--metrics-listen");
  }
  if (!config.metrics_port_file.empty()) {
    write_port_file(config.metrics_port_file, port, "--metrics-port-file");
  }
  LRB_LOG(info, "metrics listening",
          kv("addr", fmt::format("{}:{}", config.metrics_host, port)));
  impl_->thread = std::thread([s = impl_->server.get()] { s->serve(); });
}

AgentMetricsServer::~AgentMetricsServer() {
  if (impl_->server) {
    impl_->server->stop();
  }
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

} // namespace lrb::daemon
