// `lrb inventory`: what this cluster would advertise, and why. It runs the
// agent's own arithmetic (kube/inventory.h) on a `kubectl get nodes,pods
// -A -o json` snapshot, so an operator can check a number before it
// reaches the broker, and a test can feed the agent's exact input. The
// table is for people (cores, Gi, each node's reason for being left out);
// -o json carries the advertisement's `resources` block in wire form,
// plus the per-node rows and the counts that explain the totals.
#include "kube/inventory.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/json.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;
using core::Json;

// The verb's own flags.
struct InventoryFlags {
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> snapshots;
  bool include_not_ready = false;
  bool include_cordoned = false;
  bool include_tainted = false;
  std::vector<std::string> tolerate;
  std::string gpu_model_label;
};

// Returns `e` with the snapshot file named first and the JSON path of
// the offending item last, so a large file can be searched for it.
Error in_file(const Error& e, const std::string& path) {
  std::string name = path == "-" ? "stdin" : path;
  std::string at = e.field().empty() ? "" : fmt::format(" (at {})", e.field());
  return Error(e.code(), fmt::format("snapshot {}: {}{}", name, e.what(), at),
               e.field(), e.reason());
}

// The decoded contents of every snapshot file.
struct Objects {
  std::vector<kube::NodeInfo> nodes;
  std::vector<kube::PodInfo> pods;
  int ignored = 0;
};

// Reads and decodes every --snapshot file, in order.
Objects load_snapshots(const InventoryFlags& f) {
  Objects out;
  kube::DecodeOptions options{f.gpu_model_label};
  bool stdin_used = false;
  for (const auto& path : f.snapshots) {
    if (path == "-" && std::exchange(stdin_used, true)) {
      throw Error(Code::invalid_argument,
                  "--snapshot: stdin (-) can be given only once", "--snapshot");
    }
    std::string text = kube::read_snapshot_file(path, Code::invalid_argument);
    try {
      Json doc = core::parse_json(text, kube::k_snapshot_limits);
      out.ignored += kube::add_list(doc, out.nodes, out.pods, options).ignored;
    } catch (const Error& e) {
      throw in_file(e, path);
    }
  }
  return out;
}

// Returns the advertisement's `resources` block.
Json summary_json(const core::ResourceSummary& s) {
  return {{"capacity", core::encode_resources(s.capacity)},
          {"allocatable", core::encode_resources(s.allocatable)},
          {"allocated", core::encode_resources(s.allocated)},
          {"available", core::encode_resources(s.available)},
          {"largestNodeAvailable",
           core::encode_resources(s.largest_node_available)}};
}

// Returns one node's row; `reason` only when it is left out.
Json node_json(const kube::NodeRow& row) {
  Json j = {{"name", row.name}, {"eligible", row.eligible}};
  if (!row.eligible) {
    j["reason"] = row.why_not;
  }
  if (!row.gpu_model.empty()) {
    j["gpuModel"] = row.gpu_model;
  }
  j["region"] = row.region;
  j["zone"] = row.zone;
  j["pods"] = row.pods;
  j["capacity"] = core::encode_resources(row.capacity);
  j["allocatable"] = core::encode_resources(row.allocatable);
  j["allocated"] = core::encode_resources(row.allocated);
  j["available"] = core::encode_resources(row.available);
  return j;
}

// Returns the -o json document (see the file comment).
Json inventory_json(const kube::Inventory& inv, int ignored) {
  Json nodes = Json::array();
  for (const auto& row : inv.nodes) {
    nodes.push_back(node_json(row));
  }
  const kube::InventoryCounts& c = inv.counts;
  return {{"resources", summary_json(inv.totals)},
          {"gpuModels", inv.gpu_models},
          {"region", inv.region},
          {"nodes", std::move(nodes)},
          {"counted",
           {{"nodes", c.nodes},
            {"eligibleNodes", c.eligible_nodes},
            {"pods", c.pods},
            {"countedPods", c.counted_pods},
            {"terminalPods", c.terminal_pods},
            {"unboundPods", c.unbound_pods},
            {"unknownNodePods", c.unknown_node_pods},
            {"terminatingPods", c.terminating_pods},
            {"ignoredObjects", ignored}}}};
}

