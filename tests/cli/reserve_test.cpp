#include <functional>

#include <doctest/doctest.h>

#include "cli/reserve.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

constexpr std::int64_t k_gi = 1024LL * 1024 * 1024;

RequestFlags minimal() {
  RequestFlags f;
  f.cpu = "4";
  f.memory = "8Gi";
  f.requester = "rome";
  return f;
}

// Returns the error a call throws ("" when none), as "field|message".
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.field() + "|" + e.what();
  }
  return "";
}

} // namespace

TEST_CASE("the minimal request: cpu, memory and the requester") {
  const auto r = build_request(minimal(), "");
  CHECK(r.requester_id == "rome");
  CHECK(r.requested.get("cpu") == 4000);        // 4 cores in millicores
  CHECK(r.requested.get("memory") == 8 * k_gi); // 8Gi in bytes
  CHECK(r.requested.names() == std::vector<std::string>{"cpu", "memory"});
  CHECK(r.target_cluster_id.empty());
  CHECK_FALSE(r.duration_ms.has_value());
  CHECK(r.priority == 0);
  CHECK(r.policy.name.empty()); // the broker's default policy
  CHECK_FALSE(r.policy.resource_weight.has_value());
}

TEST_CASE("every flag lands in its field of the request") {
  RequestFlags f = minimal();
  f.cpu = "500m";
  f.gpu = "2";
  f.gpu_model = "A100-SXM4-80GB";
  f.storage = "100Gi";
  f.resources = {"hugepages-2Mi=1Gi", "example.com/fpga=1"};
  f.target = "paris";
  f.duration = "1h30m";
  f.priority = 10;
  f.policy = "cost";
  f.weights = "0.2,0.8";
  f.seed = "42";
  f.regions = {"europe-west9", "europe-west8"};
  f.labels = {"cloud=gcp", "tier=gold"};
  f.max_price = "2.50";
  const auto r = build_request(f, "ignored-default");
  CHECK(r.requester_id == "rome");
  CHECK(r.requested.get("cpu") == 500);
  CHECK(r.requested.get("gpu") == 2);
  CHECK(r.requested.get("storage") == 100 * k_gi);
  CHECK(r.requested.get("hugepages-2Mi") == k_gi);
  CHECK(r.requested.get("example.com/fpga") == 1);
  CHECK(r.target_cluster_id == "paris");
  CHECK(r.duration_ms == 90 * 60 * 1000); // 1h30m = 5,400,000 ms
  CHECK(r.priority == 10);
  CHECK(r.policy.name == "cost");
  CHECK(r.policy.resource_weight == 0.2);
  CHECK(r.policy.cost_weight == 0.8);
  CHECK(r.policy.seed == 42U);
  CHECK(r.constraints.gpu_model == "A100-SXM4-80GB");
  CHECK(r.constraints.regions ==
        std::vector<std::string>{"europe-west9", "europe-west8"});
  CHECK(r.constraints.labels.at("cloud") == "gcp");
  CHECK(r.constraints.labels.at("tier") == "gold");
  CHECK(r.constraints.max_price_per_hour == 2.5);
}

TEST_CASE("the requester: the flag, else the default, else an error") {
  RequestFlags f = minimal();
  f.requester.clear();
  CHECK(build_request(f, "berlin").requester_id == "berlin");
  f.requester = "rome";
  CHECK(build_request(f, "berlin").requester_id == "rome");
  f.requester.clear();
  CHECK(error_of([&] { build_request(f, ""); }) ==
        "--requester|--requester: no requester cluster given: pass "
        "--requester CLUSTER, set LRB_CLUSTER, or add `requester = CLUSTER` "
        "to the config file");
  f.requester = "Rome";
  CHECK(error_of([&] { build_request(f, ""); }).rfind("--requester|", 0) == 0);
}

