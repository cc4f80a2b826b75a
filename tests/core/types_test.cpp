#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/types.h"

namespace lrb::core {

namespace {

constexpr std::int64_t k_gib = 1LL << 30;

Prices sample_prices() {
  Prices p;
  p.cpu_per_hour = 0.0319;
  p.memory_gib_per_hour = 0.00428;
  p.storage_gib_per_hour = 0.0002;
  p.gpu_per_hour = {{"default", 2.9}, {"A100-SXM4-80GB", 4.1}};
  return p;
}

ResourceList request(std::int64_t milli, std::int64_t bytes,
                     std::int64_t gpus = 0, std::int64_t storage = 0) {
  ResourceList r;
  r.set("cpu", milli);
  r.set("memory", bytes);
  if (gpus > 0) {
    r.set("gpu", gpus);
  }
  if (storage > 0) {
    r.set("storage", storage);
  }
  return r;
}

} // namespace

TEST_CASE("a GPU model falls back to the default price") {
  const Prices p = sample_prices();
  CHECK(p.gpu_price("A100-SXM4-80GB") == 4.1);
  CHECK(p.gpu_price("T4") == 2.9); // not listed: default
  CHECK(p.gpu_price("") == 2.9);   // no model asked: default

  Prices no_default;
  no_default.gpu_per_hour = {{"A100-SXM4-80GB", 4.1}};
  CHECK(no_default.gpu_price("A100-SXM4-80GB") == 4.1);
  CHECK_FALSE(no_default.gpu_price("T4").has_value());
  CHECK_FALSE(Prices{}.gpu_price("").has_value());
}

TEST_CASE("price per hour adds every priced resource") {
  struct Row {
    const char* name;
    ResourceList request;
    std::string model;
    double want;
  };
  const Prices p = sample_prices();
  const Row rows[] = {
      // 4 cores x 0.0319 + 8 GiB x 0.00428 = 0.1276 + 0.03424
      {"cpu and memory", request(4000, 8 * k_gib), "", 0.16184},
      // 0.5 core x 0.0319 + 0.5 GiB x 0.00428 = 0.01595 + 0.00214
      {"fractions", request(500, k_gib / 2), "", 0.01809},
      // 0.1276 + 0.03424 + 2 x 2.9 (default GPU price)
      {"default gpu", request(4000, 8 * k_gib, 2), "", 5.96184},
      // 0.1276 + 0.03424 + 2 x 4.1 (the model's own price)
      {"model gpu", request(4000, 8 * k_gib, 2), "A100-SXM4-80GB", 8.36184},
      // 0.1276 + 0.03424 + 100 GiB x 0.0002 = 0.16184 + 0.02
      {"storage", request(4000, 8 * k_gib, 0, 100 * k_gib), "", 0.18184},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto got = price_per_hour(p, row.request, row.model);
    REQUIRE(got.has_value());
    CHECK(*got == doctest::Approx(row.want).epsilon(1e-12));
  }
}

TEST_CASE("resources without a price cost nothing; unpriced GPUs no price") {
  const Prices p = sample_prices();
  ResourceList pods = request(1000, k_gib);
  pods.set("pods", 10);
  pods.set("example.com/fpga", 1);
  // 1 core x 0.0319 + 1 GiB x 0.00428; pods and FPGAs have no unit price.
  CHECK(*price_per_hour(p, pods, "") == doctest::Approx(0.03618));

  Prices cpu_only;
  cpu_only.cpu_per_hour = 0.05;
  // 2 cores x 0.05, memory at no price, no GPUs asked.
  CHECK(*price_per_hour(cpu_only, request(2000, k_gib), "") ==
        doctest::Approx(0.1));
  CHECK_FALSE(price_per_hour(cpu_only, request(2000, k_gib, 1), "T4"));
  CHECK(*price_per_hour(Prices{}, request(2000, k_gib), "") == 0.0);
}

TEST_CASE("phase names round trip and unknown ones are refused") {
  const std::pair<Phase, const char*> rows[] = {
      {Phase::pending, "Pending"}, {Phase::reserved, "Reserved"},
      {Phase::active, "Active"},   {Phase::released, "Released"},
      {Phase::expired, "Expired"}, {Phase::failed, "Failed"},
  };
  for (const auto& [phase, name] : rows) {
    CHECK(phase_name(phase) == name);
    CHECK(parse_phase(name, "phase") == phase);
  }
  for (const char* bad : {"reserved", "RESERVED", "", "Done", "Reserved "}) {
    CAPTURE(bad);
    try {
      parse_phase(bad, "status.phase");
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Code::invalid_argument);
      CHECK(e.field() == "status.phase");
      CHECK(e.reason() == "InvalidPhase");
      CHECK(std::string(e.what()).find("Reserved") != std::string::npos);
    }
  }
}

TEST_CASE("cluster state names round trip and unknown ones are refused") {
  const std::pair<ClusterState, const char*> rows[] = {
      {ClusterState::ready, "Ready"},
      {ClusterState::stale, "Stale"},
      {ClusterState::cordoned, "Cordoned"},
  };
  for (const auto& [state, name] : rows) {
    CHECK(cluster_state_name(state) == name);
    CHECK(parse_cluster_state(name, "state") == state);
  }
  CHECK_THROWS_AS(parse_cluster_state("ready", "state"), Error);
  CHECK_THROWS_AS(parse_cluster_state("Gone", "state"), Error);
}

TEST_CASE("DNS labels") {
  struct Row {
    std::string id;
    bool valid;
  };
  const Row rows[] = {
      {"rome", true},
      {"a", true},
      {"eu-west-1", true},
      {"0", true},
      {std::string(63, 'x'), true},  // the maximum length
      {std::string(64, 'x'), false}, // one over
      {"", false},
      {"-rome", false},
      {"rome-", false},
      {"Rome", false},
      {"ro_me", false},
      {"ro.me", false},
      {"ro me", false},
      {"r\xc3\xb6m", false}, // UTF-8 o-umlaut
      {std::string("ro\0me", 5), false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.id);
    CHECK(is_dns_label(row.id) == row.valid);
    if (row.valid) {
      CHECK_NOTHROW(check_dns_label(row.id, "clusterID"));
      continue;
    }
    try {
      check_dns_label(row.id, "requesterID");
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Code::invalid_argument);
      CHECK(e.reason() == "InvalidID");
      CHECK(e.field() == "requesterID");
      CHECK(std::string(e.what()).starts_with("requesterID "));
    }
  }
}

} // namespace lrb::core
