// `lrb sim` and `lrb sim snapshot`: the trace replay, and the generator
// of kubectl-shaped cluster snapshots from the same trace. Both read the
// carried CSV files here (core parses text only) and leave every
// decision to the daemon's replay engine, so the verb is flags in and a
// report out. The report's field names are part of the interface:
// scripts compare policies by reading `-o json` or `-o csv`.
#include "daemon/sim.h"

#include <charconv>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/quoting.h"
#include "core/trace.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

// The flags of `lrb sim`.
struct SimFlags {
  std::string nodes, pods, prices, split, regions, policy = "weighted";
  std::string weights, output;
  int clusters = 0;
  std::uint64_t seed = 1;
  std::size_t limit = 0;
};

// The flags of `lrb sim snapshot`.
struct SnapshotFlags {
  std::string nodes, pods, share = "1/1", cluster, region, out;
  std::uint64_t seed = 1;
  std::int64_t at = 0;
  bool cpu_only = false;
};

std::string read_text(const std::string& path, std::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(
        Code::invalid_argument,
        fmt::format("{}: cannot read \"{}\": check the path", flag, path),
        std::string(flag), "UnreadableFile");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

double parse_weight(const std::string& text) {
  double value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    throw Error(Code::invalid_argument,
                fmt::format("--weights: {} is not a number: write two "
                            "weights such as 0.7,0.3",
                            core::quote_input(text)),
                "--weights", "InvalidWeights");
  }
  return value;
}

core::PolicySpec policy_of(const SimFlags& f) {
  core::PolicySpec policy;
  policy.name = f.policy;
  if (!f.weights.empty()) {
    auto w = split_list(f.weights);
    if (w.size() != 2) {
      throw Error(Code::invalid_argument,
                  "--weights needs two numbers, resource and cost, such as "
                  "0.7,0.3",
                  "--weights", "InvalidWeights");
    }
    policy.resource_weight = parse_weight(w[0]);
    policy.cost_weight = parse_weight(w[1]);
  }
  return policy;
}

// The cluster ids and node groups: round-robin "c1".."cN", or by the
// --split file's `node,cluster` rows (clusters in order of appearance).
std::vector<std::pair<std::string, std::vector<core::TraceNode>>>
group_nodes(const SimFlags& f, const std::vector<core::TraceNode>& nodes) {
  std::vector<std::pair<std::string, std::vector<core::TraceNode>>> out;
  if (f.split.empty()) {
    auto groups = daemon::split_round_robin(nodes, f.clusters);
    for (std::size_t i = 0; i < groups.size(); ++i) {
      out.emplace_back(fmt::format("c{}", i + 1), std::move(groups[i]));
    }
    return out;
  }
  std::map<std::string, std::string> cluster_of;
  std::map<std::string, std::size_t> position;
  auto rows = core::parse_csv(read_text(f.split, "--split"), f.split);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].size() != 2) {
      throw Error(Code::invalid_argument,
                  fmt::format("{}: row {} needs 2 fields, node,cluster",
                              f.split, i + 1),
                  "--split", "InvalidCSV");
    }
    core::check_dns_label(rows[i][1], "--split");
    cluster_of[rows[i][0]] = rows[i][1];
    if (position.emplace(rows[i][1], out.size()).second) {
      out.emplace_back(rows[i][1], std::vector<core::TraceNode>{});
    }
  }
  for (const auto& n : nodes) {
    if (auto it = cluster_of.find(n.name); it != cluster_of.end()) {
      out[position.at(it->second)].second.push_back(n);
    }
  }
  return out;
}

// The region of each cluster: --regions in order, else the first GCP
// regions of the prices file.
std::vector<const core::RegionPrice*>
pick_regions(const SimFlags& f, const std::vector<core::RegionPrice>& all,
             std::size_t n) {
  std::vector<const core::RegionPrice*> out;
  for (const auto& name : split_list(f.regions)) {
    out.push_back(&core::find_region(all, name, "--regions"));
  }
  for (std::size_t i = 0; i < all.size() && out.size() < n; ++i) {
    if (f.regions.empty() && all[i].cloud == "gcp") {
      out.push_back(&all[i]);
    }
  }
  if (out.size() != n) {
    throw Error(Code::invalid_argument,
                fmt::format("{} regions for {} clusters: give one region per "
                            "cluster with --regions",
                            out.size(), n),
                "--regions", "RegionCount");
  }
  return out;
}

core::Prices prices_of(const core::RegionPrice& region,
                       const std::vector<core::RegionPrice>& all) {
  core::Prices p;
  p.cpu_per_hour = region.cpu_per_hour;
  p.memory_gib_per_hour = region.memory_gib_per_hour;
  if (auto gpu = core::gpu_price_or_fallback(region, all)) {
    p.gpu_per_hour["default"] = *gpu;
  }
  return p;
}

