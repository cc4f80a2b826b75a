// What the agent advertises, and with which generation. The inventory
// arithmetic itself is kube/inventory.h's; this file only gathers the
// objects (from `kubectl get nodes,pods -A -o json` files, re-read every
// pass so an experiment can rewrite them, or from the API in pages), and
// notes which pods Liqo offloaded here, because those run on behalf of a
// reservation and the broker must not count them twice. Generations are
// max(last + 1, wall ms) and persisted before use, so a restarted agent
// is never ignored by the broker as older than itself.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/error.h"
#include "daemon/agent.h"
#include "kube/client.h"
#include "kube/inventory.h"

namespace lrb::daemon {

namespace {

using core::Code;
using core::Error;
using core::Json;

// The objects of one pass.
struct Objects {
  std::vector<kube::NodeInfo> nodes;
  std::vector<kube::PodInfo> pods;
  std::map<std::string, core::ResourceList> offloaded;
};

// Adds a pod's request to its origin cluster's sum when Liqo offloaded it
// here and it still holds resources.
void note_offloaded(const Json& item, Objects& out) {
  const Json* labels = nullptr;
  if (auto m = item.find("metadata"); m != item.end() && m->is_object()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) {
      labels = &*l;
    }
  }
  if (labels == nullptr || !labels->contains(k_origin_label)) {
    return;
  }
  const Json& origin = (*labels)[std::string(k_origin_label)];
  kube::PodInfo pod = kube::decode_pod(item);
  if (!origin.is_string() || pod.phase == "Succeeded" ||
      pod.phase == "Failed") {
    return;
  }
  out.offloaded[origin.get<std::string>()] += pod.requests;
}

// Scans a document's pods for offloaded ones (kinds as add_list reads
// them: the item's own, else the list's).
void scan_offloaded(const Json& doc, Objects& out) {
  if (!doc.is_object()) {
    return;
  }
  auto items = doc.find("items");
  if (items == doc.end() || !items->is_array()) {
    if (doc.value("kind", "") == "Pod") {
      note_offloaded(doc, out);
    }
    return;
  }
  const bool pod_list = doc.value("kind", "") == "PodList";
  for (const Json& item : *items) {
    if (item.is_object() && (item.value("kind", "") == "Pod" ||
                             (pod_list && !item.contains("kind")))) {
      note_offloaded(item, out);
    }
  }
}

Objects read_snapshots(const std::vector<std::string>& paths) {
  Objects out;
  for (const auto& path : paths) {
    try {
      Json doc =
          core::parse_json(kube::read_snapshot_file(path, Code::unavailable),
                           kube::k_snapshot_limits);
      kube::add_list(doc, out.nodes, out.pods);
      scan_offloaded(doc, out);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("snapshot {}: {}", path, e.what()),
                  e.field(), e.reason());
    }
  }
  return out;
}

Objects read_api(const kube::ClusterConfig& config) {
  kube::KubeClient client(config);
  Objects out;
  client.list("/api/v1/nodes", kube::k_list_page_size,
              [&](const kube::ListPage& p) {
                if (p.restarted) {
                  out.nodes.clear();
                }
                for (const auto& item : p.items) {
                  out.nodes.push_back(kube::decode_node(item));
                }
              });
  client.list("/api/v1/pods", kube::k_list_page_size,
              [&](const kube::ListPage& p) {
                if (p.restarted) {
                  out.pods.clear();
                  out.offloaded.clear();
                }
                for (const auto& item : p.items) {
                  out.pods.push_back(kube::decode_pod(item));
                  note_offloaded(item, out);
                }
              });
  return out;
}

// Returns `a` with only the resources `cap` names, each at most `cap`'s.
core::ResourceList take_up_to(const core::ResourceList& a,
                              const core::ResourceList& cap) {
  core::ResourceList out;
  cap.for_each([&](std::string_view name, std::int64_t limit) {
    std::int64_t v = std::min(a.get(name), limit);
    if (v > 0) {
      out.set(name, v);
    }
  });
  return out;
}

} // namespace

std::int64_t next_generation(std::int64_t last, std::int64_t now_ms) {
  return std::max(last + 1, now_ms);
}

GenerationStore::GenerationStore(std::string state_dir) {
  if (state_dir.empty()) {
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  path_ = (std::filesystem::path(state_dir) / "generation").string();
  std::ifstream in(path_);
  std::int64_t value = 0;
  if (in >> value && value > 0) {
    last_ = value;
  }
}

std::int64_t GenerationStore::advance(std::int64_t now_ms) {
  std::int64_t next = next_generation(last_, now_ms);
  if (!path_.empty()) {
    std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << next << "\n";
      if (!out.flush()) {
        throw Error(Code::unavailable,
                    fmt::format("--state-dir: cannot write \"{}\"", tmp),
                    "--state-dir");
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path_, ec);
    if (ec) {
      throw Error(Code::unavailable,
                  fmt::format("--state-dir: cannot rename \"{}\": {}", tmp,
                              ec.message()),
                  "--state-dir");
    }
  }
  last_ = next;
  return next;
}

std::map<std::string, core::ResourceList>
attribute_consumed(const std::map<std::string, core::ResourceList>& offloaded,
                   const std::vector<core::Reservation>& provided) {
  std::vector<const core::Reservation*> order;
  for (const auto& r : provided) {
    order.push_back(&r);
  }
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return a->id < b->id; });

  std::map<std::string, core::ResourceList> left = offloaded;
  std::map<std::string, core::ResourceList> out;
  for (const auto* r : order) {
    auto it = left.find(r->request.requester_id);
    if (it == left.end()) {
      continue;
    }
    const core::ResourceList& cap =
        r->granted.empty() ? r->request.requested : r->granted;
    core::ResourceList take = take_up_to(it->second, cap);
    if (!take.empty()) {
      it->second -= take;
      out[r->id] = take;
    }
  }
  return out;
}

ClusterView read_cluster(const AgentConfig& config) {
  // Snapshots win over the API, which then serves only the slices.
  Objects objects = config.snapshots.empty() ? read_api(*config.kube)
                                             : read_snapshots(config.snapshots);
  kube::Inventory inv = kube::build_inventory(objects.nodes, objects.pods);
  ClusterView view;
  core::Advertisement& ad = view.ad;
  ad.cluster_id = config.cluster_id;
  ad.cluster_name = config.cluster_id;
  ad.endpoint = config.endpoint.empty() && config.kube ? config.kube->server
                                                       : config.endpoint;
  ad.region = config.region.empty() ? inv.region : config.region;
  ad.labels = config.labels;
  ad.resources = inv.totals;
  ad.gpu_models = inv.gpu_models;
  ad.prices = config.prices;
  view.offloaded = std::move(objects.offloaded);
  return view;
}

bool advertisement_changed(const core::Advertisement& a,
                           const core::Advertisement& b) {
  core::Json ja = core::encode_advertisement(a);
  core::Json jb = core::encode_advertisement(b);
  for (auto* j : {&ja, &jb}) {
    j->erase("generation");
    j->erase("timestamp");
  }
  return ja != jb;
}

} // namespace lrb::daemon
