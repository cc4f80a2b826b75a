// Decoding Nodes and Pods, and the pod-request arithmetic.
//
// The request rules follow what kube-scheduler charges a node for
// (k8s.io/component-helpers' PodRequests, used by NodeResourcesFit), not
// what a reader of the pod spec might guess: an init container runs
// alone, so the init containers count as a high-water mark, except
// restartable (sidecar) init containers, which keep running and so are
// added to every container started after them. Decoding is strict — a
// malformed quantity in one pod makes the whole snapshot an error —
// because an agent that silently skipped it would advertise capacity
// that is not there.
//
// A snapshot of a large cluster holds 150,000 pods, so the happy path
// allocates little: JSON paths and object names are composed only when
// an error is reported, strings are read in place, and resource names
// are canonicalised through a per-document cache (a cluster uses a
// handful of names; validating each of them a million times is waste).
#include "kube/objects.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.h"

namespace lrb::kube {

namespace {

using core::Code;
using core::Error;
using core::Json;
using core::ResourceList;

// A JSON path composed only when an error is reported. A Path points at
// its parent, so it must not outlive it: build one per call, never store
// one made from a temporary.
class Path {
public:
  Path() = default;
  explicit Path(std::string_view root) : key_(root) {}

  // Returns the path of member `key` (which may hold dots) below this.
  Path operator/(std::string_view key) const { return {this, key, 0, false}; }
  // Returns the path of element `index` below this.
  Path operator[](std::size_t index) const { return {this, {}, index, true}; }

  // Returns the path as text: "spec.containers[0].resources".
  std::string str() const {
    std::string head = parent_ != nullptr ? parent_->str() : std::string();
    if (is_index_) {
      return fmt::format("{}[{}]", head, index_);
    }
    if (head.empty() || key_.empty()) {
      return head.empty() ? std::string(key_) : head;
    }
    return fmt::format("{}.{}", head, key_);
  }

private:
  Path(const Path* parent, std::string_view key, std::size_t index,
       bool is_index)
      : parent_(parent), key_(key), index_(index), is_index_(is_index) {}

