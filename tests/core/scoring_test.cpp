// Unit tests of the scoring core. Each expected score is written as the
// formula of DESIGN.md section 6 applied by hand, with its arithmetic in
// a comment, so that a reader can check the table without running it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/error.h"
#include "core/scoring.h"
#include "core/scoring_detail.h"

namespace lrb::core {

namespace {

constexpr std::int64_t k_gi = std::int64_t{1} << 30;

// Returns a list of `cores` cpus and `gib` GiB of memory.
ResourceList cores_gib(double cores, std::int64_t gib) {
  ResourceList list;
  list.set(Slot::cpu, static_cast<std::int64_t>(cores * 1000));
  list.set(Slot::memory, gib * k_gi);
  return list;
}

Prices flat_prices(double cpu, double memory) {
  Prices prices;
  prices.cpu_per_hour = cpu;
  prices.memory_gib_per_hour = memory;
  return prices;
}

// Returns a Ready cluster whose whole availability is free.
Cluster make_cluster(const std::string& id, const ResourceList& allocatable,
                     const ResourceList& free,
                     std::optional<Prices> prices = flat_prices(1, 0)) {
  Cluster cluster;
  cluster.ad.cluster_id = id;
  cluster.ad.cluster_name = id;
  cluster.ad.resources.capacity = allocatable;
  cluster.ad.resources.allocatable = allocatable;
  cluster.ad.resources.available = free;
  cluster.ad.prices = std::move(prices);
  cluster.free = free;
  return cluster;
}

ReservationRequest make_request(double cores, std::int64_t gib) {
  ReservationRequest request;
  request.requester_id = "madrid";
  request.requested = cores_gib(cores, gib);
  return request;
}

const DecisionRow& row_of(const Decision& decision, const std::string& id) {
  const auto it = std::find_if(
      decision.rows.begin(), decision.rows.end(),
      [&](const DecisionRow& row) { return row.cluster_id == id; });
  REQUIRE(it != decision.rows.end());
  return *it;
}

void check_near(double actual, double expected) {
  CAPTURE(actual);
  CAPTURE(expected);
  CHECK(std::abs(actual - expected) < 1e-9);
}

// Returns the cluster decide chooses, after checking that every detail
// level chooses it.
std::string chosen_at_every_detail(const ReservationRequest& request,
                                   std::span<const Cluster> clusters) {
  const Decision full = decide(request, clusters, {}, Detail::full);
  CHECK(decide(request, clusters, {}, Detail::summary).chosen == full.chosen);
  CHECK(decide(request, clusters, {}, Detail::none).chosen == full.chosen);
  return full.chosen;
}

bool same_prices(const std::optional<Prices>& a,
                 const std::optional<Prices>& b) {
  if (!a || !b) {
    return !a && !b;
  }
  return a->currency == b->currency && a->cpu_per_hour == b->cpu_per_hour &&
         a->memory_gib_per_hour == b->memory_gib_per_hour &&
         a->storage_gib_per_hour == b->storage_gib_per_hour &&
         a->gpu_per_hour == b->gpu_per_hour;
}

bool same_cluster(const Cluster& a, const Cluster& b) {
  const Advertisement& x = a.ad;
  const Advertisement& y = b.ad;
  return x.cluster_id == y.cluster_id && x.cluster_name == y.cluster_name &&
         x.generation == y.generation && x.timestamp == y.timestamp &&
         x.endpoint == y.endpoint && x.region == y.region &&
         x.labels == y.labels && x.resources.capacity == y.resources.capacity &&
         x.resources.allocatable == y.resources.allocatable &&
         x.resources.allocated == y.resources.allocated &&
         x.resources.available == y.resources.available &&
         x.resources.largest_node_available ==
             y.resources.largest_node_available &&
         x.gpu_models == y.gpu_models && same_prices(x.prices, y.prices) &&
         x.consumed == y.consumed && a.reserved == b.reserved &&
         a.free == b.free && a.state == b.state && a.cordoned == b.cordoned &&
         a.last_seen == b.last_seen && a.version == b.version;
}

bool same_request(const ReservationRequest& a, const ReservationRequest& b) {
  const Constraints& x = a.constraints;
  const Constraints& y = b.constraints;
  return a.requester_id == b.requester_id && a.requested == b.requested &&
         a.target_cluster_id == b.target_cluster_id &&
         a.duration_ms == b.duration_ms && a.priority == b.priority &&
         x.gpu_model == y.gpu_model && x.regions == y.regions &&
         x.labels == y.labels && x.max_price_per_hour == y.max_price_per_hour &&
         a.policy.name == b.policy.name &&
         a.policy.resource_weight == b.policy.resource_weight &&
         a.policy.cost_weight == b.policy.cost_weight &&
         a.policy.seed == b.policy.seed;
}

bool same_row(const DecisionRow& a, const DecisionRow& b) {
  return a.cluster_id == b.cluster_id && a.candidate == b.candidate &&
         a.resource_score == b.resource_score && a.cost_score == b.cost_score &&
         a.price_per_hour == b.price_per_hour && a.score == b.score &&
         a.rank == b.rank && a.reason == b.reason;
}

bool same_decision(const Decision& a, const Decision& b) {
  return a.policy == b.policy && a.resource_weight == b.resource_weight &&
         a.cost_weight == b.cost_weight && a.seed == b.seed &&
         a.chosen == b.chosen && a.clusters == b.clusters &&
         a.candidates == b.candidates &&
         std::equal(a.rows.begin(), a.rows.end(), b.rows.begin(), b.rows.end(),
                    same_row);
}

// A fleet of `count` clusters "c000".. (ids permuted against the input
// order) with a mix the filters and scores can tell apart: i % 5 == 4 is
// stale, i % 7 == 3 has a single free cpu, every other cluster has at
// least 8 cpus and 32Gi free; sizes and prices vary with i.
std::vector<Cluster> mixed_fleet(int count) {
  std::vector<Cluster> fleet;
  for (int i = 0; i < count; ++i) {
    const std::int64_t cores = 16 + (i * 37) % 112;
    const std::int64_t free_cores = i % 7 == 3 ? 1 : cores / 2 + i % 5;
    auto cluster = make_cluster(
        fmt::format("c{:03}", (i * 53) % count), cores_gib(cores, 4 * cores),
        cores_gib(free_cores, 2 * cores),
        flat_prices(0.03 + 0.001 * (i % 11), 0.004 + 0.0001 * (i % 13)));
    cluster.state = i % 5 == 4 ? ClusterState::stale : ClusterState::ready;
    fleet.push_back(std::move(cluster));
  }
  return fleet;
}

} // namespace

TEST_CASE("policy_names lists the five policies") {
  const auto names = policy_names();
  const std::set<std::string_view> got(names.begin(), names.end());
  CHECK(got == std::set<std::string_view>{"weighted", "resource", "cost",
                                          "random", "binpack"});
}

TEST_CASE("resolve_policy fills names, weights and seeds") {
  struct Row {
    const char* what;
    PolicySpec spec;
    ScoringConfig config;
    std::string policy;
    double resource_weight;
    double cost_weight;
    std::optional<std::uint64_t> seed;
  };
  const ScoringConfig defaults;
  const ScoringConfig cost_broker{"cost", 0.7, 0.3};
  const ScoringConfig even_broker{"weighted", 0.5, 0.5};
  const Row rows[] = {
      {"empty spec takes the broker default",
       {},
       defaults,
       "weighted",
       0.7,
       0.3,
       std::nullopt},
      {"the broker's own default policy",
       {},
       cost_broker,
       "cost",
       0,
       1,
       std::nullopt},
      {"the broker's own default weights",
       {},
       even_broker,
       "weighted",
       0.5,
       0.5,
       std::nullopt},
      {"resource forces 1/0",
       {"resource", 0.2, 0.8, {}},
       defaults,
       "resource",
       1,
       0,
       std::nullopt},
      {"cost forces 0/1",
       {"cost", {}, {}, {}},
       defaults,
       "cost",
       0,
       1,
       std::nullopt},
      {"request weights",
       {"weighted", 0.5, 0.5, {}},
       defaults,
       "weighted",
       0.5,
       0.5,
       std::nullopt},
      // 1 - 0.25 = 0.75.
      {"one weight implies the other",
       {"", 0.25, {}, {}},
       defaults,
       "weighted",
       0.25,
       0.75,
       std::nullopt},
      {"cost weight alone",
       {"binpack", {}, 0.75, {}},
       defaults,
       "binpack",
       0.25,
       0.75,
       std::nullopt},
      // 0.5 + (0.5 + 5e-10) is 1 within 1e-9.
      {"sum within tolerance",
       {"", 0.5, 0.5 + 5e-10, {}},
       defaults,
       "weighted",
       0.5,
       0.5 + 5e-10,
       std::nullopt},
      {"random without seed uses 0",
       {"random", {}, {}, {}},
       defaults,
       "random",
       0.7,
       0.3,
       0},
      {"random keeps its seed",
       {"random", {}, {}, 42},
       defaults,
       "random",
       0.7,
       0.3,
       42},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    const Decision d = resolve_policy(row.spec, row.config);
    CHECK(d.policy == row.policy);
    CHECK(d.resource_weight == row.resource_weight);
    CHECK(d.cost_weight == row.cost_weight);
    CHECK(d.seed == row.seed);
  }
}

TEST_CASE("resolve_policy rejects bad names and weights") {
  struct Row {
    const char* what;
    PolicySpec spec;
    ScoringConfig config;
    std::string field;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const ScoringConfig defaults;
  const Row rows[] = {
      {"unknown name", {"best", {}, {}, {}}, defaults, "policy.name"},
      {"unknown broker default", {}, {"fastest", 0.7, 0.3}, "policy.name"},
      {"weight above 1", {"", 1.5, {}, {}}, defaults, "policy.resourceWeight"},
      {"negative weight",
       {"", -0.1, {}, {}},
       defaults,
       "policy.resourceWeight"},
      {"NaN weight", {"", nan, {}, {}}, defaults, "policy.resourceWeight"},
      {"infinite cost weight",
       {"", {}, inf, {}},
       defaults,
       "policy.costWeight"},
      // 0.6 + 0.6 = 1.2.
      {"weights sum above 1",
       {"", 0.6, 0.6, {}},
       defaults,
       "policy.resourceWeight"},
      // 0.5 + 0.5 + 2e-9 is off by more than 1e-9.
      {"sum just outside tolerance",
       {"", 0.5, 0.5 + 2e-9, {}},
       defaults,
       "policy.resourceWeight"},
      {"resource still validates weights",
       {"resource", 2.0, {}, {}},
       defaults,
       "policy.resourceWeight"},
      // 0.5 + 0.4 = 0.9.
      {"bad broker weights",
       {},
       {"weighted", 0.5, 0.4},
       "policy.resourceWeight"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    try {
      resolve_policy(row.spec, row.config);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == Code::invalid_argument);
      CHECK(e.field() == row.field);
      CHECK(std::string(e.what()).find("policy") != std::string::npos);
    }
  }
}

TEST_CASE("each filter excludes with its reason") {
  // The base request: 4 cpus and 8Gi from madrid. The base cluster rome
  // has 8 cpus and 32Gi free of 16 and 64Gi and costs 4 x 0.5 + 8 x
  // 0.0625 = 2.5 per hour for it.
  struct Row {
    const char* what;
    std::function<void(ReservationRequest&, Cluster&)> change;
    std::optional<std::string> reason;
  };
  const auto gpus = [](ResourceList& list, std::int64_t n) {
    list.set(Slot::gpu, n);
  };
  const Row rows[] = {
      {"fits", [](auto&, auto&) {}, std::nullopt},
      {"requester", [](auto& r, auto&) { r.requester_id = "rome"; },
       "is the requester"},
      {"target", [](auto& r, auto&) { r.target_cluster_id = "berlin"; },
       "not the requested target berlin"},
      {"target itself", [](auto& r, auto&) { r.target_cluster_id = "rome"; },
       std::nullopt},
      {"stale", [](auto&, auto& c) { c.state = ClusterState::stale; },
       "state Stale"},
      {"cordoned flag", [](auto&, auto& c) { c.cordoned = true; }, "cordoned"},
      {"cordoned state",
       [](auto&, auto& c) { c.state = ClusterState::cordoned; }, "cordoned"},
      {"cpu short", [](auto&, auto& c) { c.free.set(Slot::cpu, 2000); },
       "insufficient cpu: free 2, need 4"},
      {"cpu short by millicores",
       [](auto&, auto& c) { c.free.set(Slot::cpu, 3500); },
       "insufficient cpu: free 3500m, need 4"},
      {"memory short",
       [](auto&, auto& c) { c.free.set(Slot::memory, 4 * k_gi); },
       "insufficient memory: free 4Gi, need 8Gi"},
      {"both short",
       [](auto&, auto& c) {
         c.free.set(Slot::cpu, 2000);
         c.free.set(Slot::memory, 4 * k_gi);
       },
       "insufficient cpu: free 2, need 4; insufficient memory: free 4Gi, "
       "need 8Gi"},
      {"gpu short", [&](auto& r, auto&) { gpus(r.requested, 1); },
       "insufficient gpu: free 0, need 1"},
      {"storage short",
       [](auto& r, auto& c) {
         r.requested.set(Slot::storage, 100 * k_gi);
         c.free.set(Slot::storage, 50 * k_gi);
       },
       "insufficient storage: free 50Gi, need 100Gi"},
      {"extended short",
       [](auto& r, auto& c) {
         r.requested.set("example.com/fpga", 2);
         c.free.set("example.com/fpga", 1);
       },
       "insufficient example.com/fpga: free 1, need 2"},
      {"gpu model absent",
       [](auto& r, auto& c) {
         r.constraints.gpu_model = "A100-SXM4-80GB";
         c.ad.gpu_models = {{"T4", 4}};
       },
       "no GPU model A100-SXM4-80GB"},
      {"gpu model too few",
       [&](auto& r, auto& c) {
         gpus(r.requested, 4);
         gpus(c.free, 8);
         r.constraints.gpu_model = "A100-SXM4-80GB";
         c.ad.gpu_models = {{"A100-SXM4-80GB", 2}, {"T4", 6}};
       },
       "only 2 GPUs of model A100-SXM4-80GB, need 4"},
      {"region",
       [](auto& r, auto& c) {
         r.constraints.regions = {"us-east1"};
         c.ad.region = "europe-west3";
       },
       "region europe-west3 not in [us-east1]"},
      {"region among several",
       [](auto& r, auto& c) {
         r.constraints.regions = {"us-east1", "us-west1"};
         c.ad.region = "europe-west3";
       },
       "region europe-west3 not in [us-east1, us-west1]"},
      {"region allowed",
       [](auto& r, auto& c) {
         r.constraints.regions = {"us-east1", "europe-west3"};
         c.ad.region = "europe-west3";
       },
       std::nullopt},
      {"label differs",
       [](auto& r, auto& c) {
         r.constraints.labels = {{"cloud", "aws"}};
         c.ad.labels = {{"cloud", "gcp"}};
       },
       "label cloud=aws not matched"},
      {"label absent",
       [](auto& r, auto& c) {
         r.constraints.labels = {{"cloud", "gcp"}, {"tier", "gold"}};
         c.ad.labels = {{"cloud", "gcp"}};
       },
       "label tier=gold not matched"},
      {"price above max",
       [](auto& r, auto&) { r.constraints.max_price_per_hour = 2.0; },
       "price 2.50/h above max 2.00/h"},
      {"price just above max",
       [](auto& r, auto&) { r.constraints.max_price_per_hour = 2.499; },
       "price 2.500/h above max 2.499/h"},
      {"price at max",
       [](auto& r, auto&) { r.constraints.max_price_per_hour = 2.5; },
       std::nullopt},
      {"no price with a max",
       [](auto& r, auto& c) {
         r.constraints.max_price_per_hour = 5.0;
         c.ad.prices.reset();
       },
       "no price"},
      {"no price without a max", [](auto&, auto& c) { c.ad.prices.reset(); },
       std::nullopt},
      {"unpriced gpu with a max",
       [&](auto& r, auto& c) {
         gpus(r.requested, 1);
         gpus(c.free, 1);
         r.constraints.max_price_per_hour = 100.0;
       },
       "no price"},
      // The filters run in order: the first failure is the reason.
      {"requester before stale",
       [](auto& r, auto& c) {
         r.requester_id = "rome";
         c.state = ClusterState::stale;
       },
       "is the requester"},
      {"stale before cordoned",
       [](auto&, auto& c) {
         c.state = ClusterState::stale;
         c.cordoned = true;
       },
       "state Stale"},
      {"cordoned before short",
       [](auto&, auto& c) {
         c.cordoned = true;
         c.free.set(Slot::cpu, 0);
       },
       "cordoned"},
      {"short before region",
       [](auto& r, auto& c) {
         c.free.set(Slot::cpu, 0);
         r.constraints.regions = {"us-east1"};
       },
       "insufficient cpu: free 0, need 4"},
      {"region before price",
       [](auto& r, auto&) {
         r.constraints.regions = {"us-east1"};
         r.constraints.max_price_per_hour = 1.0;
       },
       "region (unset) not in [us-east1]"},
  };

  std::vector<Cluster> clusters;
  std::vector<ReservationRequest> requests;
  for (const auto& row : rows) {
    CAPTURE(row.what);
    ReservationRequest request = make_request(4, 8);
    Cluster rome = make_cluster("rome", cores_gib(16, 64), cores_gib(8, 32),
                                flat_prices(0.5, 0.0625));
    row.change(request, rome);
    CHECK(exclusion_reason(request, rome) == row.reason);

    // decide gives the same reason in its row, and never chooses an
    // excluded cluster.
    const Cluster only[] = {rome};
    const Decision d = decide(request, only, {});
    REQUIRE(d.rows.size() == 1);
    CHECK(d.rows[0].candidate == !row.reason);
    CHECK(d.rows[0].reason == row.reason.value_or(""));
    CHECK(d.chosen == (row.reason ? "" : "rome"));
  }
}

TEST_CASE("the requester is never chosen, even when it scores best") {
  // madrid has all its 64 cpus free; rome only 8 of 16.
  ReservationRequest request = make_request(4, 8);
  const Cluster clusters[] = {
      make_cluster("madrid", cores_gib(64, 256), cores_gib(64, 256)),
      make_cluster("rome", cores_gib(16, 64), cores_gib(8, 32)),
  };
  const Decision d = decide(request, clusters, {});
  CHECK(d.chosen == "rome");
  CHECK(d.candidates == 1);
  CHECK(row_of(d, "madrid").reason == "is the requester");
}

TEST_CASE("worked example: R, C and S by hand") {
  // Request: 2 cpus, 4Gi.
  //   a: 6 of 8 cpus and 12 of 16Gi free; 2 x 1.0 + 4 x 0.25 = 3.0 /h
  //      R = ((6-2)/8 + (12-4)/16) / 2 = (0.5 + 0.5) / 2 = 0.5
  //   b: 4 of 16 cpus and 8 of 32Gi free; 2 x 0.5 + 4 x 0.125 = 1.5 /h
  //      R = ((4-2)/16 + (8-4)/32) / 2 = (0.125 + 0.125) / 2 = 0.125
  //   c: 4 of 4 cpus and 8 of 8Gi free; no prices
  //      R = ((4-2)/4 + (8-4)/8) / 2 = (0.5 + 0.5) / 2 = 0.5
  // P_min = 1.5, so C_a = 1.5 / 3 = 0.5, C_b = 1, C_c = 0 (no price).
  const Cluster clusters[] = {
      make_cluster("a", cores_gib(8, 16), cores_gib(6, 12),
                   flat_prices(1.0, 0.25)),
      make_cluster("b", cores_gib(16, 32), cores_gib(4, 8),
                   flat_prices(0.5, 0.125)),
      make_cluster("c", cores_gib(4, 8), cores_gib(4, 8), std::nullopt),
  };
  struct Row {
    double resource_weight;
    double cost_weight;
    std::string chosen;
    double score_a, score_b, score_c;
  };
  const Row rows[] = {
      // a: 100 (0.7 x 0.5 + 0.3 x 0.5) = 50
      // b: 100 (0.7 x 0.125 + 0.3 x 1) = 38.75
      // c: 100 (0.7 x 0.5 + 0.3 x 0) = 35
      {0.7, 0.3, "a", 50, 38.75, 35},
      // a: 100 (0.2 x 0.5 + 0.8 x 0.5) = 50
      // b: 100 (0.2 x 0.125 + 0.8 x 1) = 82.5
      // c: 100 (0.2 x 0.5) = 10
      {0.2, 0.8, "b", 50, 82.5, 10},
  };
  for (const auto& row : rows) {
    CAPTURE(row.resource_weight);
    ReservationRequest request = make_request(2, 4);
    request.policy = {"weighted", row.resource_weight, row.cost_weight, {}};
    const Decision d = decide(request, clusters, {});
    CHECK(d.chosen == row.chosen);
    CHECK(d.candidates == 3);
    check_near(row_of(d, "a").resource_score, 0.5);
    check_near(row_of(d, "b").resource_score, 0.125);
    check_near(row_of(d, "c").resource_score, 0.5);
    check_near(row_of(d, "a").cost_score, 0.5);
    check_near(row_of(d, "b").cost_score, 1.0);
    CHECK(row_of(d, "c").cost_score == 0);
    check_near(*row_of(d, "a").price_per_hour, 3.0);
    check_near(*row_of(d, "b").price_per_hour, 1.5);
    CHECK_FALSE(row_of(d, "c").price_per_hour.has_value());
    check_near(row_of(d, "a").score, row.score_a);
    check_near(row_of(d, "b").score, row.score_b);
    check_near(row_of(d, "c").score, row.score_c);
    CHECK(d.rows[0].cluster_id == row.chosen);
    CHECK(d.rows[0].rank == 1);
  }
}

TEST_CASE("a free cluster has the best cost score") {
  // Request 2 cpus, 4Gi; both leave R = ((4-2)/8 + (8-4)/16) / 2 = 0.25.
  //   gratis: P = 0, so C = 1 by definition (not 0 / 0)
  //   paid:   P = 2 x 1 = 2, C = P_min / P = 0 / 2 = 0
  // S = 100 (0.7 x 0.25 + 0.3 C): gratis 47.5, paid 17.5.
  const Cluster clusters[] = {
      make_cluster("paid", cores_gib(8, 16), cores_gib(4, 8),
                   flat_prices(1, 0)),
      make_cluster("gratis", cores_gib(8, 16), cores_gib(4, 8),
                   flat_prices(0, 0)),
  };
  const Decision d = decide(make_request(2, 4), clusters, {});
  CHECK(d.chosen == "gratis");
  CHECK(row_of(d, "gratis").cost_score == 1);
  CHECK(row_of(d, "paid").cost_score == 0);
  check_near(row_of(d, "gratis").score, 47.5);
  check_near(row_of(d, "paid").score, 17.5);
}

TEST_CASE("resource terms are clamped and skip what is not allocatable") {
  // Request: 2 cpus, 4Gi, 2 GPUs, 1 example.com/fpga.
  //   cpu:    free 10 of 4 allocatable: (10-2)/4 = 2, clamped to 1
  //   memory: free 8Gi of 0 allocatable: counted as 0
  //   gpu:    free 4 of 8: (4-2)/8 = 0.25
  //   fpga:   free 3 of 4: (3-1)/4 = 0.5
  // R = (1 + 0 + 0.25 + 0.5) / 4 = 0.4375
  ReservationRequest request = make_request(2, 4);
  request.requested.set(Slot::gpu, 2);
  request.requested.set("example.com/fpga", 1);
  Prices prices = flat_prices(1, 0);
  prices.gpu_per_hour = {{"default", 2}};
  ResourceList allocatable;
  allocatable.set(Slot::cpu, 4000);
  allocatable.set(Slot::gpu, 8);
  allocatable.set("example.com/fpga", 4);
  ResourceList free = cores_gib(10, 8);
  free.set(Slot::gpu, 4);
  free.set("example.com/fpga", 3);
  const Cluster clusters[] = {make_cluster("odd", allocatable, free, prices)};

  const Decision d = decide(request, clusters, {});
  CHECK(d.chosen == "odd");
  check_near(d.rows[0].resource_score, 0.4375);
  // P = 2 cpus x 1 + 2 GPUs x 2 = 6; C = 6 / 6 = 1.
  check_near(*d.rows[0].price_per_hour, 6.0);
  // S = 100 (0.7 x 0.4375 + 0.3 x 1) = 60.625
  check_near(d.rows[0].score, 60.625);
}

TEST_CASE("rome, paris and berlin at their real GCP prices") {
  // Prices per core-hour and GiB-hour from skypilot-org/skypilot-catalog
  // (catalogs/v7/gcp/vms.csv): europe-west8 (Milan, for rome) and
  // europe-west9 (Paris) 0.031902 and 0.004276, no GPU price;
  // europe-west3 (Frankfurt, for berlin) 0.035435 and 0.004748, T4 0.41.
  Prices milan = flat_prices(0.031902, 0.004276);
  Prices paris_prices = flat_prices(0.031902, 0.004276);
  Prices frankfurt = flat_prices(0.035435, 0.004748);
  frankfurt.gpu_per_hour = {{"T4", 0.41}};

  ResourceList berlin_allocatable = cores_gib(96, 384);
  ResourceList berlin_free = cores_gib(56, 232);
  berlin_allocatable.set(Slot::gpu, 4);
  berlin_free.set(Slot::gpu, 4);
  Cluster berlin =
      make_cluster("berlin", berlin_allocatable, berlin_free, frankfurt);
  berlin.ad.region = "europe-west3";
  berlin.ad.gpu_models = {{"T4", 4}};
  const Cluster clusters[] = {
      make_cluster("rome", cores_gib(32, 128), cores_gib(12, 48), milan),
      make_cluster("paris", cores_gib(64, 256), cores_gib(40, 144),
                   paris_prices),
      berlin,
  };

  // Request: 4 cpus, 16Gi.
  const double r_rome = (8.0 / 32 + 32.0 / 128) / 2;     // (0.25+0.25)/2
  const double r_paris = (36.0 / 64 + 128.0 / 256) / 2;  // 0.53125
  const double r_berlin = (52.0 / 96 + 216.0 / 384) / 2; // 0.5520833
  const double p_rome = 4 * 0.031902 + 16 * 0.004276;    // 0.196024
  const double p_berlin = 4 * 0.035435 + 16 * 0.004748;  // 0.217708
  // rome and paris share the cheapest price, so their C is 1.
  const double c_berlin = p_rome / p_berlin; // 0.9003987

  struct Row {
    const char* policy;
    double w_r, w_c;
    std::string chosen;
  };
  const Row rows[] = {
      // rome 47.5, paris 67.1875, berlin 38.6458 + 27.0120 = 65.6578
      {"weighted", 0.7, 0.3, "paris"},
      // rome 62.5, paris 76.5625, berlin 27.6042 + 45.0199 = 72.6241
      {"weighted", 0.5, 0.5, "paris"},
      // rome 25, paris 53.125, berlin 55.2083
      {"resource", 1, 0, "berlin"},
      // rome 100, paris 100, berlin 90.0399: rome and paris tie on S and
      // on price, so the smaller id wins.
      {"cost", 0, 1, "paris"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.policy);
    CAPTURE(row.w_r);
    ReservationRequest request = make_request(4, 16);
    request.policy.name = row.policy;
    if (std::string(row.policy) == "weighted") {
      request.policy.resource_weight = row.w_r;
      request.policy.cost_weight = row.w_c;
    }
    const Decision d = decide(request, clusters, {});
    CHECK(d.chosen == row.chosen);
    CHECK(d.resource_weight == row.w_r);
    CHECK(d.cost_weight == row.w_c);
    check_near(*row_of(d, "rome").price_per_hour, p_rome);
    check_near(*row_of(d, "paris").price_per_hour, p_rome);
    check_near(*row_of(d, "berlin").price_per_hour, p_berlin);
    check_near(row_of(d, "rome").score, 100 * (row.w_r * r_rome + row.w_c));
    check_near(row_of(d, "paris").score, 100 * (row.w_r * r_paris + row.w_c));
    check_near(row_of(d, "berlin").score,
               100 * (row.w_r * r_berlin + row.w_c * c_berlin));
  }

  SUBCASE("a GPU request only berlin can take") {
    ReservationRequest request = make_request(4, 16);
    request.requested.set(Slot::gpu, 1);
    std::string model;
    SUBCASE("any model") {}
    SUBCASE("T4 asked") {
      model = "T4";
    }
    CAPTURE(model);
    request.constraints.gpu_model = model;
    const Decision d = decide(request, clusters, {});
    CHECK(d.chosen == "berlin");
    CHECK(d.candidates == 1);
    CHECK(row_of(d, "rome").reason == "insufficient gpu: free 0, need 1");
    CHECK(row_of(d, "paris").reason == "insufficient gpu: free 0, need 1");
    // R = ((56-4)/96 + (232-16)/384 + (4-1)/4) / 3 = 0.6180556
    const double r = (52.0 / 96 + 216.0 / 384 + 3.0 / 4) / 3;
    // P = 0.217708 + 1 x 0.41 (T4, berlin's only model) = 0.627708
    check_near(*row_of(d, "berlin").price_per_hour, p_berlin + 0.41);
    // S = 100 (0.7 R + 0.3 x 1) = 73.2639
    check_near(row_of(d, "berlin").score, 100 * (0.7 * r + 0.3));
  }

  SUBCASE("a GPU model nobody has") {
    ReservationRequest request = make_request(4, 16);
    request.requested.set(Slot::gpu, 1);
    request.constraints.gpu_model = "A100-SXM4-80GB";
    const Decision d = decide(request, clusters, {});
    CHECK(d.chosen == "");
    CHECK(row_of(d, "berlin").reason == "no GPU model A100-SXM4-80GB");
  }
}

TEST_CASE("ties go to the lower price, then the smaller id") {
  // Every cluster below leaves R = ((4-2)/8 + (8-4)/16) / 2 = 0.25 unless
  // said otherwise; the request is 2 cpus and 4Gi.
  const ResourceList allocatable = cores_gib(8, 16);
  const ResourceList free = cores_gib(4, 8);

  SUBCASE("equal S and price: the smaller id") {
    const Cluster clusters[] = {make_cluster("c", allocatable, free),
                                make_cluster("a", allocatable, free),
                                make_cluster("b", allocatable, free)};
    const Decision d = decide(make_request(2, 4), clusters, {});
    CHECK(chosen_at_every_detail(make_request(2, 4), clusters) == "a");
    CHECK(d.rows[1].cluster_id == "b");
    CHECK(d.rows[2].cluster_id == "c");
  }
  SUBCASE("equal S: the lower price, whatever the id") {
    // resource policy: S = 100 x 0.25 = 25 for both.
    const Cluster clusters[] = {
        make_cluster("a", allocatable, free, flat_prices(1.0, 0)),
        make_cluster("b", allocatable, free, flat_prices(0.5, 0))};
    ReservationRequest request = make_request(2, 4);
    request.policy.name = "resource";
    CHECK(chosen_at_every_detail(request, clusters) == "b");
  }
  SUBCASE("no price counts as the highest price") {
    const Cluster clusters[] = {
        make_cluster("a", allocatable, free, std::nullopt),
        make_cluster("b", allocatable, free, flat_prices(50, 0))};
    ReservationRequest request = make_request(2, 4);
    request.policy.name = "resource";
    const Decision d = decide(request, clusters, {});
    CHECK(chosen_at_every_detail(request, clusters) == "b");
    CHECK(row_of(d, "a").score == row_of(d, "b").score);
  }
  SUBCASE("equal S from different terms: the lower price") {
    // 0.5/0.5. zeta: R 0.25, P = 2 x 0.5 = 1, C = 1:
    //   S = 100 (0.5 x 0.25 + 0.5 x 1) = 62.5
    // alpha: R = ((8-2)/8 + (16-4)/16) / 2 = 0.75, P = 2 x 1 = 2,
    //   C = 1 / 2 = 0.5: S = 100 (0.5 x 0.75 + 0.5 x 0.5) = 62.5
    const Cluster clusters[] = {
        make_cluster("alpha", allocatable, cores_gib(8, 16),
                     flat_prices(1.0, 0)),
        make_cluster("zeta", allocatable, free, flat_prices(0.5, 0))};
    ReservationRequest request = make_request(2, 4);
    request.policy = {"weighted", 0.5, 0.5, {}};
    const Decision d = decide(request, clusters, {});
    CHECK(row_of(d, "alpha").score == 62.5);
    CHECK(row_of(d, "zeta").score == 62.5);
    CHECK(chosen_at_every_detail(request, clusters) == "zeta");
  }
}

TEST_CASE("random picks uniformly among candidates, by seed") {
  // Five candidates of different sizes, two excluded.
  std::vector<Cluster> clusters;
  for (int i = 0; i < 5; ++i) {
    clusters.push_back(make_cluster(fmt::format("ok-{}", i), cores_gib(16, 64),
                                    cores_gib(4 + 2 * i, 16)));
  }
  clusters.push_back(
      make_cluster("small", cores_gib(16, 64), cores_gib(1, 16)));
  clusters.push_back(
      make_cluster("madrid", cores_gib(16, 64), cores_gib(16, 64)));
  std::vector<Cluster> shuffled = clusters;
  std::mt19937 shuffle_rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), shuffle_rng);