// Returns one total as table cells: cpu, memory, GPUs, pods, storage.
std::vector<std::string> total_cells(std::string label,
                                     const core::ResourceList& l) {
  return {std::move(label),
          human_cpu(l.get(core::Slot::cpu)),
          human_bytes(l.get(core::Slot::memory)),
          std::to_string(l.get(core::Slot::gpu)),
          std::to_string(l.get(core::Slot::pods)),
          human_bytes(l.get(core::Slot::storage))};
}

// Returns the cluster totals, one row per figure of the advertisement.
std::string totals_table(const kube::Inventory& inv) {
  const core::ResourceSummary& t = inv.totals;
  Table table({"CLUSTER", "CPU", "MEMORY", "GPU", "PODS", "STORAGE"});
  table.add_row(total_cells("capacity", t.capacity));
  table.add_row(total_cells("allocatable", t.allocatable));
  table.add_row(total_cells("allocated", t.allocated));
  table.add_row(total_cells("available", t.available));
  table.add_row(total_cells("largest node", t.largest_node_available));
  return table.render();
}

// Returns "allocatable/allocated/available" of one resource, human units.
std::string triple(const kube::NodeRow& row, core::Slot slot) {
  auto human = [slot](std::int64_t v) {
    switch (slot) {
    case core::Slot::cpu:
      return human_cpu(v);
    case core::Slot::memory:
    case core::Slot::storage:
      return human_bytes(v);
    default:
      return std::to_string(v);
    }
  };
  return fmt::format("{}/{}/{}", human(row.allocatable.get(slot)),
                     human(row.allocated.get(slot)),
                     human(row.available.get(slot)));
}

// Returns one row per node: why it is left out, and its three figures.
std::string nodes_table(const kube::Inventory& inv, bool wide, bool color) {
  std::vector<std::string> headers = {"NODE",         "STATUS",    "CPU A/U/F",
                                      "MEMORY A/U/F", "GPU A/U/F", "MODEL"};
  if (wide) {
    headers.insert(headers.end(), {"PODS A/U/F", "REGION", "ZONE"});
  }
  Table table(headers);
  for (const auto& row : inv.nodes) {
    std::vector<std::string> cells = {
        row.name,
        row.eligible ? paint("Eligible", Color::green, color)
                     : paint(row.why_not, Color::yellow, color),
        triple(row, core::Slot::cpu),
        triple(row, core::Slot::memory),
        triple(row, core::Slot::gpu),
        row.gpu_model.empty() ? "-" : row.gpu_model};
    if (wide) {
      cells.insert(cells.end(), {triple(row, core::Slot::pods),
                                 row.region.empty() ? "-" : row.region,
                                 row.zone.empty() ? "-" : row.zone});
    }
    table.add_row(std::move(cells));
  }
  return table.render();
}

// Returns the lines under the totals: GPU models, region and counts.
std::string summary_lines(const kube::Inventory& inv, int ignored) {
  std::vector<std::string> models;
  for (const auto& [model, gpus] : inv.gpu_models) {
    models.push_back(fmt::format("{}={}", model, gpus));
  }
  const kube::InventoryCounts& c = inv.counts;
  std::string out = fmt::format(
      "\nregion: {}\ngpu models: {}\nnodes: {} listed, {} eligible\n"
      "pods: {} listed, {} counted ({} terminating), {} finished, "
      "{} unbound, {} on unknown nodes\n",
      inv.region.empty() ? "-" : inv.region,
      models.empty() ? "-" : fmt::format("{}", fmt::join(models, ", ")),
      c.nodes, c.eligible_nodes, c.pods, c.counted_pods, c.terminating_pods,
      c.terminal_pods, c.unbound_pods, c.unknown_node_pods);
  if (ignored > 0) {
    out += fmt::format("other objects ignored: {}\n", ignored);
  }
  return out + "\n";
}

