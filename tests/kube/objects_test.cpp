// Decoding Nodes and Pods and the pod-request arithmetic. Each row of the
// request table spells out, in its comment, the sum kube-scheduler makes.
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "kube/objects.h"

namespace lrb::kube {

namespace {

using core::Json;
using core::ResourceList;

constexpr std::int64_t k_mi = 1024 * 1024;
constexpr std::int64_t k_gi = 1024 * k_mi;

// Returns {"requests": ..., "limits": ...} with the non-null parts.
Json resources(Json requests, Json limits = nullptr) {
  Json r = Json::object();
  if (!requests.is_null()) {
    r["requests"] = std::move(requests);
  }
  if (!limits.is_null()) {
    r["limits"] = std::move(limits);
  }
  return r;
}

// Returns a container named `name` with `res` as its resources.
Json container(const std::string& name, Json res) {
  return Json{{"name", name},
              {"image", "example/" + name + ":1"},
              {"resources", std::move(res)}};
}

// Returns a restartable init container (a sidecar).
Json sidecar(const std::string& name, Json res) {
  Json c = container(name, std::move(res));
  c["restartPolicy"] = "Always";
  return c;
}

// Returns a pod in namespace "default" with the given spec parts.
Json pod(Json containers, Json init = Json::array(), Json status = nullptr) {
  Json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", "p"}, {"namespace", "default"}}},
            {"spec", {{"containers", std::move(containers)}}}};
  if (!init.empty()) {
    p["spec"]["initContainers"] = std::move(init);
  }
  if (!status.is_null()) {
    p["status"] = std::move(status);
  }
  return p;
}

// Returns a list with cpu (millicores), memory (bytes) and any extras.
ResourceList list(std::int64_t cpu, std::int64_t memory,
                  std::vector<std::pair<std::string, std::int64_t>> more = {}) {
  ResourceList l;
  l.set("cpu", cpu);
  l.set("memory", memory);
  for (const auto& [name, value] : more) {
    l.set(name, value);
  }
  return l;
}

// Returns a pod whose one container "app" asks for `spec` cpu while its
// status reports `allocated` (and, when given, `actual`) cpu.
Json resized_pod(const std::string& spec, const std::string& allocated,
                 const std::string& actual, Json extra_status) {
  Json cs = {{"name", "app"}, {"allocatedResources", {{"cpu", allocated}}}};
  if (!actual.empty()) {
    cs["resources"] = {{"requests", {{"cpu", actual}}}};
  }
  Json status = std::move(extra_status);
  status["phase"] = "Running";
  status["containerStatuses"] = Json::array({cs});
  return pod(Json::array({container("app", resources({{"cpu", spec}}))}),
             Json::array(), std::move(status));
}

} // namespace