std::vector<daemon::SimCluster> build_clusters(const SimFlags& f) {
  auto nodes = core::parse_trace_nodes(read_text(f.nodes, "--nodes"), f.nodes);
  auto prices =
      core::parse_region_prices(read_text(f.prices, "--prices"), f.prices);
  auto groups = group_nodes(f, nodes);
  auto regions = pick_regions(f, prices, groups.size());
  std::vector<daemon::SimCluster> out;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    out.push_back({groups[i].first, regions[i]->cloud, regions[i]->region,
                   prices_of(*regions[i], prices),
                   std::move(groups[i].second)});
  }
  return out;
}

core::Json cluster_json(const daemon::SimClusterResult& c) {
  return {
      {"cluster", c.id},
      {"region", c.region},
      {"nodes", c.nodes},
      {"allocatable", core::encode_resources(c.allocatable)},
      {"requested", c.requested},
      {"served", c.served},
      {"costUSD", c.cost_usd},
      {"utilization",
       {{"cpu", c.util_cpu}, {"memory", c.util_memory}, {"gpu", c.util_gpu}}}};
}

core::Json result_json(const daemon::SimResult& r) {
  core::Json clusters = core::Json::array();
  for (const auto& c : r.clusters) {
    clusters.push_back(cluster_json(c));
  }
  return {{"policy", r.policy},
          {"seed", r.seed},
          {"requests", r.requests},
          {"accepted", r.accepted},
          {"rejected", r.rejected},
          {"acceptanceRate", r.acceptance_rate},
          {"totalCostUSD", r.total_cost_usd},
          {"meanCostUSD", r.mean_cost_usd},
          {"gpuFragmentation", r.gpu_fragmentation},
          {"typicalGPURequest", core::encode_resources(r.typical_gpu_request)},
          {"spanSeconds", r.span_seconds},
          {"clusters", clusters}};
}

std::string result_csv(const daemon::SimResult& r) {
  std::string out = "policy,seed,clusters,requests,accepted,rejected,"
                    "acceptance_rate,total_cost_usd,mean_cost_usd,"
                    "gpu_fragmentation\n";
  out += fmt::format("{},{},{},{},{},{},{:.6f},{:.2f},{:.4f},{:.6f}\n",
                     r.policy, r.seed, r.clusters.size(), r.requests,
                     r.accepted, r.rejected, r.acceptance_rate,
                     r.total_cost_usd, r.mean_cost_usd, r.gpu_fragmentation);
  return out;
}

std::string percent(double share) {
  return fmt::format("{:.1f}%", 100 * share);
}

std::string result_table(const daemon::SimResult& r) {
  std::string out = fmt::format(
      "policy {}  seed {}  span {:.1f} days\n"
      "requests {}  accepted {}  rejected {}  acceptance {}\n"
      "total cost ${:.2f}  mean per reservation ${:.4f}  "
      "GPU fragmentation {}\n\n",
      r.policy, r.seed, double(r.span_seconds) / 86'400, r.requests, r.accepted,
      r.rejected, percent(r.acceptance_rate), r.total_cost_usd, r.mean_cost_usd,
      percent(r.gpu_fragmentation));
  Table t({"CLUSTER", "REGION", "NODES", "REQUESTED", "SERVED", "COST", "CPU",
           "MEMORY", "GPU"});
  for (const auto& c : r.clusters) {
    t.add_row(
        {c.id, c.region, std::to_string(c.nodes), std::to_string(c.requested),
         std::to_string(c.served), fmt::format("${:.2f}", c.cost_usd),
         percent(c.util_cpu), percent(c.util_memory),
         c.allocatable.get(core::Slot::gpu) > 0 ? percent(c.util_gpu) : "-"});
  }
  return out + t.render();
}

void check_sim_flags(const SimFlags& f) {
  require_value(f.nodes, "--nodes", "give the trace's node list CSV");
  require_value(f.pods, "--pods", "give the trace's pod list CSV");
  require_value(f.prices, "--prices", "give data/pricing/regions.csv");
  if (f.split.empty() == (f.clusters == 0)) {
    throw Error(Code::invalid_argument,
                "give exactly one of --clusters N and --split FILE",
                "--clusters", "MissingFlag");
  }
}

int run_sim(const Globals& g, const SimFlags& f) {
  check_sim_flags(f);
  std::string format = f.output.empty() ? g.output : f.output;
  if (format.empty() || format == "wide") {
    format = "table";
  }
  if (g.log_level.empty()) {
    // Every reservation is an info line in the broker; a replay of
    // thousands wants only warnings.
    core::set_log_level(core::LogLevel::warn);
  }
  auto clusters = build_clusters(f);
  auto pods = core::parse_trace_pods(read_text(f.pods, "--pods"), f.pods);
  if (f.limit > 0 && pods.size() > f.limit) {
    pods.resize(f.limit);
  }
  auto result = daemon::run_simulation(clusters, pods, {policy_of(f), f.seed});
  if (format == "json") {
    print_out(to_json_text(result_json(result)));
  } else if (format == "csv") {
    print_out(result_csv(result));
  } else if (format == "table") {
    print_out(result_table(result));
  } else {
    throw Error(Code::invalid_argument,
                fmt::format("-o {} is not an output of sim: use table, json "
                            "or csv",
                            format),
                "--output", "InvalidFormat");
  }
  return 0;
}

