// The requester's side of a Liqo grant, as pure functions: the
// ResourceSlice the agent creates in the provider's tenant namespace, how
// the provider's answer is read from it, and the table that turns the
// broker's phase and the slice's existence into one action. Keeping the
// table pure is what makes "acts once, also after a restart" testable:
// the agent feeds it what the broker and the API server say now, never
// what it remembers.
#include <fmt/format.h>

#include "core/resources.h"
#include "daemon/agent.h"

namespace lrb::daemon {

namespace {

constexpr std::string_view k_liqo_api = "authentication.liqo.io/v1beta1";

// Returns the Kubernetes name of a canonical resource: "gpu" is asked
// from NVIDIA's device plugin, "storage" is ephemeral storage.
std::string kube_resource_name(std::string_view name) {
  if (name == "gpu") {
    return "nvidia.com/gpu";
  }
  if (name == "storage") {
    return "ephemeral-storage";
  }
  return std::string(name);
}

// Returns what the reservation holds: the grant once set, else the ask.
const core::ResourceList& held(const core::Reservation& r) {
  return r.granted.empty() ? r.request.requested : r.granted;
}

} // namespace

std::string tenant_namespace(std::string_view templ,
                             std::string_view provider) {
  std::string out(templ);
  constexpr std::string_view k_marker = "{cluster}";
  for (auto at = out.find(k_marker); at != std::string::npos;
       at = out.find(k_marker, at + provider.size())) {
    out.replace(at, k_marker.size(), provider);
  }
  return out;
}

core::Json slice_object(const core::Reservation& r, std::string_view ns) {
  core::Json resources = core::Json::object();
  held(r).for_each([&](std::string_view name, std::int64_t value) {
    resources[kube_resource_name(name)] = core::format_resource(name, value);
  });
  return {{"apiVersion", k_liqo_api},
          {"kind", "ResourceSlice"},
          {"metadata",
           {{"name", r.id},
            {"namespace", ns},
            {"labels",
             {{std::string(k_reservation_label), r.id},
              {"liqo.io/remote-cluster-id", r.target_cluster_id}}}}},
          {"spec",
           {{"class", "default"},
            {"providerClusterID", r.target_cluster_id},
            {"resources", std::move(resources)}}}};
}

std::string slice_path(std::string_view ns) {
  if (ns.empty()) {
    return fmt::format("/apis/{}/resourceslices", k_liqo_api);
  }
  return fmt::format("/apis/{}/namespaces/{}/resourceslices", k_liqo_api, ns);
}

SliceAnswer slice_answer(const core::Json& slice) {
  const auto status = slice.find("status");
  if (status == slice.end() || !status->is_object()) {
    return SliceAnswer::none;
  }
  const auto conditions = status->find("conditions");
  if (conditions == status->end() || !conditions->is_array()) {
    return SliceAnswer::none;
  }
  for (const auto& c : *conditions) {
    if (!c.is_object() || c.value("type", "") != "Resources") {
      continue;
    }
    // Liqo writes the answer in `status`; older controllers in `reason`.
    for (const char* key : {"status", "reason"}) {
      std::string v = c.value(key, "");
      if (v == "Accepted" || v == "ResourcesAccepted") {
        return SliceAnswer::accepted;
      }
      if (v == "Denied" || v == "ResourcesDenied") {
        return SliceAnswer::denied;
      }
    }
  }
  return SliceAnswer::none;
}

Action decide(core::Phase phase, bool liqo, bool slice_exists,
              SliceAnswer answer) {
  using core::Phase;
  if (!liqo) {
    return phase == Phase::reserved ? Action::run_hook : Action::none;
  }
  switch (phase) {
  case Phase::reserved:
    if (!slice_exists) {
      return Action::create_slice;
    }
    if (answer == SliceAnswer::accepted) {
      return Action::activate;
    }
    return answer == SliceAnswer::denied ? Action::release : Action::wait;
  case Phase::released:
  case Phase::expired:
  case Phase::failed:
    return slice_exists ? Action::delete_slice : Action::none;
  case Phase::pending:
  case Phase::active:
    break;
  }
  return Action::none;
}

std::string_view action_name(Action action) {
  switch (action) {
  case Action::none:
    return "none";
  case Action::create_slice:
    return "create_slice";
  case Action::wait:
    return "wait";
  case Action::activate:
    return "activate";
  case Action::release:
    return "release";
  case Action::delete_slice:
    return "delete_slice";
  case Action::run_hook:
    return "run_hook";
  }
  return "unknown";
}

} // namespace lrb::daemon