TEST_CASE("pod requests follow kube-scheduler's arithmetic") {
  struct Row {
    const char* name;
    Json pod;
    ResourceList want;
  };
  const Json small = resources({{"cpu", "250m"}, {"memory", "64Mi"}});
  const Json medium = resources({{"cpu", "500m"}, {"memory", "128Mi"}});

  const Row rows[] = {
      // 250m + 500m = 750m cpu; 64Mi + 128Mi = 192Mi.
      {"app containers are summed",
       pod(Json::array({container("a", small), container("b", medium)})),
       list(750, 192 * k_mi)},
      // max(init 2000m, app 500m) = 2000m; max(init 64Mi, app 128Mi) =
      // 128Mi: the maximum is taken per resource.
      {"an init container is a high-water mark",
       pod(Json::array({container("app", medium)}),
           Json::array({container(
               "init", resources({{"cpu", "2"}, {"memory", "64Mi"}}))})),
       list(2000, 128 * k_mi)},
      // Sidecar 300m first, then init 1000m: the init runs beside the
      // sidecar, 1000 + 300 = 1300m; apps 800 + 300 = 1100m; max = 1300m.
      {"a sidecar started before an init container adds to it",
       pod(Json::array({container("app", resources({{"cpu", "800m"}}))}),
           Json::array({sidecar("proxy", resources({{"cpu", "300m"}})),
                        container("init", resources({{"cpu", "1"}}))})),
       [] {
         ResourceList l;
         l.set("cpu", 1300);
         return l;
       }()},
      // Init 1000m first, alone; then sidecar 300m: peak max(1000, 300)
      // = 1000m; apps 800 + 300 = 1100m; max = 1100m.
      {"a sidecar started after an init container does not add to it",
       pod(Json::array({container("app", resources({{"cpu", "800m"}}))}),
           Json::array({container("init", resources({{"cpu", "1"}})),
                        sidecar("proxy", resources({{"cpu", "300m"}}))})),
       [] {
         ResourceList l;
         l.set("cpu", 1100);
         return l;
       }()},
      // s1 200m; init 1000 + 200 = 1200m; s2 brings sidecars to 700m;
      // peak 1200m; apps 100 + 200 + 500 = 800m; max = 1200m.
      {"sidecars accumulate in order",
       pod(Json::array({container("app", resources({{"cpu", "100m"}}))}),
           Json::array({sidecar("s1", resources({{"cpu", "200m"}})),
                        container("init", resources({{"cpu", "1"}})),
                        sidecar("s2", resources({{"cpu", "500m"}}))})),
       [] {
         ResourceList l;
         l.set("cpu", 1200);
         return l;
       }()},
      // The init container finished long ago, but the scheduler still
      // charges max(init 2000m, app 500m) = 2000m and 128Mi.
      {"a completed init container still counts",
       pod(Json::array({container("app", medium)}),
           Json::array({container(
               "init", resources({{"cpu", "2"}, {"memory", "64Mi"}}))}),
           {{"phase", "Running"},
            {"initContainerStatuses",
             Json::array(
                 {{{"name", "init"},
                   {"state", {{"terminated", {{"reason", "Completed"}}}}}}})}}),
       list(2000, 128 * k_mi)},
      // Limits stand in for absent requests: 1 cpu, 512Mi.
      {"limits-only container",
       pod(Json::array({container(
           "app", resources(nullptr, {{"cpu", "1"}, {"memory", "512Mi"}}))})),
       list(1000, 512 * k_mi)},
      // Per resource: the cpu request 250m stays, memory takes the limit.
      {"limits fill only the missing requests",
       pod(Json::array(
           {container("app", resources({{"cpu", "250m"}},
                                       {{"cpu", "1"}, {"memory", "1Gi"}}))})),
       list(250, k_gi)},
      // GPUs are usually given as limits only: 2 (any vendor -> "gpu").
      {"GPUs and extended resources are summed",
       pod(Json::array(
           {container("a",
                      resources({{"cpu", "1"}}, {{"nvidia.com/gpu", "2"},
                                                 {"example.com/fpga", "1"}})),
            container("b", resources(nullptr, {{"amd.com/gpu", 1}}))})),
       [] {
         ResourceList l;
         l.set("cpu", 1000);
         l.set("gpu", 3); // 2 nvidia + 1 amd
         l.set("example.com/fpga", 1);
         return l;
       }()},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    CHECK(pod_requests(row.pod) == row.want);
  }
}

TEST_CASE("pod overhead and pod-level resources") {
  Json p = pod(Json::array(
      {container("a", resources({{"cpu", "500m"}, {"memory", "256Mi"}})),
       container("b", resources({{"cpu", "500m"}, {"memory", "256Mi"}},
                                {{"nvidia.com/gpu", "1"}}))}));

  SUBCASE("overhead is added on top") {
    p["spec"]["overhead"] = {{"cpu", "250m"}, {"memory", "120Mi"}};
    // 500 + 500 + 250 = 1250m; 256 + 256 + 120 = 632Mi; gpu 1.
    CHECK(pod_requests(p) == list(1250, 632 * k_mi, {{"gpu", 1}}));
  }
  SUBCASE("pod-level requests replace the container sum for cpu/memory") {
    p["spec"]["resources"] = {{"requests", {{"cpu", "2"}, {"memory", "1Gi"}}}};
    // cpu 2000m and 1Gi from the pod level; gpu stays the containers' 1.
    CHECK(pod_requests(p) == list(2000, k_gi, {{"gpu", 1}}));
  }
  SUBCASE("pod-level requests then overhead") {
    p["spec"]["resources"] = {{"requests", {{"cpu", "2"}}}};
    p["spec"]["overhead"] = {{"cpu", "100m"}};
    // cpu 2000 + 100 = 2100m; memory 256 + 256 = 512Mi from containers.
    CHECK(pod_requests(p) == list(2100, 512 * k_mi, {{"gpu", 1}}));
  }
  SUBCASE("a pod-level limit stands in only where no container asked") {
    Json q =
        pod(Json::array({container("a", resources({{"memory", "256Mi"}})),
                         container("b", resources({{"memory", "256Mi"}}))}));
    q["spec"]["resources"] = {{"limits", {{"cpu", "4"}, {"memory", "2Gi"}}}};
    // cpu: no container asked, so the limit 4000m; memory: the
    // containers asked 256 + 256 = 512Mi, which defaulting keeps.
    CHECK(pod_requests(q) == list(4000, 512 * k_mi));
  }
}