  std::map<std::string, int> picks;
  constexpr int k_seeds = 1000;
  for (std::uint64_t seed = 0; seed < k_seeds; ++seed) {
    ReservationRequest request = make_request(2, 4);
    request.policy = {"random", {}, {}, seed};
    const Decision d = decide(request, clusters, {});
    CHECK(d.seed == seed);
    CHECK(d.rows[0].cluster_id == d.chosen);
    CHECK(d.rows[0].rank == 1);
    // The same seed gives the same pick, whatever the input order.
    CHECK(decide(request, shuffled, {}).chosen == d.chosen);
    ++picks[d.chosen];
  }
  // Only candidates, and every one of them: 1000 seeds over 5 candidates
  // expect 200 each (standard deviation ~12.6); 150..250 is 4 sigma.
  CHECK(picks.size() == 5);
  for (const auto& [id, count] : picks) {
    CAPTURE(id);
    CHECK(id.starts_with("ok-"));
    CHECK(count >= 150);
    CHECK(count <= 250);
  }

  SUBCASE("no seed means seed 0") {
    ReservationRequest request = make_request(2, 4);
    request.policy.name = "random";
    const Decision unseeded = decide(request, clusters, {});
    request.policy.seed = 0;
    CHECK(unseeded.seed == std::optional<std::uint64_t>(0));
    CHECK(unseeded.chosen == decide(request, clusters, {}).chosen);
  }
}