  const Path* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = 0;
  bool is_index_ = false;
};

// Returns member `key` of `j`, or nullptr when absent or null.
const Json* member(const Json& j, std::string_view key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

// Returns member `key` when it is a string, else "" (for lookups that
// tolerate odd entries, such as conditions of kinds we do not read).
std::string_view text_or_empty(const Json& j, std::string_view key) {
  const Json* m = j.is_object() ? member(j, key) : nullptr;
  return m != nullptr && m->is_string()
             ? std::string_view(m->get_ref<const std::string&>())
             : std::string_view();
}

// Returns "pod ns/name" or "node name" for messages.
std::string describe(std::string_view kind, const Json& object) {
  const Json* meta = object.is_object() ? member(object, "metadata") : nullptr;
  std::string_view name =
      meta != nullptr ? text_or_empty(*meta, "name") : std::string_view();
  name = name.empty() ? "?" : name;
  if (kind != "pod") {
    return fmt::format("{} {}", kind, name);
  }
  std::string_view ns =
      meta != nullptr ? text_or_empty(*meta, "namespace") : std::string_view();
  return fmt::format("pod {}/{}", ns.empty() ? "default" : ns, name);
}

// The object being decoded, for errors: which kind, which object, and
// where it sits in the document.
struct Context {
  std::string_view kind; // "pod", "node" or "document"
  const Json* object;
  const Path* prefix; // "items[3]"; an empty Path at top level

  // Throws Error(invalid_argument) about `at` (relative to the object).
  [[noreturn]] void fail(const Path& at, std::string_view message,
                         std::string reason = "InvalidObject") const {
    std::string who =
        kind == "document" ? std::string(kind) : describe(kind, *object);
    std::string head = prefix->str();
    std::string rel = at.str();
    std::string field = head.empty()  ? rel
                        : rel.empty() ? head
                                      : fmt::format("{}.{}", head, rel);
    throw Error(Code::invalid_argument, fmt::format("{}: {}", who, message),
                std::move(field), std::move(reason));
  }
};

// Returns member `key` of `j` (at `parent`) when it is an object; nullptr
// when absent.
const Json* object_member(const Context& ctx, const Json& j, const Path& parent,
                          std::string_view key) {
  const Json* m = member(j, key);
  if (m != nullptr && !m->is_object()) {
    ctx.fail(parent / key,
             fmt::format("{} must be an object", (parent / key).str()));
  }
  return m;
}

// Returns member `key` when it is an array; nullptr when absent.
const Json* array_member(const Context& ctx, const Json& j, const Path& parent,
                         std::string_view key) {
  const Json* m = member(j, key);
  if (m != nullptr && !m->is_array()) {
    ctx.fail(parent / key,
             fmt::format("{} must be an array", (parent / key).str()));
  }
  return m;
}

// Returns member `key` as a string ("" when absent), read in place.
std::string_view string_member(const Context& ctx, const Json& j,
                               const Path& parent, std::string_view key) {
  const Json* m = member(j, key);
  if (m == nullptr) {
    return {};
  }
  if (!m->is_string()) {
    ctx.fail(parent / key,
             fmt::format("{} must be a string", (parent / key).str()));
  }
  return m->get_ref<const std::string&>();
}

// Returns member `key` as a bool (false when absent).
bool bool_member(const Context& ctx, const Json& j, const Path& parent,
                 std::string_view key) {
  const Json* m = member(j, key);
  if (m == nullptr) {
    return false;
  }
  if (!m->is_boolean()) {
    ctx.fail(parent / key,
             fmt::format("{} must be true or false", (parent / key).str()));
  }
  return m->get<bool>();
}

// Returns whether `text` parses as a quantity with a fractional part.
bool is_fractional(std::string_view text) {
  try {
    // Read as cpu, a whole number is a multiple of 1000 millicores.
    return core::parse_resource("cpu", text, "") % 1000 != 0;
  } catch (const Error&) {
    return false;
  }
}

// Returns whether pod-level resources apply to `name` (as Kubernetes
// supports them: cpu, memory and huge pages).
bool pod_level_resource(std::string_view name) {
  return name == "cpu" || name == "memory" || name.starts_with("hugepages-");
}

// A container's status that reports resources, and where it is.
struct StatusRef {
  std::string_view name; // the container's
  const Json* json = nullptr;
  std::string_view list; // "containerStatuses" or "initContainerStatuses"
  std::size_t index = 0;
};

// What a pod's status says about in-place resizes, read once per pod.
struct ResizeState {
  bool infeasible = false;
  std::vector<StatusRef> statuses; // only those reporting resources
};

// Decodes objects of one document, caching canonical resource names.
class Decoder {
public:
  explicit Decoder(DecodeOptions options) : options_(std::move(options)) {}

  // Decodes a Node found at `prefix` in the document.
  NodeInfo node(const Json& j, const Path& prefix);
  // Decodes a Pod found at `prefix`, computing its request.
  PodInfo pod(const Json& j, const Path& prefix);
  // Returns what the scheduler charges for a pod of `spec` and `status`.
  ResourceList requests(const Context& ctx, const Json& spec,
                        const Json* status);

private:
  // Decodes a map of quantities at `at` ("requests", "allocatable", ...
  // as `what` in messages); nullptr is an empty list.
  ResourceList resource_list(const Context& ctx, const Json* j, const Path& at,
                             std::string_view what);
  // Parses one quantity of the canonical resource `canonical`.
  std::int64_t amount(const Context& ctx, const std::string& canonical,
                      const std::string& name, const Json& value,
                      const Path& at, std::string_view what);
  // Returns the canonical name of `name`, validated once per document.
  const std::string& canonical(const Context& ctx, const std::string& name,
                               const Path& at);
  // Returns a container's requests with limits standing in for absent
  // ones.
  ResourceList spec_requests(const Context& ctx, const Json& c, const Path& at);
  // Returns max(allocatedResources, resources.requests) of a status.
  ResourceList status_requests(const Context& ctx, const StatusRef& cs);
  // Returns one container's request, resize included.
  ResourceList container_requests(const Context& ctx, const Json& c,
                                  const ResizeState& resize, const Path& at);
  // Applies pod-level cpu/memory (and huge pages) requests to `total`.
  void apply_pod_level(const Context& ctx, const Json& spec,
                       ResourceList& total);
  // Returns a node's taints.
  std::vector<Taint> taints(const Context& ctx, const Json& spec);
  // Returns whether a node's Ready condition is "True".
  bool ready(const Context& ctx, const Json& status);
  // Returns the GPU model named by a node's labels, or "".
  std::string gpu_model(const std::map<std::string, std::string>& labels);

  DecodeOptions options_;
  std::unordered_map<std::string, std::string> names_; // name -> canonical
};

const std::string& Decoder::canonical(const Context& ctx,
                                      const std::string& name, const Path& at) {
  auto it = names_.find(name);
  if (it != names_.end()) {
    return it->second;
  }
  try {
    std::string canon = core::canonical_resource_name(name);
    return names_.emplace(name, std::move(canon)).first->second;
  } catch (const Error& e) {
    ctx.fail(at, fmt::format("{}: {}", at.str(), e.what()), e.reason());
  }
}

std::int64_t Decoder::amount(const Context& ctx, const std::string& canonical,
                             const std::string& name, const Json& value,
                             const Path& at, std::string_view what) {
  // The API writes quantities as strings; hand-made JSON may use numbers,
  // which Kubernetes also accepts.
  std::string number;
  std::string_view text;
  if (value.is_string()) {
    text = value.get_ref<const std::string&>();
  } else if (value.is_number()) {
    number = value.dump();
    text = number;
  } else {
    ctx.fail(at, fmt::format("{} {} must be a quantity string such as "
                             "\"500m\" or \"2Gi\"",
                             what, name));
  }

  try {
    return core::parse_resource(canonical, text, "");
  } catch (const Error& e) {
    if (core::resource_kind(canonical) == core::ResourceKind::count &&
        is_fractional(text)) {
      ctx.fail(
          at,
          fmt::format("{} {} \"{}\" is not a whole number", what, name, text),
          "InvalidQuantity");
    }
    ctx.fail(at, fmt::format("{} {}: {}", what, name, e.what()), e.reason());
  }
}

ResourceList Decoder::resource_list(const Context& ctx, const Json* j,
                                    const Path& at, std::string_view what) {
  ResourceList list;
  if (j == nullptr) {
    return list;
  }
  if (!j->is_object()) {
    ctx.fail(at, fmt::format("{} must be an object of quantities", at.str()));
  }
  for (const auto& [name, value] : j->items()) {
    const Path entry = at / name;
    const std::string& canon = canonical(ctx, name, entry);
    std::int64_t add = amount(ctx, canon, name, value, entry, what);
    // Two vendors' GPUs on one node both become "gpu": they add up.
    std::int64_t sum = 0;
    if (__builtin_add_overflow(list.get(canon), add, &sum)) {
      ctx.fail(entry, fmt::format("{} {} overflows", what, canon));
    }
    list.set(canon, sum);
  }
  return list;
}

// Returns a container's request during an in-place resize. Only cpu and
// memory can be resized, and for those the node holds the larger of what
// the spec asks and what the kubelet allocated or actuated — or, when the
// resize is infeasible and will never be applied, what the status says.
// Everything else is as the spec has it.
ResourceList resized(const ResourceList& spec, const ResourceList& status,
                     bool infeasible) {
  ResourceList out = spec;
  for (core::Slot slot : {core::Slot::cpu, core::Slot::memory}) {
    if (status.has(slot)) {
      out.set(slot, infeasible ? status.get(slot)
                               : std::max(spec.get(slot), status.get(slot)));
    }
  }
  return out;
}

// Returns the container statuses of `status` that report allocated or
// actual resources; the others cannot change a request.
std::vector<StatusRef> resource_statuses(const Context& ctx,
                                         const Json& status) {
  std::vector<StatusRef> out;
  const Path at("status");
  for (std::string_view key : {"containerStatuses", "initContainerStatuses"}) {
    const Json* list = array_member(ctx, status, at, key);
    if (list == nullptr) {
      continue;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      const Json& cs = (*list)[i];
      if (cs.is_object() && (member(cs, "allocatedResources") != nullptr ||
                             member(cs, "resources") != nullptr)) {
        out.push_back({text_or_empty(cs, "name"), &cs, key, i});
      }
    }
  }
  return out;
}

ResourceList Decoder::spec_requests(const Context& ctx, const Json& c,
                                    const Path& at) {
  const Json* res = object_member(ctx, c, at, "resources");
  if (res == nullptr) {
    return {};
  }
  ResourceList requests = resource_list(ctx, member(*res, "requests"),
                                        at / "resources.requests", "requests");
  ResourceList limits = resource_list(ctx, member(*res, "limits"),
                                      at / "resources.limits", "limits");

  // API defaulting: a limit without a request is also the request.
  limits.for_each([&](std::string_view name, std::int64_t value) {
    if (!requests.has(name)) {
      requests.set(name, value);
    }
  });
  return requests;
}

ResourceList Decoder::status_requests(const Context& ctx, const StatusRef& cs) {
  const Path status("status");
  const Path list = status / cs.list;
  const Path at = list[cs.index];
  const Json* allocated = member(*cs.json, "allocatedResources");
  const Json* resources = object_member(ctx, *cs.json, at, "resources");
  const Json* actual =
      resources != nullptr ? member(*resources, "requests") : nullptr;
  return ResourceList::max(
      resource_list(ctx, allocated, at / "allocatedResources",
                    "allocatedResources"),
      resource_list(ctx, actual, at / "resources.requests", "status requests"));
}

ResourceList Decoder::container_requests(const Context& ctx, const Json& c,
                                         const ResizeState& resize,
                                         const Path& at) {
  ResourceList spec = spec_requests(ctx, c, at);
  if (resize.statuses.empty()) {
    return spec;
  }
  std::string_view name = string_member(ctx, c, at, "name");
  for (const StatusRef& cs : resize.statuses) {
    if (cs.name == name) {
      return resized(spec, status_requests(ctx, cs), resize.infeasible);
    }
  }
  return spec;
}

// Returns whether the pod reports an infeasible in-place resize, in the
// older status.resize field or the newer PodResizePending condition.
bool resize_infeasible(const Context& ctx, const Json& status) {
  const Path at("status");
  if (string_member(ctx, status, at, "resize") == "Infeasible") {
    return true;
  }
  const Json* conditions = array_member(ctx, status, at, "conditions");
  if (conditions == nullptr) {
    return false;
  }
  for (const Json& c : *conditions) {
    if (text_or_empty(c, "type") == "PodResizePending") {
      return text_or_empty(c, "reason") == "Infeasible";
    }
  }
  return false;
}

// Returns what `status` (nullptr when absent) says about resizes.
ResizeState resize_state(const Context& ctx, const Json* status) {
  if (status == nullptr) {
    return {};
  }
  return {resize_infeasible(ctx, *status), resource_statuses(ctx, *status)};
}

void Decoder::apply_pod_level(const Context& ctx, const Json& spec,
                              ResourceList& total) {
  const Path at("spec");
  const Json* res = object_member(ctx, spec, at, "resources");
  if (res == nullptr) {
    return;
  }
  ResourceList requests = resource_list(
      ctx, member(*res, "requests"), at / "resources.requests", "pod requests");
  ResourceList limits = resource_list(ctx, member(*res, "limits"),
                                      at / "resources.limits", "pod limits");

  // A pod-level request replaces the containers' sum; a pod-level limit
  // stands in for it only when no container asked for that resource, as
  // API defaulting makes it.
  requests.for_each([&](std::string_view name, std::int64_t value) {
    if (pod_level_resource(name)) {
      total.set(name, value);
    }
  });
  limits.for_each([&](std::string_view name, std::int64_t value) {
    if (pod_level_resource(name) && !requests.has(name) && !total.has(name)) {
      total.set(name, value);
    }
  });
}

ResourceList Decoder::requests(const Context& ctx, const Json& spec,
                               const Json* status) {
  const ResizeState resize = resize_state(ctx, status);
  const Path at("spec");

  ResourceList apps;
  if (const Json* list = array_member(ctx, spec, at, "containers")) {
    const Path containers = at / "containers";
    for (std::size_t i = 0; i < list->size(); ++i) {
      apps += container_requests(ctx, (*list)[i], resize, containers[i]);
    }
  }

  // Init containers run in order. A regular one runs beside the sidecars
  // started before it; a sidecar keeps running, so it joins the app sum
  // and every later init container.
  ResourceList sidecars;
  ResourceList init_peak;
  if (const Json* list = array_member(ctx, spec, at, "initContainers")) {
    const Path inits = at / "initContainers";
    for (std::size_t i = 0; i < list->size(); ++i) {
      const Path ci = inits[i];
      const Json& c = (*list)[i];
      ResourceList r = container_requests(ctx, c, resize, ci);
      if (string_member(ctx, c, ci, "restartPolicy") == "Always") {
        apps += r;
        sidecars += r;
        init_peak = ResourceList::max(init_peak, sidecars);
      } else {
        init_peak = ResourceList::max(init_peak, r + sidecars);
      }
    }
  }

  ResourceList total = ResourceList::max(apps, init_peak);
  apply_pod_level(ctx, spec, total);
  total +=
      resource_list(ctx, member(spec, "overhead"), at / "overhead", "overhead");
  return total;
}

// The spec (required) and status (optional) of a pod.
struct PodParts {
  const Json* spec;
  const Json* status;
};

// Returns the parts of `pod`, checking their types.
PodParts pod_parts(const Context& ctx, const Json& pod) {
  const Path top;
  if (!pod.is_object()) {
    ctx.fail(top, "a pod must be a JSON object");
  }
  const Json* spec = object_member(ctx, pod, top, "spec");
  if (spec == nullptr) {
    ctx.fail(top / "spec", "spec is missing");
  }
  return {spec, object_member(ctx, pod, top, "status")};
}

PodInfo Decoder::pod(const Json& j, const Path& prefix) {
  Context ctx{"pod", &j, &prefix};
  const Path top;
  if (!j.is_object()) {
    ctx.fail(top, "a pod must be a JSON object");
  }
  const Json* meta = object_member(ctx, j, top, "metadata");
  if (meta == nullptr) {
    ctx.fail(top / "metadata", "metadata is missing");
  }

  PodInfo pod;
  const Path at("metadata");
  pod.name = string_member(ctx, *meta, at, "name");
  if (pod.name.empty()) {
    ctx.fail(at / "name", "metadata.name is missing");
  }
  pod.pod_namespace = string_member(ctx, *meta, at, "namespace");
  pod.terminating = member(*meta, "deletionTimestamp") != nullptr;
  const PodParts parts = pod_parts(ctx, j);
  pod.requests = requests(ctx, *parts.spec, parts.status);
  pod.node_name = string_member(ctx, *parts.spec, Path("spec"), "nodeName");
  if (parts.status != nullptr) {
    pod.phase = string_member(ctx, *parts.status, Path("status"), "phase");
  }
  return pod;
}

std::vector<Taint> Decoder::taints(const Context& ctx, const Json& spec) {
  std::vector<Taint> out;
  const Path at("spec");
  const Json* list = array_member(ctx, spec, at, "taints");
  if (list == nullptr) {
    return out;
  }
  const Path taints = at / "taints";
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Path ti = taints[i];
    const Json& t = (*list)[i];
    if (!t.is_object()) {
      ctx.fail(ti, fmt::format("{} must be an object", ti.str()));
    }
    out.push_back({std::string(string_member(ctx, t, ti, "key")),
                   std::string(string_member(ctx, t, ti, "value")),
                   std::string(string_member(ctx, t, ti, "effect"))});
  }
  return out;
}

bool Decoder::ready(const Context& ctx, const Json& status) {
  const Json* list = array_member(ctx, status, Path("status"), "conditions");
  if (list == nullptr) {
    return false;
  }
  for (const Json& c : *list) {
    if (text_or_empty(c, "type") == "Ready") {
      return text_or_empty(c, "status") == "True";
    }
  }
  return false;
}

// Returns the value of the first of `keys` set (non-empty) in `labels`.
template <typename Keys>
std::string first_label(const std::map<std::string, std::string>& labels,
                        const Keys& keys) {
  for (std::string_view key : keys) {
    auto it = labels.find(std::string(key));
    if (it != labels.end() && !it->second.empty()) {
      return it->second;
    }
  }
  return {};
}

std::string
Decoder::gpu_model(const std::map<std::string, std::string>& labels) {
  if (!options_.gpu_model_label.empty()) {
    std::string_view own[] = {options_.gpu_model_label};
    if (std::string model = first_label(labels, own); !model.empty()) {
      return model;
    }
  }
  return first_label(labels, k_gpu_model_labels);
}

// Returns the labels of an object.
std::map<std::string, std::string> labels_of(const Context& ctx,
                                             const Json& meta) {
  std::map<std::string, std::string> labels;
  const Path at("metadata");
  const Json* j = object_member(ctx, meta, at, "labels");
  if (j == nullptr) {
    return labels;
  }
  const Path label_path = at / "labels";
  for (const auto& [key, value] : j->items()) {
    if (!value.is_string()) {
      ctx.fail(label_path / key, "a label must be a string");
    }
    labels.emplace(key, value.get<std::string>());
  }
  return labels;
}

NodeInfo Decoder::node(const Json& j, const Path& prefix) {
  Context ctx{"node", &j, &prefix};
  const Path top;
  if (!j.is_object()) {
    ctx.fail(top, "a node must be a JSON object");
  }
  const Json* meta = object_member(ctx, j, top, "metadata");
  std::string_view name =
      meta != nullptr ? string_member(ctx, *meta, Path("metadata"), "name")
                      : std::string_view();
  if (name.empty()) {
    ctx.fail(Path("metadata.name"), "metadata.name is missing");
  }

  NodeInfo node;
  node.name = name;
  node.labels = labels_of(ctx, *meta);
  if (const Json* spec = object_member(ctx, j, top, "spec")) {
    node.unschedulable = bool_member(ctx, *spec, Path("spec"), "unschedulable");
    node.taints = taints(ctx, *spec);
  }

  // Kubernetes defaults allocatable to capacity when a kubelet omits it.
  if (const Json* status = object_member(ctx, j, top, "status")) {
    const Path at("status");
    node.capacity = resource_list(ctx, member(*status, "capacity"),
                                  at / "capacity", "capacity");
    const Json* alloc = member(*status, "allocatable");
    node.allocatable =
        alloc == nullptr
            ? node.capacity
            : resource_list(ctx, alloc, at / "allocatable", "allocatable");
    node.ready = ready(ctx, *status);
  }

  node.gpu_model = gpu_model(node.labels);
  node.region =
      first_label(node.labels, std::initializer_list<std::string_view>{
                                   "topology.kubernetes.io/region",
                                   "failure-domain.beta.kubernetes.io/region"});
  node.zone =
      first_label(node.labels, std::initializer_list<std::string_view>{
                                   "topology.kubernetes.io/zone",
                                   "failure-domain.beta.kubernetes.io/zone"});
  return node;
}

// Returns the kind the items of a list of `kind` have ("" for List).
std::string_view implied_kind(std::string_view kind) {
  if (kind == "NodeList") {
    return "Node";
  }
  if (kind == "PodList") {
    return "Pod";
  }
  return {};
}

} // namespace

NodeInfo decode_node(const Json& node, const DecodeOptions& options,
                     std::string_view path) {
  return Decoder(options).node(node, Path(path));
}

PodInfo decode_pod(const Json& pod, std::string_view path) {
  return Decoder({}).pod(pod, Path(path));
}

ResourceList pod_requests(const Json& pod, std::string_view path) {
  const Path prefix(path);
  Context ctx{"pod", &pod, &prefix};
  const PodParts parts = pod_parts(ctx, pod);
  return Decoder({}).requests(ctx, *parts.spec, parts.status);
}

namespace {

// Decodes the items of one array into `nodes` and `pods`.
class ItemReader {
public:
  ItemReader(std::vector<NodeInfo>& nodes, std::vector<PodInfo>& pods,
             const DecodeOptions& options)
      : nodes_(nodes), pods_(pods), decoder_(options) {}

