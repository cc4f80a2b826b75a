// `lrb capacity`: the fleet at a glance — for every cluster, how much
// cpu, memory and GPU it can give (allocatable), already runs
// (allocated), has promised (reserved) and still has free, with its unit
// prices, and a total. One row per cluster and resource keeps the table
// narrow enough for a terminal however many GPU models there are. Totals
// are exact sums of the broker's integers; only printing rounds.
#include <map>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/json.h"

namespace lrb::cli {

namespace {

// The four figures of one resource, plus the wide ones.
struct Figures {
  core::ResourceList capacity, allocatable, allocated, available, reserved,
      free;

  void add(const core::Cluster& c) {
    const auto& r = c.ad.resources;
    capacity += r.capacity;
    allocatable += r.allocatable;
    allocated += r.allocated;
    available += r.available;
    reserved += c.reserved;
    free += c.free;
  }
};

constexpr std::string_view k_resources[] = {"cpu", "memory", "gpu"};

std::string unit_price(const core::Cluster& c, std::string_view resource,
                       const std::string& model) {
  if (!c.ad.prices) {
    return "-";
  }
  const auto& p = *c.ad.prices;
  if (resource == "cpu") {
    return fmt::format("{:g}/core", p.cpu_per_hour);
  }
  if (resource == "memory") {
    return fmt::format("{:g}/GiB", p.memory_gib_per_hour);
  }
  const auto price = p.gpu_price(model.empty() ? "default" : model);
  return price ? fmt::format("{:g}/GPU", *price) : "-";
}

// Returns the label of the GPU row: the model when there is exactly one.
std::string gpu_label(const std::map<std::string, std::int64_t>& models) {
  return models.size() == 1 ? "gpu " + models.begin()->first : "gpu";
}

Table capacity_table(bool wide) {
  std::vector<std::string> headers = {"CLUSTER",     "STATE",     "RESOURCE",
                                      "ALLOCATABLE", "ALLOCATED", "RESERVED",
                                      "FREE",        "PRICE/H",   "LAST SEEN"};
  if (wide) {
    headers.insert(headers.end(), {"CAPACITY", "AVAILABLE"});
  }
  return Table(headers);
}

// Adds the rows of one cluster (or of the totals, when `c` is null).
void add_rows(Table& t, const std::string& name, const std::string& state,
              const std::string& seen, const Figures& f,
              const std::map<std::string, std::int64_t>& models,
              const core::Cluster* c, bool wide) {
  bool first = true;
  for (auto resource : k_resources) {
    const std::string label =
        resource == "gpu" ? gpu_label(models) : std::string(resource);
    auto cell = [resource](const core::ResourceList& l) {
      return human_resource(resource, l.get(resource));
    };
    const std::string model =
        models.size() == 1 ? models.begin()->first : std::string();
    std::vector<std::string> row = {
        first ? name : "",
        first ? state : "",
        label,
        cell(f.allocatable),
        cell(f.allocated),
        cell(f.reserved),
        cell(f.free),
        c != nullptr ? unit_price(*c, resource, model) : "",
        first ? seen : ""};
    if (wide) {
      row.insert(row.end(), {cell(f.capacity), cell(f.available)});
    }
    t.add_row(std::move(row));
    first = false;
  }
  // With several models, one line per model: how many of each there are.
  if (models.size() > 1) {
    for (const auto& [model, count] : models) {
      t.add_row({"", "", "  " + model, fmt::format("{} GPU", count), "", "", "",
                 c != nullptr ? unit_price(*c, "gpu", model) : ""});
    }
  }
}

core::Json capacity_json(const std::vector<core::Json>& items,
                         const std::vector<core::Cluster>& clusters,
                         const Figures& total,
                         const std::map<std::string, std::int64_t>& models) {
  core::Json out{{"items", core::Json::array()}};
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& j = items[i];
    const auto& res = j.value("resources", core::Json::object());
    out["items"].push_back(
        {{"clusterID", clusters[i].ad.cluster_id},
         {"state", j.value("state", "")},
         {"lastSeen", j.value("lastSeen", "")},
         {"allocatable", res.value("allocatable", core::Json::object())},
         {"allocated", res.value("allocated", core::Json::object())},
         {"reserved", res.value("reserved", core::Json::object())},
         {"free", res.value("free", core::Json::object())},
         {"gpuModels", j.value("gpuModels", core::Json::object())},
         {"prices", j.value("prices", core::Json())}});
  }
  out["totals"] = {{"clusters", clusters.size()},
                   {"allocatable", core::encode_resources(total.allocatable)},
                   {"allocated", core::encode_resources(total.allocated)},
                   {"reserved", core::encode_resources(total.reserved)},
                   {"free", core::encode_resources(total.free)},
                   {"gpuModels", models}};
  return out;
}

// The fleet as listed, decoded, with its totals.
struct Fleet {
  std::vector<core::Json> items;
  std::vector<core::Cluster> clusters;
  Figures total;
  std::map<std::string, std::int64_t> models; // GPU model -> count
};

Fleet read_fleet(BrokerClient& client) {
  Fleet fleet;
  fleet.items = client.clusters()
                    .value("items", core::Json::array())
                    .get<std::vector<core::Json>>();
  for (const auto& j : fleet.items) {
    fleet.clusters.push_back(core::decode_cluster(j));
    fleet.total.add(fleet.clusters.back());
    for (const auto& [model, count] : fleet.clusters.back().ad.gpu_models) {
      fleet.models[model] += count;
    }
  }
  return fleet;
}

std::string fleet_table(const Fleet& fleet, bool wide, bool color) {
  Table t = capacity_table(wide);
  const auto now = core::system_clock().wall_ms();
  for (const auto& c : fleet.clusters) {
    Figures f;
    f.add(c);
    const std::string state(core::cluster_state_name(c.state));
    add_rows(t, c.ad.cluster_id, paint(state, color_of_phase(state), color),
             age_since(c.last_seen, now), f, c.ad.gpu_models, &c, wide);
  }
  add_rows(t, paint("TOTAL", Color::bold, color),
           fmt::format("{} clusters", fleet.clusters.size()), "", fleet.total,
           fleet.models, nullptr, wide);
  return t.render();
}

int run_capacity(const Globals& g) {
  const Format format = output_format(
      g.output, "capacity",
      {Format::table, Format::wide, Format::json, Format::yaml, Format::name});
  BrokerClient client(g);
  const Fleet fleet = read_fleet(client);
  if (format == Format::json || format == Format::yaml) {
    print_document(
        capacity_json(fleet.items, fleet.clusters, fleet.total, fleet.models),
        format);
  } else if (format == Format::name) {
    for (const auto& c : fleet.clusters) {
      print_out(c.ad.cluster_id + "\n");
    }
  } else {
    print_out(fleet_table(fleet, format == Format::wide, g.color));
  }
  return 0;
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "capacity", "Show allocatable, allocated, reserved and free capacity");
  cmd->callback([&globals] {
    globals.action = [&globals] { return run_capacity(globals); };
  });
}

const VerbRegistrar k_registrar({"capacity", 220, setup});

} // namespace

} // namespace lrb::cli