// Prints the inventory in the -o format.
void print_inventory(const kube::Inventory& inv, int ignored,
                     const Globals& g) {
  Format format = parse_format(g.output, "-o");
  switch (format) {
  case Format::json:
  case Format::yaml:
    print_document(inventory_json(inv, ignored), format);
    return;
  case Format::name:
    for (const auto& row : inv.nodes) {
      print_out("node/" + row.name + "\n");
    }
    return;
  case Format::table:
  case Format::wide:
    break;
  }
  print_out(totals_table(inv) + summary_lines(inv, ignored) +
            nodes_table(inv, format == Format::wide, g.color));
}

// Reads the nodes and pods of a live cluster, page by page; a list that
// restarted (its continue token expired) drops what it had read.
Objects load_cluster(const InventoryFlags& f) {
  kube::KubeClient client(kube::load_kubeconfig(
      kube::kubeconfig_files_from_env(f.kubeconfig), f.context));
  kube::DecodeOptions options{f.gpu_model_label};
  Objects out;
  client.list(
      "/api/v1/nodes", kube::k_list_page_size, [&](const kube::ListPage& page) {
        if (page.restarted) {
          out.nodes.clear();
        }
        kube::add_items(page.items, "Node", out.nodes, out.pods, options);
      });
  client.list(
      "/api/v1/pods", kube::k_list_page_size, [&](const kube::ListPage& page) {
        if (page.restarted) {
          out.pods.clear();
        }
        kube::add_items(page.items, "Pod", out.nodes, out.pods, options);
      });
  return out;
}

// Runs the verb; the filter flags map one to one onto NodeFilter.
int run_inventory(const InventoryFlags& f, const Globals& g) {
  bool live = !f.kubeconfig.empty() || !f.context.empty();
  if (!live && f.snapshots.empty()) {
    throw Error(Code::invalid_argument,
                "inventory needs --snapshot FILE (or - for stdin), or "
                "--kubeconfig PATH / --context NAME for a live cluster",
                "--snapshot");
  }
  Objects objects = live ? load_cluster(f) : load_snapshots(f);
  kube::NodeFilter filter{f.include_not_ready, f.include_cordoned,
                          f.include_tainted, f.tolerate};
  kube::Inventory inv =
      kube::build_inventory(objects.nodes, objects.pods, filter);
  print_inventory(inv, objects.ignored, g);
  return 0;
}

// Adds `inventory` and its flags to the command line.
void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "inventory", "Show what a cluster would advertise: free capacity "
                   "per node and in total");
  auto f = std::make_shared<InventoryFlags>();
  auto* snapshot =
      cmd->add_option("--snapshot", f->snapshots,
                      "Output of `kubectl get nodes,pods -A -o json` "
                      "(repeatable; - reads stdin)")
          ->type_name(std::string(k_type_file));
  auto* kubeconfig =
      cmd->add_option("--kubeconfig", f->kubeconfig,
                      "Read a live cluster through this kubeconfig (with "
                      "--context alone: KUBECONFIG or ~/.kube/config)")
          ->type_name(std::string(k_type_file));
  kubeconfig->excludes(snapshot);
  cmd->add_option("--context", f->context,
                  "The kubeconfig context (default: its current-context)")
      ->type_name("CONTEXT")
      ->excludes(snapshot);
  cmd->add_flag("--include-not-ready", f->include_not_ready,
                "Count nodes that are not Ready");
  cmd->add_flag("--include-cordoned", f->include_cordoned,
                "Count cordoned (unschedulable) nodes");
  cmd->add_flag("--include-tainted", f->include_tainted,
                "Count nodes with NoSchedule or NoExecute taints");
  cmd->add_option("--tolerate", f->tolerate,
                  "Ignore taints with this key (repeatable), e.g. "
                  "nvidia.com/gpu")
      ->type_name("KEY");
  cmd->add_option("--gpu-model-label", f->gpu_model_label,
                  "Node label naming the GPU model (tried before "
                  "nvidia.com/gpu.product and the other known labels)")
      ->type_name("LABEL");
  cmd->callback([f, &globals] {
    globals.action = [f, &globals] { return run_inventory(*f, globals); };
  });
}

const VerbRegistrar k_registrar({"inventory", 600, setup});

} // namespace

} // namespace lrb::cli