TEST_CASE("binpack picks the fullest candidate") {
  // Request 2 cpus, 4Gi on 8 cpus and 16Gi; equal prices, so C = 1.
  //   full:  free 4, 8Gi  -> R = (2/8 + 4/16) / 2 = 0.25, term 0.75
  //   half:  free 6, 12Gi -> R = (4/8 + 8/16) / 2 = 0.5,  term 0.5
  //   empty: free 8, 16Gi -> R = (6/8 + 12/16) / 2 = 0.75, term 0.25
  // binpack S = 100 (0.7 x (1 - R) + 0.3 x 1): 82.5, 65, 47.5.
  const ResourceList allocatable = cores_gib(8, 16);
  const Cluster clusters[] = {
      make_cluster("empty", allocatable, cores_gib(8, 16)),
      make_cluster("full", allocatable, cores_gib(4, 8)),
      make_cluster("half", allocatable, cores_gib(6, 12)),
  };
  ReservationRequest request = make_request(2, 4);
  request.policy.name = "binpack";
  const Decision d = decide(request, clusters, {});
  CHECK(d.chosen == "full");
  check_near(row_of(d, "full").resource_score, 0.75);
  check_near(row_of(d, "full").score, 82.5);
  check_near(row_of(d, "half").score, 65);
  check_near(row_of(d, "empty").score, 47.5);

  // The weighted policy, on the same snapshot, spreads instead.
  request.policy.name = "weighted";
  CHECK(decide(request, clusters, {}).chosen == "empty");
}