TEST_CASE("each mistake is a usage error naming its flag") {
  struct Row {
    const char* what;
    std::function<void(RequestFlags&)> change;
    const char* field;
  };
  const Row rows[] = {
      {"no cpu", [](RequestFlags& f) { f.cpu.clear(); }, "--cpu"},
      {"no memory", [](RequestFlags& f) { f.memory.clear(); }, "--mem"},
      {"bad cpu", [](RequestFlags& f) { f.cpu = "4x"; }, "--cpu"},
      {"bad memory", [](RequestFlags& f) { f.memory = "8GB"; }, "--mem"},
      {"half a GPU", [](RequestFlags& f) { f.gpu = "0.5"; }, "--gpu"},
      {"bad storage", [](RequestFlags& f) { f.storage = "-1Gi"; }, "--storage"},
      {"bare duration", [](RequestFlags& f) { f.duration = "90"; },
       "--duration"},
      {"days", [](RequestFlags& f) { f.duration = "1d"; }, "--duration"},
      {"bad target", [](RequestFlags& f) { f.target = "Paris"; }, "--target"},
      {"one weight", [](RequestFlags& f) { f.weights = "0.7"; }, "--weights"},
      {"weights over 1", [](RequestFlags& f) { f.weights = "0.7,0.4"; },
       "--weights"},
      {"negative seed", [](RequestFlags& f) { f.seed = "-1"; }, "--seed"},
      {"label without =", [](RequestFlags& f) { f.labels = {"cloud"}; },
       "--label"},
      {"label twice",
       [](RequestFlags& f) {
         f.labels = {"a=1", "a=2"};
       },
       "--label"},
      {"negative price", [](RequestFlags& f) { f.max_price = "-1"; },
       "--max-price"},
      {"price in words", [](RequestFlags& f) { f.max_price = "cheap"; },
       "--max-price"},
      {"cpu twice", [](RequestFlags& f) { f.resources = {"cpu=2"}; },
       "--resource cpu=2"},
      {"gpu twice by vendor name",
       [](RequestFlags& f) {
         f.gpu = "1";
         f.resources = {"nvidia.com/gpu=1"};
       },
       "--resource nvidia.com/gpu=1"},
      {"resource without quantity",
       [](RequestFlags& f) { f.resources = {"fpga="}; }, "--resource"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    RequestFlags f = minimal();
    row.change(f);
    const std::string error = error_of([&] { build_request(f, ""); });
    // The field is the flag, and the message starts with it.
    CHECK(error.rfind(std::string(row.field) + "|" + row.field, 0) == 0);
  }
}

TEST_CASE("a bad quantity quotes core's reason after the flag") {
  RequestFlags f = minimal();
  f.cpu = "4x";
  CHECK(error_of([&] {
          build_request(f, "");
        }).rfind("--cpu|--cpu: invalid quantity \"4x\"", 0) == 0);
}

TEST_CASE("weights are a resource,cost pair summing to one") {
  struct Row {
    const char* text;
    double resource;
    double cost;
  };
  const Row good[] = {
      {"0.7,0.3", 0.7, 0.3}, // the default split
      {"1,0", 1, 0},         // resource only
      {"0,1", 0, 1},         // cost only
      {"0.25,0.75", 0.25, 0.75},
  };
  for (const auto& row : good) {
    CAPTURE(row.text);
    const auto [r, c] = parse_weights(row.text);
    CHECK(r == row.resource);
    CHECK(c == row.cost);
  }
  for (const char* bad :
       {"0.7", "0.7,0.4", "a,b", "-0.5,1.5", "0.7,0.3,0", "", ","}) {
    CAPTURE(bad);
    CHECK(error_of([&] { parse_weights(bad); }).rfind("--weights|", 0) == 0);
  }
}

TEST_CASE("granted resources: NAME=QTY lists, repeatable") {
  const auto g = parse_granted({"cpu=2,memory=4Gi", "nvidia.com/gpu=1"});
  CHECK(g.get("cpu") == 2000);
  CHECK(g.get("memory") == 4 * k_gi);
  CHECK(g.get("gpu") == 1);
  CHECK(error_of([] {
          parse_granted({"cpu"});
        }).rfind("--granted|--granted: \"cpu\" is not NAME=QTY", 0) == 0);
  CHECK(error_of([] { parse_granted({"cpu=1,cpu=2"}); }) ==
        "--granted|--granted: cpu is given twice");
  CHECK(error_of([] { parse_granted({"cpu=2,"}); }).rfind("--granted|", 0) ==
        0);
  CHECK(error_of([] {
          parse_granted({"memory=lots"});
        }).rfind("--granted|--granted: invalid quantity", 0) == 0);
}

} // namespace lrb::cli
