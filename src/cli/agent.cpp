// `lrb agent --cluster rome`: runs the agent of one cluster (DESIGN.md
// section 8). This file only turns flags into an AgentConfig and checks
// them, so that every mistake an operator can make on the command line
// (a cluster id that is not a DNS label, a price that is not a number,
// --liqo without an API server) stops the start with exit 2 and the
// flag named, instead of surfacing later inside a loop that retries
// forever. The loops themselves live in daemon/agent.cpp.
#include "daemon/agent.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/json.h"
#include "kube/kubeconfig.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
  g_stop = true;
}

struct AgentFlags {
  std::string cluster;
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> snapshots;
  std::string interval = "10s";
  std::string endpoint;
  std::string region;
  std::vector<std::string> labels;
  std::string prices_file;
  std::string cpu_price, memory_price, gpu_price;
  std::vector<std::string> gpu_price_models;
  bool liqo = false;
  std::string namespace_template = "liqo-tenant-{cluster}";
  std::string on_reserved, on_released, on_provide;
  std::string hook_timeout = "2m";
  std::string state_dir;
  bool once = false;
  std::string metrics_listen;
  std::string metrics_port_file;
};

Error usage(std::string message, std::string field) {
  return Error(Code::invalid_argument, std::move(message), std::move(field));
}

// Splits "K=V"; throws naming `flag` when there is no '=' or no key.
std::pair<std::string, std::string> split_pair(const std::string& text,
                                               const std::string& flag) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw usage(fmt::format("{}: \"{}\" is not KEY=VALUE", flag, text), flag);
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

double parse_price(const std::string& text, const std::string& flag) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v >= 0)) {
    throw usage(fmt::format("{}: \"{}\" is not a price (a number >= 0, per "
                            "hour)",
                            flag, text),
                flag);
  }
  return v;
}

std::optional<core::Prices> prices_from_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    throw usage(fmt::format("--prices: cannot read \"{}\"", path), "--prices");
  }
  try {
    return core::decode_prices(core::parse_json(text.str()), "prices");
  } catch (const Error& e) {
    throw usage(fmt::format("--prices {}: {}", path, e.what()), "--prices");
  }
}

std::optional<core::Prices> prices_of(const AgentFlags& f) {
  if (!f.prices_file.empty()) {
    return prices_from_file(f.prices_file);
  }
  if (f.cpu_price.empty() && f.memory_price.empty() && f.gpu_price.empty() &&
      f.gpu_price_models.empty()) {
    return std::nullopt;
  }
  core::Prices p;
  if (!f.cpu_price.empty()) {
    p.cpu_per_hour = parse_price(f.cpu_price, "--cpu-price");
  }
  if (!f.memory_price.empty()) {
    p.memory_gib_per_hour = parse_price(f.memory_price, "--memory-price");
  }
  if (!f.gpu_price.empty()) {
    p.gpu_per_hour["default"] = parse_price(f.gpu_price, "--gpu-price");
  }
  for (const auto& text : f.gpu_price_models) {
    auto [model, price] = split_pair(text, "--gpu-price-model");
    p.gpu_per_hour[model] = parse_price(price, "--gpu-price-model");
  }
  return p;
}

// Returns the API server to use: --kubeconfig, in-cluster, or none.
std::optional<kube::ClusterConfig> kube_of(const AgentFlags& f) {
  if (!f.kubeconfig.empty()) {
    return kube::load_kubeconfig(kube::kubeconfig_files_from_env(f.kubeconfig),
                                 f.context);
  }
  if (f.snapshots.empty() && std::getenv("KUBERNETES_SERVICE_HOST")) {
    return kube::load_in_cluster();
  }
  return std::nullopt;
}

// Sets the metrics address from "HOST:PORT" ("[::1]:9090" for IPv6).
void parse_metrics_listen(const std::string& text, daemon::AgentConfig& c) {
  auto colon = text.rfind(':');
  std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  char* end = nullptr;
  long value = std::strtol(port.c_str(), &end, 10);
  if (colon == 0 || port.empty() || end != port.c_str() + port.size() ||
      value < 0 || value > 65535) {
    throw usage(fmt::format("--metrics-listen must be HOST:PORT with a port "
                            "from 0 to 65535, such as 0.0.0.0:9090, not "
                            "\"{}\"",
                            text),
                "--metrics-listen");
  }
  c.metrics_host = text.substr(0, colon);
  if (c.metrics_host.size() > 2 && c.metrics_host.front() == '[') {
    c.metrics_host = c.metrics_host.substr(1, c.metrics_host.size() - 2);
  }
  c.metrics_port = static_cast<int>(value);
}

void metrics_of(const AgentFlags& f, daemon::AgentConfig& c) {
  if (!f.metrics_listen.empty()) {
    parse_metrics_listen(f.metrics_listen, c);
  } else if (!f.metrics_port_file.empty()) {
    throw usage("--metrics-port-file needs --metrics-listen HOST:PORT",
                "--metrics-port-file");
  }
  c.metrics_port_file = f.metrics_port_file;
}