TEST_CASE("decide never changes its input and is deterministic") {
  const std::vector<Cluster> fleet = mixed_fleet(60);
  const std::vector<Cluster> before = fleet;
  ReservationRequest request = make_request(6, 16);
  request.constraints.max_price_per_hour = 100.0;

  std::vector<Cluster> shuffled = fleet;
  std::mt19937 shuffle_rng(11);
  std::shuffle(shuffled.begin(), shuffled.end(), shuffle_rng);

  for (const char* policy : {"weighted", "binpack", "random", "cost"}) {
    for (const Detail detail : {Detail::full, Detail::summary, Detail::none}) {
      CAPTURE(policy);
      CAPTURE(static_cast<int>(detail));
      request.policy.name = policy;
      const ReservationRequest request_before = request;
      const Decision first = decide(request, fleet, {}, detail);
      CHECK(first.candidates > 0);
      CHECK(first.candidates < first.clusters);
      CHECK(same_decision(first, decide(request, fleet, {}, detail)));
      CHECK(same_decision(first, decide(request, shuffled, {}, detail)));
      CHECK(same_request(request, request_before));
    }
  }
  REQUIRE(fleet.size() == before.size());
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    CHECK(same_cluster(fleet[i], before[i]));
  }
}

TEST_CASE("detail levels carry the same rows, fewer of them") {
  // 60 clusters, request 6 cpus and 16Gi: 12 stale (i % 5 == 4), 9 too
  // small (i % 7 == 3), 2 of them both (24, 59): 12 + 9 - 2 = 19 excluded
  // and 41 candidates, more than k_summary_rows of each.
  const std::vector<Cluster> fleet = mixed_fleet(60);
  const ReservationRequest request = make_request(6, 16);
  const Decision full = decide(request, fleet, {}, Detail::full);
  const Decision summary = decide(request, fleet, {}, Detail::summary);
  const Decision none = decide(request, fleet, {}, Detail::none);

  for (const Decision* d : {&full, &summary, &none}) {
    CHECK(d->clusters == 60);
    CHECK(d->candidates == 41);
    CHECK(d->chosen == full.chosen);
  }
  REQUIRE(full.rows.size() == 60);
  REQUIRE(summary.rows.size() == 2 * k_summary_rows);
  REQUIRE(none.rows.size() == 1);
  CHECK(same_row(none.rows[0], full.rows[0]));

  // Full: candidates ranked 1..41 best first, then exclusions by id.
  for (int i = 0; i < 41; ++i) {
    CHECK(full.rows[i].rank == i + 1);
    CHECK(full.rows[i].candidate);
  }
  for (int i = 1; i < 41; ++i) {
    CHECK(full.rows[i - 1].score >= full.rows[i].score);
  }
  for (int i = 41; i < 60; ++i) {
    CHECK_FALSE(full.rows[i].candidate);
    CHECK(full.rows[i].rank == 0);
    CHECK_FALSE(full.rows[i].reason.empty());
  }
  CHECK(std::is_sorted(full.rows.begin() + 41, full.rows.end(),
                       [](const auto& a, const auto& b) {
                         return a.cluster_id < b.cluster_id;
                       }));

  // Summary: the first 16 of each part of the full list.
  for (int i = 0; i < k_summary_rows; ++i) {
    CHECK(same_row(summary.rows[i], full.rows[i]));
    CHECK(same_row(summary.rows[k_summary_rows + i], full.rows[41 + i]));
  }
}