  // Adds one object of `kind` found at `at`.
  void add(const Json& item, std::string_view kind, const Path& at) {
    if (kind == "Node") {
      nodes_.push_back(decoder_.node(item, at));
      ++counts_.nodes;
    } else if (kind == "Pod") {
      pods_.push_back(decoder_.pod(item, at));
      ++counts_.pods;
    } else {
      ++counts_.ignored;
    }
  }

  // Adds every item of `items` (at `at`); `implied` is the kind of items
  // that do not say theirs ("" in a List, where they must).
  void add_all(const Context& ctx, const Json& items, std::string_view implied,
               const Path& at) {
    // Pods are most of a List; reserving spares copying 150,000 of them.
    if (implied == "Node") {
      nodes_.reserve(nodes_.size() + items.size());
    } else {
      pods_.reserve(pods_.size() + items.size());
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      const Json& item = items[i];
      const Path item_at = at[i];
      if (!item.is_object()) {
        ctx.fail(item_at, fmt::format("{} must be an object", item_at.str()));
      }
      std::string_view kind = string_member(ctx, item, item_at, "kind");
      if (kind.empty() && implied.empty()) {
        ctx.fail(item_at / "kind",
                 fmt::format("{} has no kind; items of a List must say "
                             "\"kind\": \"Node\" or \"Pod\"",
                             item_at.str()));
      }
      add(item, kind.empty() ? implied : kind, item_at);
    }
  }