daemon::AgentConfig config_of(const AgentFlags& f, const Globals& g) {
  require_value(f.cluster, "--cluster",
                "name this cluster, e.g. --cluster rome");
  core::check_dns_label(f.cluster, "--cluster");
  daemon::AgentConfig c;
  c.cluster_id = f.cluster;
  c.broker = http_options(g);
  if (g.insecure_skip_tls_verify && g.broker.starts_with("https://")) {
    print_warning("--insecure-skip-tls-verify: the broker's certificate is "
                  "not verified; anyone between here and the broker can "
                  "read and change this agent's traffic");
  }
  c.kube = kube_of(f);
  c.snapshots = f.snapshots;
  if (!c.kube && c.snapshots.empty()) {
    throw usage("agent needs --snapshot FILE, --kubeconfig PATH, or to run "
                "in a pod (KUBERNETES_SERVICE_HOST)",
                "--snapshot");
  }
  if ((f.liqo) && !c.kube) {
    throw usage("--liqo creates ResourceSlices through the API server: give "
                "--kubeconfig PATH (or run in a pod)",
                "--liqo");
  }
  c.interval_ms = core::parse_duration_ms(f.interval, "--interval");
  c.hook_timeout_ms = core::parse_duration_ms(f.hook_timeout, "--hook-timeout");
  c.endpoint = f.endpoint;
  c.region = f.region;
  for (const auto& l : f.labels) {
    c.labels.insert(split_pair(l, "--label"));
  }
  c.prices = prices_of(f);
  c.liqo = f.liqo;
  if (f.namespace_template.find("{cluster}") == std::string::npos) {
    throw usage("--liqo-namespace-template must contain {cluster}",
                "--liqo-namespace-template");
  }
  c.namespace_template = f.namespace_template;
  c.on_reserved = f.on_reserved;
  c.on_released = f.on_released;
  c.on_provide = f.on_provide;
  c.state_dir = f.state_dir;
  c.once = f.once;
  metrics_of(f, c);
  return c;
}

int run_agent_verb(const AgentFlags& f, const Globals& g) {
  daemon::AgentConfig config = config_of(f, g);
  // A peer closing a TLS connection mid-write must be an error to
  // retry, not the end of the agent.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  return daemon::run_agent(config, g_stop);
}

void add_flags(CLI::App* cmd, AgentFlags& f) {
  cmd->add_option("--cluster", f.cluster, "This cluster's id (a DNS label)")
      ->type_name(std::string(k_type_cluster));
  cmd->add_option("--kubeconfig", f.kubeconfig,
                  "Read the cluster through this kubeconfig")
      ->type_name(std::string(k_type_file));
  cmd->add_option("--context", f.context, "The kubeconfig context to use");
  cmd->add_option("--snapshot", f.snapshots,
                  "Read nodes and pods from this `kubectl get nodes,pods -A "
                  "-o json` file, re-read every interval (repeatable)")
      ->type_name(std::string(k_type_file));
  cmd->add_option("--interval", f.interval,
                  "Advertise at least this often (default 10s)");
  cmd->add_option("--endpoint", f.endpoint,
                  "API server URL to advertise (default: the kubeconfig's)");
  cmd->add_option("--region", f.region,
                  "Region to advertise (default: the nodes' label)");
  cmd->add_option("--label", f.labels, "Label K=V to advertise (repeatable)");
  cmd->add_option("--prices", f.prices_file,
                  "JSON file in the advertisement's prices shape")
      ->type_name(std::string(k_type_file));
  cmd->add_option("--cpu-price", f.cpu_price, "Price per core-hour");
  cmd->add_option("--memory-price", f.memory_price, "Price per GiB-hour");
  cmd->add_option("--gpu-price", f.gpu_price, "Price per GPU-hour");
  cmd->add_option("--gpu-price-model", f.gpu_price_models,
                  "Price per GPU-hour of one model, MODEL=PRICE (repeatable)");
  cmd->add_flag("--liqo", f.liqo,
                "Make granted capacity usable with Liqo ResourceSlices");
  cmd->add_option("--liqo-namespace-template", f.namespace_template,
                  "Tenant namespace of a provider (default "
                  "liqo-tenant-{cluster})");
  cmd->add_option("--on-reserved", f.on_reserved,
                  "Command run when a reservation of this cluster is "
                  "Reserved; exit 0 activates it");
  cmd->add_option("--on-released", f.on_released,
                  "Command run when a reservation of this cluster ends");
  cmd->add_option("--on-provide", f.on_provide,
                  "Command run when a reservation targets this cluster");
  cmd->add_option("--hook-timeout", f.hook_timeout,
                  "Kill a hook after this long (default 2m)");
  cmd->add_option("--state-dir", f.state_dir,
                  "Directory keeping the generation and event position");
  cmd->add_option("--metrics-listen", f.metrics_listen,
                  "Serve /healthz and /metrics on HOST:PORT (port 0 picks "
                  "one; default off)");
  cmd->add_option("--metrics-port-file", f.metrics_port_file,
                  "Write the bound metrics port to this file")
      ->type_name(std::string(k_type_file));
  cmd->add_flag("--once", f.once,
                "Advertise once and exit (for scripts and tests)");
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "agent", "Run the agent of one cluster: advertise it and act on its "
               "reservations");
  auto f = std::make_shared<AgentFlags>();
  add_flags(cmd, *f);
  cmd->callback([f, &globals] {
    globals.action = [f, &globals] { return run_agent_verb(*f, globals); };
  });
}

const VerbRegistrar k_registrar({"agent", 710, setup});

} // namespace

} // namespace lrb::cli