TEST_CASE("in-place resize takes the larger of spec and status") {
  struct Row {
    const char* name;
    Json pod;
    std::int64_t want_cpu;
  };
  Json deferred = {{"conditions", Json::array({{{"type", "PodResizePending"},
                                                {"reason", "Deferred"}}})}};
  Json infeasible_condition = {
      {"conditions", Json::array({{{"type", "PodResizePending"},
                                   {"status", "True"},
                                   {"reason", "Infeasible"}}})}};
  const Row rows[] = {
      // Growing: spec 2 cpu, kubelet still at 1: max(2000, 1000).
      {"resize up in progress", resized_pod("2", "1", "", Json::object()),
       2000},
      // Shrinking: spec 500m, allocated still 1 cpu: max(500, 1000).
      {"resize down in progress", resized_pod("500m", "1", "", Json::object()),
       1000},
      // Actuated 1500m above allocated 1 and spec 500m: max = 1500.
      {"actuated requests count too", resized_pod("500m", "1", "1500m", {}),
       1500},
      // status.resize Infeasible: the spec's 8 cpu never applies; 1000.
      {"infeasible (status.resize)",
       resized_pod("8", "1", "", {{"resize", "Infeasible"}}), 1000},
      // The same through the newer PodResizePending condition: 1000.
      {"infeasible (PodResizePending condition)",
       resized_pod("8", "1", "", infeasible_condition), 1000},
      // Infeasible: max(allocated 1000, actual 1200) = 1200.
      {"infeasible keeps the larger of allocated and actual",
       resized_pod("8", "1", "1200m", infeasible_condition), 1200},
      // Deferred may still happen: max(8000, 1000) = 8000.
      {"deferred resize", resized_pod("8", "1", "", deferred), 8000},
      // Infeasible PodResizePending but the older field says nothing:
      // still infeasible, 1000.
      {"infeasible condition beside an empty status.resize",
       resized_pod("8", "1", "",
                   [&] {
                     Json s = infeasible_condition;
                     s["resize"] = "";
                     return s;
                   }()),
       1000},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    CHECK(pod_requests(row.pod).get("cpu") == row.want_cpu);
  }
}

TEST_CASE("a resize changes only cpu and memory") {
  Json p = resized_pod("8", "1", "", {{"resize", "Infeasible"}});
  Json& app = p["spec"]["containers"][0];
  app["resources"]["requests"]["memory"] = "4Gi";
  app["resources"]["limits"] = {{"nvidia.com/gpu", "1"}};
  // The status reports cpu only: cpu 1000 from it (infeasible); memory
  // 4Gi and the GPU, which it does not report, from the spec.
  CHECK(pod_requests(p) == list(1000, 4 * k_gi, {{"gpu", 1}}));

  p["status"]["containerStatuses"][0]["allocatedResources"] = {
      {"cpu", "1"}, {"memory", "2Gi"}, {"nvidia.com/gpu", "0"}};
  // Now memory comes from the status (2Gi); the GPU still from the spec.
  CHECK(pod_requests(p) == list(1000, 2 * k_gi, {{"gpu", 1}}));
}