std::pair<int, int> parse_share(const std::string& text) {
  int share = 0, shares = 0;
  auto slash = text.find('/');
  auto ok = [](std::string_view s, int& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
  };
  if (slash == std::string::npos ||
      !ok(std::string_view(text).substr(0, slash), share) ||
      !ok(std::string_view(text).substr(slash + 1), shares)) {
    throw Error(Code::invalid_argument,
                fmt::format("--share {} is not I/N: write such as 1/3",
                            core::quote_input(text)),
                "--share", "InvalidShare");
  }
  return {share, shares};
}

int run_snapshot(const SnapshotFlags& f) {
  require_value(f.nodes, "--nodes", "give the trace's node list CSV");
  require_value(f.pods, "--pods", "give the trace's pod list CSV");
  require_value(f.cluster, "--cluster", "name the cluster (a DNS label)");
  core::check_dns_label(f.cluster, "--cluster");
  daemon::SnapshotSpec spec;
  spec.cluster_id = f.cluster;
  spec.region = f.region;
  std::tie(spec.share, spec.shares) = parse_share(f.share);
  spec.cpu_only = f.cpu_only;
  spec.at = f.at;
  spec.seed = f.seed;

  auto nodes = core::parse_trace_nodes(read_text(f.nodes, "--nodes"), f.nodes);
  auto pods = core::parse_trace_pods(read_text(f.pods, "--pods"), f.pods);
  auto snap = daemon::build_snapshot(nodes, pods, spec);
  auto text = snap.list.dump(1) + "\n";
  if (f.out.empty() || f.out == "-") {
    print_out(text);
  } else {
    std::ofstream out(f.out, std::ios::binary | std::ios::trunc);
    if (!(out << text) || !out.flush()) {
      throw Error(Code::unavailable,
                  fmt::format("--out: cannot write \"{}\"", f.out), "--out",
                  "UnwritableFile");
    }
  }
  print_warning(fmt::format("snapshot of {}: {} nodes, {} running pods ({} "
                            "did not fit)",
                            f.cluster, snap.nodes, snap.pods, snap.unplaced));
  return 0;
}

void add_trace_flags(CLI::App* cmd, std::string& nodes, std::string& pods) {
  cmd->add_option("--nodes", nodes, "The trace's node list CSV")
      ->type_name(std::string(k_type_file));
  cmd->add_option("--pods", pods, "The trace's pod list CSV")
      ->type_name(std::string(k_type_file));
}

void setup_snapshot(CLI::App* sim, Globals& globals) {
  auto* cmd = sim->add_subcommand(
      "snapshot", "Write one cluster's `kubectl get nodes,pods -A -o json` "
                  "List cut from the trace");
  auto f = std::make_shared<SnapshotFlags>();
  add_trace_flags(cmd, f->nodes, f->pods);
  cmd->add_option("--share", f->share,
                  "This cluster's share I/N of the nodes (round-robin)");
  cmd->add_option("--cluster", f->cluster, "The cluster's id")
      ->type_name(std::string(k_type_cluster));
  cmd->add_option("--region", f->region, "The nodes' region label");
  cmd->add_option("--at", f->at,
                  "Trace second whose running pods are placed (default 0)");
  cmd->add_option("--seed", f->seed,
                  "Seed picking the share's pods, as in `lrb sim`");
  cmd->add_flag("--cpu-only", f->cpu_only,
                "Keep only the share's nodes without GPUs");
  cmd->add_option("--out", f->out, "Write the List here (default stdout)")
      ->type_name(std::string(k_type_file));
  cmd->callback(
      [&globals, f] { globals.action = [f] { return run_snapshot(*f); }; });
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "sim", "Replay the GPU cluster trace through the broker's decisions "
             "and report acceptance, cost and utilisation");
  auto f = std::make_shared<SimFlags>();
  add_trace_flags(cmd, f->nodes, f->pods);
  cmd->add_option("--clusters", f->clusters,
                  "Split the nodes round-robin into N clusters");
  cmd->add_option("--split", f->split, "CSV node,cluster assigning nodes")
      ->type_name(std::string(k_type_file));
  cmd->add_option("--prices", f->prices, "Region prices CSV")
      ->type_name(std::string(k_type_file));
  cmd->add_option("--regions", f->regions,
                  "Region of each cluster, cloud/region,... (default: the "
                  "first GCP regions of the prices file)");
  cmd->add_option("--policy", f->policy,
                  "weighted, resource, cost, random or binpack");
  cmd->add_option("--weights", f->weights,
                  "Resource and cost weights, such as 0.7,0.3");
  cmd->add_option("--seed", f->seed, "Seed of requesters and random choices");
  cmd->add_option("--limit", f->limit, "Replay only the first N pods");
  cmd->add_option("-o,--output", f->output, "table, json or csv")
      ->check(CLI::IsMember({"table", "wide", "json", "csv"}));
  setup_snapshot(cmd, globals);
  cmd->callback([&globals, f, cmd] {
    if (cmd->get_subcommands().empty()) {
      globals.action = [&globals, f] { return run_sim(globals, *f); };
    }
  });
}

const VerbRegistrar k_registrar({"sim", 740, setup});

} // namespace

} // namespace lrb::cli