TEST_CASE("the summary keeps the best rows when all tie") {
  // 24 equal clusters "t00".."t23", listed backwards: every S and price
  // tie, so the summary's 16 rows are t00..t15, as in the full list.
  std::vector<Cluster> clusters;
  for (int i = 23; i >= 0; --i) {
    clusters.push_back(make_cluster(fmt::format("t{:02}", i), cores_gib(8, 16),
                                    cores_gib(4, 8)));
  }
  const ReservationRequest request = make_request(2, 4);
  const Decision full = decide(request, clusters, {}, Detail::full);
  const Decision summary = decide(request, clusters, {}, Detail::summary);
  REQUIRE(summary.rows.size() == k_summary_rows);
  for (int i = 0; i < k_summary_rows; ++i) {
    CHECK(summary.rows[i].cluster_id == fmt::format("t{:02}", i));
    CHECK(same_row(summary.rows[i], full.rows[i]));
  }
}

TEST_CASE("no candidate: nothing chosen, every row has a reason") {
  Cluster stale = make_cluster("b", cores_gib(8, 16), cores_gib(8, 16));
  stale.state = ClusterState::stale;
  const Cluster clusters[] = {
      make_cluster("madrid", cores_gib(8, 16), cores_gib(8, 16)),
      stale,
      make_cluster("a", cores_gib(8, 16), cores_gib(1, 16)),
  };
  const ReservationRequest request = make_request(2, 4);
  const Decision d = decide(request, clusters, {});
  CHECK(d.chosen == "");
  CHECK(d.clusters == 3);
  CHECK(d.candidates == 0);
  REQUIRE(d.rows.size() == 3);
  CHECK(d.rows[0].reason == "insufficient cpu: free 1, need 2");
  CHECK(d.rows[1].reason == "state Stale");
  CHECK(d.rows[2].reason == "is the requester");
  for (const auto& row : d.rows) {
    CHECK_FALSE(row.candidate);
    CHECK(row.rank == 0);
  }
  CHECK(decide(request, clusters, {}, Detail::none).rows.empty());
  CHECK(decide(request, {}, {}).chosen == "");
}