  ListCounts counts() const { return counts_; }

private:
  std::vector<NodeInfo>& nodes_;
  std::vector<PodInfo>& pods_;
  Decoder decoder_;
  ListCounts counts_;
};

} // namespace

ListCounts add_list(const Json& document, std::vector<NodeInfo>& nodes,
                    std::vector<PodInfo>& pods, const DecodeOptions& options) {
  const Path top;
  Context ctx{"document", &document, &top};
  if (!document.is_object()) {
    ctx.fail(top, "expected a JSON object: a List, NodeList, PodList, Node "
                  "or Pod as `kubectl get nodes,pods -A -o json` prints it");
  }
  std::string_view kind = string_member(ctx, document, top, "kind");
  ItemReader reader(nodes, pods, options);
  if (kind == "Node" || kind == "Pod") {
    reader.add(document, kind, top);
    return reader.counts();
  }
  if (kind != "List" && kind != "NodeList" && kind != "PodList") {
    ctx.fail(top / "kind", fmt::format("kind \"{}\" is not a List, "
                                       "NodeList, PodList, Node or Pod",
                                       kind));
  }
  const Json* items = array_member(ctx, document, top, "items");
  if (items == nullptr) {
    ctx.fail(top / "items", fmt::format("a {} needs an items array", kind));
  }
  reader.add_all(ctx, *items, implied_kind(kind), top / "items");
  return reader.counts();
}

ListCounts add_items(const Json& items, std::string_view kind,
                     std::vector<NodeInfo>& nodes, std::vector<PodInfo>& pods,
                     const DecodeOptions& options, std::string_view path) {
  const Path at(path);
  const Path top;
  Context ctx{"document", &items, &top};
  if (!items.is_array()) {
    ctx.fail(at, fmt::format("{} must be an array", path));
  }
  ItemReader reader(nodes, pods, options);
  reader.add_all(ctx, items, kind, at);
  return reader.counts();
}

std::string read_snapshot_file(const std::string& path, core::Code code) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    throw core::Error(code,
                      fmt::format("--snapshot: cannot read \"{}\": check the "
                                  "path (or give - for stdin)",
                                  path),
                      "--snapshot");
  }
  return text.str();
}

} // namespace lrb::kube