TEST_CASE("a resized sidecar is found in the init container statuses") {
  Json p = pod(Json::array({container("app", resources({{"cpu", "1"}}))}),
               Json::array({sidecar("proxy", resources({{"cpu", "100m"}}))}),
               {{"phase", "Running"},
                {"initContainerStatuses",
                 Json::array({{{"name", "proxy"},
                               {"allocatedResources", {{"cpu", "400m"}}}}})}});
  // apps 1000 + max(spec 100, allocated 400) = 1400m.
  CHECK(pod_requests(p).get("cpu") == 1400);
}

TEST_CASE("malformed pods are errors naming the pod and the field") {
  struct Row {
    const char* name;
    Json pod;
    const char* message; // a part of the message
    std::string field;
  };
  // A pod whose one container "app" has these requests and limits.
  auto asking = [](Json requests, Json limits = nullptr) {
    return pod(Json::array(
        {container("app", resources(std::move(requests), std::move(limits)))}));
  };
  const std::string req = "spec.containers[0].resources.requests.";
  const Row rows[] = {
      {"fractional extended resource", asking({{"example.com/fpga", "500m"}}),
       "pod default/p: requests example.com/fpga \"500m\" is not a whole "
       "number",
       req + "example.com/fpga"},
      {"fractional GPU limit", asking(nullptr, {{"nvidia.com/gpu", "0.5"}}),
       "limits nvidia.com/gpu \"0.5\" is not a whole number",
       "spec.containers[0].resources.limits.nvidia.com/gpu"},
      {"garbage quantity", asking({{"cpu", "lots"}}),
       "pod default/p: requests cpu", req + "cpu"},
      {"negative quantity", asking({{"memory", "-1Gi"}}), "negative",
       req + "memory"},
      {"invalid resource name", asking({{"not a name", "1"}}),
       "invalid resource name", req + "not a name"},
      {"quantity of the wrong type", asking({{"cpu", true}}),
       "must be a quantity string", req + "cpu"},
      {"containers not an array",
       [] {
         Json p = pod(Json::array());
         p["spec"]["containers"] = "app";
         return p;
       }(),
       "spec.containers must be an array", "spec.containers"},
      {"no spec",
       [] {
         Json p = pod(Json::array());
         p.erase("spec");
         return p;
       }(),
       "spec is missing", "spec"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    try {
      (void)pod_requests(row.pod);
      FAIL("no error");
    } catch (const core::Error& e) {
      CHECK(e.code() == core::Code::invalid_argument);
      CHECK(std::string(e.what()).find(row.message) != std::string::npos);
      CHECK(e.field() == row.field);
    }
  }
}

TEST_CASE("decode_pod reads placement, phase and deletion") {
  Json p = pod(Json::array({container("app", resources({{"cpu", "1"}}))}),
               Json::array(), {{"phase", "Pending"}});
  p["metadata"]["namespace"] = "ml";
  p["metadata"]["name"] = "train-0";
  p["spec"]["nodeName"] = "gpu-a";
  p["metadata"]["deletionTimestamp"] = "2026-12-04T15:00:00Z";

  PodInfo info = decode_pod(p, "items[7]");
  CHECK(info.pod_namespace == "ml");
  CHECK(info.name == "train-0");
  CHECK(info.node_name == "gpu-a");
  CHECK(info.phase == "Pending");
  CHECK(info.terminating);
  CHECK(info.requests.get("cpu") == 1000);

  p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "x";
  try {
    (void)decode_pod(p, "items[7]");
    FAIL("no error");
  } catch (const core::Error& e) {
    CHECK(std::string(e.what()).starts_with("pod ml/train-0: "));
    CHECK(e.field() == "items[7].spec.containers[0].resources.requests.cpu");
  }
}

namespace {

// Returns a Ready node with `allocatable` and capacity, and labels.
Json node(const std::string& name, Json capacity, Json allocatable,
          Json labels = Json::object()) {
  Json n = {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", name}, {"labels", std::move(labels)}}},
            {"spec", Json::object()},
            {"status",
             {{"capacity", std::move(capacity)},
              {"conditions",
               Json::array({{{"type", "MemoryPressure"}, {"status", "False"}},
                            {{"type", "Ready"}, {"status", "True"}}})}}}};
  if (!allocatable.is_null()) {
    n["status"]["allocatable"] = std::move(allocatable);
  }
  return n;
}

} // namespace

TEST_CASE("decode_node reads readiness, taints, resources and labels") {
  Json n = node("gpu-3",
                {{"cpu", "48"}, {"memory", "340Gi"}, {"nvidia.com/gpu", "8"}},
                {{"cpu", "47810m"},
                 {"memory", "330Gi"},
                 {"nvidia.com/gpu", "6"},
                 {"ephemeral-storage", "100Gi"}},
                {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB"},
                 {"topology.kubernetes.io/region", "europe-west8"},
                 {"topology.kubernetes.io/zone", "europe-west8-b"}});
  n["spec"]["unschedulable"] = true;
  n["spec"]["taints"] = Json::array({{{"key", "nvidia.com/gpu"},
                                      {"value", "present"},
                                      {"effect", "NoSchedule"}}});

  NodeInfo info = decode_node(n);
  CHECK(info.name == "gpu-3");
  CHECK(info.ready);
  CHECK(info.unschedulable);
  REQUIRE(info.taints.size() == 1);
  CHECK(info.taints[0].key == "nvidia.com/gpu");
  CHECK(info.taints[0].value == "present");
  CHECK(info.taints[0].effect == "NoSchedule");
  CHECK(info.capacity.get("gpu") == 8);
  CHECK(info.allocatable.get("gpu") == 6); // two GPUs unhealthy
  CHECK(info.allocatable.get("cpu") == 47810);
  CHECK(info.allocatable.get("memory") == 330 * k_gi);
  CHECK(info.allocatable.get("storage") == 100 * k_gi);
  CHECK(info.gpu_model == "NVIDIA-A100-SXM4-80GB");
  CHECK(info.region == "europe-west8");
  CHECK(info.zone == "europe-west8-b");
}

TEST_CASE("decode_node defaults and fallbacks") {
  SUBCASE("allocatable defaults to capacity") {
    NodeInfo info = decode_node(node("n", {{"cpu", "4"}}, nullptr));
    CHECK(info.allocatable.get("cpu") == 4000);
  }
  SUBCASE("no Ready condition, or Ready Unknown, is not ready") {
    Json n = node("n", {{"cpu", "4"}}, nullptr);
    n["status"]["conditions"][1]["status"] = "Unknown";
    CHECK_FALSE(decode_node(n).ready);
    n["status"].erase("conditions");
    CHECK_FALSE(decode_node(n).ready);
  }
  SUBCASE("the beta region and zone labels are the fallback") {
    NodeInfo info = decode_node(
        node("n", {{"cpu", "4"}}, nullptr,
             {{"failure-domain.beta.kubernetes.io/region", "us-east1"},
              {"failure-domain.beta.kubernetes.io/zone", "us-east1-c"}}));
    CHECK(info.region == "us-east1");
    CHECK(info.zone == "us-east1-c");
  }
  SUBCASE("GPU model labels: operator's first, then the known ones") {
    Json labels = {{"cloud.google.com/gke-accelerator", "nvidia-l4"},
                   {"example.com/gpu-model", "L4-24GB"}};
    Json n = node("n", {{"cpu", "4"}}, nullptr, labels);
    CHECK(decode_node(n).gpu_model == "nvidia-l4");
    DecodeOptions own{"example.com/gpu-model"};
    CHECK(decode_node(n, own).gpu_model == "L4-24GB");
    DecodeOptions absent{"example.com/none"};
    CHECK(decode_node(n, absent).gpu_model == "nvidia-l4");
  }
}

TEST_CASE("fractional node resources are rejected naming node and resource") {
  Json n = node("gpu-3", {{"nvidia.com/gpu", "1"}},
                {{"cpu", "4"}, {"nvidia.com/gpu", "0.5"}});
  try {
    (void)decode_node(n, {}, "items[3]");
    FAIL("no error");
  } catch (const core::Error& e) {
    CHECK(std::string(e.what()) ==
          "node gpu-3: allocatable nvidia.com/gpu \"0.5\" is not a whole "
          "number");
    CHECK(e.field() == "items[3].status.allocatable.nvidia.com/gpu");
    CHECK(e.reason() == "InvalidQuantity");
  }
  // Millicores are fine for cpu: 0.5 cores = 500m.
  CHECK(decode_node(node("n", {{"cpu", "0.5"}}, nullptr))
            .allocatable.get("cpu") == 500);
}

TEST_CASE("add_list accepts List, NodeList, PodList and single objects") {
  Json n = node("n1", {{"cpu", "4"}}, nullptr);
  Json p = pod(Json::array({container("app", resources({{"cpu", "1"}}))}));
  Json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "web"}}}};
  std::vector<NodeInfo> nodes;
  std::vector<PodInfo> pods;

  SUBCASE("a List with kinds on its items; other kinds are counted") {
    Json doc = {{"apiVersion", "v1"},
                {"kind", "List"},
                {"items", Json::array({n, p, svc})}};
    ListCounts counts = add_list(doc, nodes, pods);
    CHECK(counts.nodes == 1);
    CHECK(counts.pods == 1);
    CHECK(counts.ignored == 1);
    CHECK(nodes.at(0).name == "n1");
    CHECK(pods.at(0).requests.get("cpu") == 1000);
  }
  SUBCASE("NodeList and PodList items need no kind") {
    n.erase("kind");
    p.erase("kind");
    add_list({{"kind", "NodeList"}, {"items", Json::array({n})}}, nodes, pods);
    add_list({{"kind", "PodList"}, {"items", Json::array({p, p})}}, nodes,
             pods);
    CHECK(nodes.size() == 1);
    CHECK(pods.size() == 2);
  }
  SUBCASE("a single Node or Pod") {
    add_list(n, nodes, pods);
    add_list(p, nodes, pods);
    CHECK(nodes.size() == 1);
    CHECK(pods.size() == 1);
  }
  SUBCASE("a page of items, as the paged API hands it over") {
    n.erase("kind");
    Json page = Json::array({n, n});
    page[1]["metadata"]["name"] = "n2";
    ListCounts counts = add_items(page, "Node", nodes, pods);
    CHECK(counts.nodes == 2);
    CHECK(nodes.at(1).name == "n2");
    page[1]["status"]["capacity"]["cpu"] = "lots";
    try {
      add_items(page, "Node", nodes, pods);
      FAIL("no error");
    } catch (const core::Error& e) {
      CHECK(e.field() == "items[1].status.capacity.cpu");
      CHECK(std::string(e.what()).starts_with("node n2: capacity cpu"));
    }
    CHECK_THROWS_WITH_AS(add_items(n, "Node", nodes, pods),
                         doctest::Contains("items must be an array"),
                         core::Error);
  }
  SUBCASE("errors name the item") {
    Json bad = p;
    bad["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "1x";
    Json doc = {{"kind", "List"}, {"items", Json::array({n, bad})}};
    CHECK_THROWS_WITH_AS(add_list(doc, nodes, pods),
                         doctest::Contains("pod default/p: requests cpu"),
                         core::Error);
    try {
      add_list(doc, nodes, pods);
    } catch (const core::Error& e) {
      CHECK(e.field() == "items[1].spec.containers[0].resources.requests.cpu");
    }
  }
  SUBCASE("malformed documents") {
    struct Row {
      Json doc;
      const char* message;
    };
    Json kindless = n;
    kindless.erase("kind");
    const Row rows[] = {
        {Json::array(), "expected a JSON object"},
        {{{"kind", "Deployment"}}, "kind \"Deployment\" is not a List"},
        {{{"kind", "List"}}, "a List needs an items array"},
        {{{"kind", "List"}, {"items", Json::array({1})}},
         "items[0] must be an object"},
        {{{"kind", "List"}, {"items", Json::array({kindless})}},
         "items[0] has no kind"},
    };
    for (const auto& row : rows) {
      CAPTURE(row.doc.dump());
      CHECK_THROWS_WITH_AS(add_list(row.doc, nodes, pods),
                           doctest::Contains(row.message), core::Error);
    }
  }
}

} // namespace lrb::kube