TEST_CASE("ids of every length rank and match as strings do") {
  // Equal clusters tie on S and price, so only the ids order them. The
  // ids cover the core's id keys: shorter than 8 bytes, 8 to 16, longer
  // than 16 with equal first and last 8 bytes, and prefixes of others.
  const std::vector<std::string> ids = {
      "b",
      "ab",
      "a",
      "abcdefgh",
      "abcdefgh1",
      "abcdefgh-middle2-12345678",
      "abcdefgh-middle1-12345678",
      "abcdefgh-middle1-1234567",
      "abcdefghijklmnop",
      "abcdefghijklmnoq",
      "abcdefghz",
      "abcdefgha1",
  };
  std::vector<Cluster> clusters;
  for (const auto& id : ids) {
    clusters.push_back(make_cluster(id, cores_gib(8, 16), cores_gib(4, 8)));
  }
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());

  SUBCASE("candidates tie-break by id") {
    const Decision d = decide(make_request(2, 4), clusters, {});
    REQUIRE(d.rows.size() == ids.size());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      CHECK(d.rows[i].cluster_id == sorted[i]);
    }
  }
  SUBCASE("exclusions sort by id") {
    ReservationRequest request = make_request(2, 4);
    request.constraints.regions = {"nowhere"};
    const Decision d = decide(request, clusters, {}, Detail::summary);
    REQUIRE(d.rows.size() == ids.size());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      CHECK(d.rows[i].cluster_id == sorted[i]);
    }
  }
  SUBCASE("only the requester itself is the requester") {
    for (const auto& requester : ids) {
      CAPTURE(requester);
      ReservationRequest request = make_request(2, 4);
      request.requester_id = requester;
      const Decision d = decide(request, clusters, {});
      CHECK(d.candidates == static_cast<int>(ids.size()) - 1);
      CHECK(row_of(d, requester).reason == "is the requester");
    }
  }
  SUBCASE("only the target is eligible") {
    ReservationRequest request = make_request(2, 4);
    request.target_cluster_id = "abcdefgh-middle1-12345678";
    const Decision d = decide(request, clusters, {});
    CHECK(d.candidates == 1);
    CHECK(d.chosen == "abcdefgh-middle1-12345678");
    CHECK(row_of(d, "abcdefgh-middle2-12345678").reason ==
          "not the requested target abcdefgh-middle1-12345678");
  }
}

TEST_CASE("the inlined price equals price_per_hour exactly") {
  std::vector<ResourceList> requests = {cores_gib(4, 16), cores_gib(0.5, 1)};
  requests.back().set(Slot::memory, 3 * k_gi / 2); // 1.5Gi
  ResourceList storage = cores_gib(3, 7);
  storage.set(Slot::storage, 100 * k_gi);
  requests.push_back(storage);
  ResourceList gpus = cores_gib(1, 1);
  gpus.set(Slot::gpu, 2);
  requests.push_back(gpus);
  ResourceList tiny;
  tiny.set(Slot::cpu, 1);
  tiny.set(Slot::memory, 1);
  requests.push_back(tiny);

  std::vector<Prices> prices = {flat_prices(0.031902, 0.004276),
                                flat_prices(0.035435, 0.004748), Prices{}};
  prices[1].gpu_per_hour = {{"T4", 0.41}};
  Prices with_default = flat_prices(0.1, 0.01);
  with_default.storage_gib_per_hour = 0.0002;
  with_default.gpu_per_hour = {{"default", 2.9}, {"A100", 3.7}};
  prices.push_back(with_default);

  for (const auto& request : requests) {
    const auto terms = detail::price_terms(request);
    for (const auto& price : prices) {
      for (const std::string model : {"", "T4", "A100"}) {
        CAPTURE(model);
        CHECK(detail::price_of(terms, price, model) ==
              price_per_hour(price, request, model));
      }
    }
  }
}

TEST_CASE("decide rejects an invalid policy before scoring") {
  ReservationRequest request = make_request(2, 4);
  request.policy.name = "fastest";
  const Cluster clusters[] = {
      make_cluster("a", cores_gib(8, 16), cores_gib(8, 16))};
  CHECK_THROWS_AS(decide(request, clusters, {}), Error);
}

} // namespace lrb::core
