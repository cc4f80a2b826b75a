#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/json.h"

namespace lrb::core {

namespace {

constexpr std::int64_t k_gib = 1LL << 30;

// Returns the Error `f` throws, or nullopt when it throws none.
std::optional<Error> thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

// Returns `base` with the member at JSON pointer `pointer` set to the
// JSON text `value`, or removed when `value` is null; "" replaces the
// whole document.
Json patched(std::string_view base, const char* pointer, const char* value) {
  Json doc = Json::parse(base);
  const Json::json_pointer ptr(pointer);
  if (ptr.empty()) {
    return Json::parse(value);
  }
  if (value == nullptr) {
    doc.at(ptr.parent_pointer()).erase(ptr.back());
  } else {
    doc[ptr] = Json::parse(value);
  }
  return doc;
}

// One hostile edit of a valid document and the error it must cause.
struct Hostile {
  const char* pointer;
  const char* value; // nullptr: remove the member
  const char* field;
  const char* reason;
};

// Checks that each edit of `base` makes `decode` fail as the row says,
// with a message that starts with the field it names.
void check_hostile(std::string_view base, std::span<const Hostile> rows,
                   const std::function<void(const Json&)>& decode) {
  for (const auto& row : rows) {
    CAPTURE(row.pointer);
    CAPTURE(row.value ? row.value : "(removed)");
    const Json doc = patched(base, row.pointer, row.value);
    const auto e = thrown([&] { decode(doc); });
    REQUIRE(e.has_value());
    CHECK(e->code() == Code::invalid_argument);
    CHECK(e->field() == row.field);
    CHECK(e->reason() == row.reason);
    CHECK(std::string(e->what()).starts_with(row.field));
  }
}

// Returns the MalformedJSON error of parsing `text`, failing when none.
std::optional<Error> parse_error(std::string_view text,
                                 const JsonLimits& limits = {}) {
  auto e = thrown([&] { parse_json(text, limits); });
  if (e) {
    CHECK(e->code() == Code::invalid_argument);
    CHECK(e->reason() == "MalformedJSON");
  }
  return e;
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// Returns "[0,0,...,0]" with `n` elements.
std::string zeros(std::size_t n) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) {
    out += i == 0 ? "0" : ",0";
  }
  return out + "]";
}

ResourceList list(std::int64_t milli, std::int64_t bytes,
                  std::int64_t gpus = -1) {
  ResourceList r;
  r.set("cpu", milli);
  r.set("memory", bytes);
  if (gpus >= 0) {
    r.set("gpu", gpus);
  }
  return r;
}

// --- field-by-field equality, for the round trips ---------------------

void check_same(const Prices& a, const Prices& b) {
  CHECK(a.currency == b.currency);
  CHECK(a.cpu_per_hour == b.cpu_per_hour);
  CHECK(a.memory_gib_per_hour == b.memory_gib_per_hour);
  CHECK(a.storage_gib_per_hour == b.storage_gib_per_hour);
  CHECK(a.gpu_per_hour == b.gpu_per_hour);
}

void check_same(const Advertisement& a, const Advertisement& b) {
  CHECK(a.cluster_id == b.cluster_id);
  CHECK(a.cluster_name == b.cluster_name);
  CHECK(a.generation == b.generation);
  CHECK(a.timestamp == b.timestamp);
  CHECK(a.endpoint == b.endpoint);
  CHECK(a.region == b.region);
  CHECK(a.labels == b.labels);
  CHECK(a.resources.capacity == b.resources.capacity);
  CHECK(a.resources.allocatable == b.resources.allocatable);
  CHECK(a.resources.allocated == b.resources.allocated);
  CHECK(a.resources.available == b.resources.available);
  CHECK(a.resources.largest_node_available ==
        b.resources.largest_node_available);
  CHECK(a.gpu_models == b.gpu_models);
  REQUIRE(a.prices.has_value() == b.prices.has_value());
  if (a.prices) {
    check_same(*a.prices, *b.prices);
  }
  CHECK(a.consumed == b.consumed);
}

void check_same(const ReservationRequest& a, const ReservationRequest& b) {
  CHECK(a.requester_id == b.requester_id);
  CHECK(a.requested == b.requested);
  CHECK(a.target_cluster_id == b.target_cluster_id);
  CHECK(a.duration_ms == b.duration_ms);
  CHECK(a.priority == b.priority);
  CHECK(a.constraints.gpu_model == b.constraints.gpu_model);
  CHECK(a.constraints.regions == b.constraints.regions);
  CHECK(a.constraints.labels == b.constraints.labels);
  CHECK(a.constraints.max_price_per_hour == b.constraints.max_price_per_hour);
  CHECK(a.policy.name == b.policy.name);
  CHECK(a.policy.resource_weight == b.policy.resource_weight);
  CHECK(a.policy.cost_weight == b.policy.cost_weight);
  CHECK(a.policy.seed == b.policy.seed);
}

void check_same(const Decision& a, const Decision& b) {
  CHECK(a.policy == b.policy);
  CHECK(a.resource_weight == b.resource_weight);
  CHECK(a.cost_weight == b.cost_weight);
  CHECK(a.seed == b.seed);
  CHECK(a.chosen == b.chosen);
  CHECK(a.clusters == b.clusters);
  CHECK(a.candidates == b.candidates);
  REQUIRE(a.rows.size() == b.rows.size());
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    CAPTURE(i);
    CHECK(a.rows[i].cluster_id == b.rows[i].cluster_id);
    CHECK(a.rows[i].candidate == b.rows[i].candidate);
    CHECK(a.rows[i].resource_score == b.rows[i].resource_score);
    CHECK(a.rows[i].cost_score == b.rows[i].cost_score);
    CHECK(a.rows[i].price_per_hour == b.rows[i].price_per_hour);
    CHECK(a.rows[i].score == b.rows[i].score);
    CHECK(a.rows[i].rank == b.rows[i].rank);
    CHECK(a.rows[i].reason == b.rows[i].reason);
  }
}

void check_same(const Reservation& a, const Reservation& b) {
  CHECK(a.id == b.id);
  check_same(a.request, b.request);
  CHECK(a.target_cluster_id == b.target_cluster_id);
  CHECK(a.target_endpoint == b.target_endpoint);
  CHECK(a.granted == b.granted);
  CHECK(a.status.phase == b.status.phase);
  CHECK(a.status.reason == b.status.reason);
  CHECK(a.status.message == b.status.message);
  CHECK(a.status.reserved_at == b.status.reserved_at);
  CHECK(a.status.activated_at == b.status.activated_at);
  CHECK(a.status.activation_deadline == b.status.activation_deadline);
  CHECK(a.status.expires_at == b.status.expires_at);
  CHECK(a.status.ended_at == b.status.ended_at);
  check_same(a.decision, b.decision);
  CHECK(a.created_at == b.created_at);
  CHECK(a.version == b.version);
  CHECK(a.idempotency_key == b.idempotency_key);
}

// Returns `j` written to text and read back through parse_json, so that
// round trips cover the text form too.
Json through_text(const Json& j) {
  return parse_json(j.dump());
}

// --- sample values ------------------------------------------------------

Prices sample_prices() {
  Prices p;
  p.currency = "EUR";
  p.cpu_per_hour = 0.0319;
  p.memory_gib_per_hour = 0.00428;
  p.storage_gib_per_hour = 1e-7; // written "0.0000001"
  p.gpu_per_hour = {{"default", 2.9}, {"A100-SXM4-80GB", 0.1 + 0.2}};
  return p;
}

Advertisement sample_advertisement() {
  Advertisement ad;
  ad.cluster_id = "rome";
  ad.cluster_name = "Rome \xe2\x80\x94 primary"; // an em dash in UTF-8
  ad.generation = 1'733'324'400'123;
  ad.timestamp = 1'796'396'400'123;
  ad.endpoint = "https://rome.example:6443";
  ad.region = "europe-west8";
  ad.labels = {{"cloud", "gcp"}, {"tier", "spot"}};
  ad.resources.capacity = list(64'000, 256 * k_gib, 8);
  ad.resources.capacity.set("example.com/fpga", 2);
  ad.resources.allocatable = list(62'000, 250 * k_gib, 8);
  ad.resources.allocated = list(20'500, 100 * k_gib + 1, 2);
  ad.resources.available = list(41'500, 150 * k_gib - 1, 6);
  ad.resources.largest_node_available = list(15'250, 60 * k_gib, 4);
  ad.gpu_models = {{"A100-SXM4-80GB", 8}};
  ad.prices = sample_prices();
  ad.consumed = {{"r-7f3a", list(2000, 4 * k_gib)}, {"r-9c01", list(1, 1)}};
  return ad;
}

ReservationRequest sample_request() {
  ReservationRequest r;
  r.requester_id = "paris";
  r.requested = list(4000, 8 * k_gib, 2);
  r.requested.set("storage", 100 * k_gib);
  r.target_cluster_id = "rome";
  r.duration_ms = 5'400'000; // 1h30m
  r.priority = -7;
  r.constraints.gpu_model = "A100-SXM4-80GB";
  r.constraints.regions = {"europe-west8", "europe-west3"};
  r.constraints.labels = {{"cloud", "gcp"}};
  r.constraints.max_price_per_hour = 12.5;
  r.policy.name = "weighted";
  r.policy.resource_weight = 0.6;
  r.policy.cost_weight = 0.4;
  r.policy.seed = std::numeric_limits<std::uint64_t>::max();
  return r;
}

Decision sample_decision() {
  Decision d;
  d.policy = "weighted";
  d.resource_weight = 0.7;
  d.cost_weight = 0.30000000000000004; // 0.1 + 0.2, not 0.3
  d.seed = 42;
  d.chosen = "rome";
  d.clusters = 3;
  d.candidates = 2;
  d.rows = {
      {"rome", true, 1.0 / 3, 1, 8.36184, 53.333333333333336, 1, ""},
      {"berlin", true, 0.5, 0.8, std::nullopt, 59, 2, ""},
      {"paris", false, 0, 0, std::nullopt, 0, 0, "is the requester"},
  };
  return d;
}

Reservation sample_reservation() {
  Reservation r;
  r.id = "r-0193b2c4";
  r.request = sample_request();
  r.target_cluster_id = "rome";
  r.target_endpoint = "https://rome.example:6443";
  r.granted = list(4000, 8 * k_gib, 2);
  r.status.phase = Phase::active;
  r.status.reason = "Activated";
  r.status.message = "ResourceSlice ready";
  r.status.reserved_at = 1'796'396'400'000;
  r.status.activated_at = 1'796'396'401'250;
  r.status.activation_deadline = 1'796'397'000'000;
  r.status.expires_at = 1'796'401'800'000;
  r.decision = sample_decision();
  r.created_at = 1'796'396'399'999;
  r.version = 3;
  r.idempotency_key = "f1b2-retry";
  return r;
}

// The request every hostile request row edits.
constexpr std::string_view k_request = R"({
  "requesterID": "rome",
  "requestedResources": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "2"},
  "targetClusterID": "paris", "duration": "1h30m", "priority": 5,
  "constraints": {"gpuModel": "A100-SXM4-80GB",
                  "regions": ["europe-west1", "europe-west3", "europe-west8"],
                  "labels": {"cloud": "gcp"}, "maxPricePerHour": "12.5"},
  "policy": {"name": "weighted", "resourceWeight": 0.6, "costWeight": 0.4,
             "seed": 42}})";

// The advertisement of DESIGN.md section 4, filled in, with broker-owned
// and unknown members an agent of another version might send.
constexpr std::string_view k_advertisement = R"({
  "clusterID": "rome", "clusterName": "Rome", "generation": 1733324400123,
  "timestamp": "2026-12-04T15:00:00Z", "endpoint": "https://rome.example:6443",
  "region": "europe-west8", "labels": {"cloud": "gcp"},
  "resources": {
    "capacity": {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "8",
                 "pods": "330"},
    "allocatable": {"cpu": "62", "memory": "250Gi", "nvidia.com/gpu": "8",
                    "pods": "330"},
    "allocated": {"cpu": "20500m", "memory": "100Gi", "nvidia.com/gpu": "2",
                  "pods": "41"},
    "available": {"cpu": "41500m", "memory": "150Gi", "nvidia.com/gpu": "6",
                  "pods": "289"},
    "largestNodeAvailable": {"cpu": "15", "memory": "60Gi",
                             "nvidia.com/gpu": "4"},
    "reserved": {"cpu": "999"}, "free": {"cpu": "999"}},
  "gpuModels": {"A100-SXM4-80GB": 8},
  "prices": {"currency": "USD", "cpuPerHour": "0.0319",
             "memoryGiBPerHour": "0.00428", "gpuPerHour": {"default": "2.9"}},
  "consumed": {"r-7f3a": {"cpu": "2", "memory": "4Gi"}},
  "state": "Cordoned", "version": 77, "futureField": {"x": [1, 2]}})";

} // namespace

// --- parse_json -----------------------------------------------------------

TEST_CASE("parse_json reads well-formed documents") {
  CHECK(parse_json("{}") == Json::object());
  CHECK(parse_json(" [1, {\"b\": null}] ")[1].contains("b"));
  CHECK(parse_json("\"x\"") == "x");
  // Two- and four-byte UTF-8, and the same characters escaped.
  CHECK(parse_json("\"Z\xc3\xbcrich \xf0\x9f\x9a\x80\"") ==
        parse_json(R"("Z\u00fcrich \ud83d\ude80")"));
}

TEST_CASE("parse_json says where malformed text goes wrong") {
  struct Row {
    const char* name;
    std::string text;
    std::size_t offset;
  };
  const Row rows[] = {
      {"empty", "", 0},                           // the end is at 0
      {"trailing comma", R"({"a":1,})", 7},       // the '}' after ','
      {"trailing garbage", "{} x", 3},            // the 'x'
      {"unterminated", "[1,2", 4},                // the end, after 4 bytes
      {"single quotes", "{'a': 1}", 1},           // the first '\''
      {"bare word", "nul", 3},                    // the end of "nul"
      {"comment", "[1] // no", 4},                // the '/'
      {"number overflow", R"({"a": 1e400})", 10}, // the last digit
      {"escaped lone surrogate", R"(["\ud800"])", 8},
      {"control byte in string", std::string("[\"a\x01\"]"), 3},
      // Invalid UTF-8: the offset is the first byte that breaks it.
      {"stray byte", "{\"a\":\"\xff\"}", 6},
      {"overlong slash", "[\"\xc0\xaf\"]", 2},
      {"encoded surrogate", "[\"\xed\xa0\x80\"]", 2},
      {"above U+10FFFF", "[\"\xf4\x90\x80\x80\"]", 2},
      {"cut sequence", "[\"\xe2\x82\"]", 2},
      {"cut at the end", "[\"x\xe2\x82", 3},
      {"invalid in a key", "{\"k\xfe\": 1}", 3},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto e = parse_error(row.text);
    REQUIRE(e.has_value());
    CHECK(e->field() == "");
    const std::string where = "byte offset " + std::to_string(row.offset);
    CHECK(std::string(e->what()).find(where) != std::string::npos);
    // The message never echoes the raw input: it must serialize.
    CHECK_NOTHROW(encode_error(*e).dump());
  }
}

TEST_CASE("parse_json refuses documents nested deeper than the limit") {
  CHECK_NOTHROW(parse_json(nested_arrays(32)));
  // Level 33 opens at offset 32 (offsets 0..31 open levels 1..32).
  auto e = parse_error(nested_arrays(33));
  REQUIRE(e);
  CHECK(std::string(e->what()) ==
        "malformed JSON at byte offset 32: nested deeper than 32 levels");
  // A thousand levels, and a million, are refused by the scan without
  // building anything (and without deep recursion).
  CHECK(parse_error(nested_arrays(1000)));
  CHECK(parse_error(std::string(1'000'000, '[')));
  std::string objects;
  for (int i = 0; i < 1000; ++i) {
    objects += R"({"a":)";
  }
  CHECK(parse_error(objects + "1" + std::string(1000, '}')));
}

TEST_CASE("brackets and commas inside strings do not count") {
  const JsonLimits tight{2, 1};
  CHECK_NOTHROW(parse_json(R"(["[[[[{{{{,,,,"])", tight));
  // An escaped quote does not end the string: the brackets stay inside.
  CHECK_NOTHROW(parse_json(R"(["\"[[[[,,,"])", tight));
  CHECK_NOTHROW(parse_json(R"(["\\", "x"])", JsonLimits{2, 2}));
}

TEST_CASE("parse_json refuses arrays longer than the limit") {
  CHECK(parse_json(zeros(10'000)).size() == 10'000);
  // "[" then "0," per element: the 10,000th comma, which would open the
  // 10,001st element, is at offset 1 + 2 x 10,000 - 1 = 20,000.
  auto e = parse_error(zeros(10'001));
  REQUIRE(e);
  CHECK(std::string(e->what()) ==
        "malformed JSON at byte offset 20000: array longer than 10000 "
        "elements");

  const JsonLimits small{4, 3};
  // Each array is counted apart: three of three.
  CHECK_NOTHROW(parse_json("[[1,2,3],[4,5,6],[7,8,9]]", small));
  // The inner array's third comma (offset 7) makes a fourth element.
  e = parse_error("[[1,2,3,4]]", small);
  REQUIRE(e);
  CHECK(std::string(e->what()).find("byte offset 7:") != std::string::npos);
  // Objects are not arrays: their members are not limited.
  CHECK_NOTHROW(parse_json(R"({"a":1,"b":2,"c":3,"d":4})", small));
}

// --- resources and prices -----------------------------------------------

TEST_CASE("resource lists decode strings and numbers to canonical units") {
  struct Row {
    const char* json;
    const char* name;
    std::int64_t want;
  };
  const Row rows[] = {
      {R"({"cpu": "4"})", "cpu", 4000},      // 4 cores = 4000m
      {R"({"cpu": 4})", "cpu", 4000},        // a JSON integer
      {R"({"cpu": 0.5})", "cpu", 500},       // written "0.5"
      {R"({"cpu": 0.1})", "cpu", 100},       // "0.1", not 0.1000...055
      {R"({"cpu": 1e3})", "cpu", 1'000'000}, // 1000 cores
      {R"({"cpu": "250m"})", "cpu", 250},
      {R"({"memory": "8Gi"})", "memory", 8 * k_gib},
      {R"({"memory": 2.5})", "memory", 3},      // 2.5 bytes round up
      {R"({"nvidia.com/gpu": "2"})", "gpu", 2}, // vendor GPU -> gpu
      {R"({"amd.com/gpu": 1})", "gpu", 1},
      {R"({"ephemeral-storage": "1Gi"})", "storage", k_gib},
      {R"({"pods": 110})", "pods", 110},
      {R"({"example.com/fpga": "3"})", "example.com/fpga", 3},
  };
  for (const auto& row : rows) {
    CAPTURE(row.json);
    const auto got = decode_resources(parse_json(row.json), "r");
    CHECK(got.has(row.name));
    CHECK(got.get(row.name) == row.want);
  }
}

TEST_CASE("resource lists refuse what is not a quantity") {
  const Hostile rows[] = {
      {"/cpu", R"("abc")", "r.cpu", "InvalidQuantity"},
      {"/cpu", R"("-1")", "r.cpu", "InvalidQuantity"},
      {"/cpu", "-0.5", "r.cpu", "InvalidQuantity"},
      {"/gpu", R"("1.5")", "r.gpu", "InvalidQuantity"},
      {"/pods", "2.5", "r.pods", "InvalidQuantity"},
      {"/cpu", "true", "r.cpu", "WrongType"},
      {"/cpu", "{}", "r.cpu", "WrongType"},
      {"/Bad Name", R"("1")", R"(r["Bad Name"])", "InvalidResourceName"},
      // Both spell the GPU slot; map order puts "gpu" first.
      {"/nvidia.com~1gpu", R"("1")", R"(r["nvidia.com/gpu"])",
       "DuplicateField"},
      {"", "[]", "r", "WrongType"},
  };
  check_hostile(R"({"cpu": "1", "gpu": "1"})", rows,
                [](const Json& j) { decode_resources(j, "r"); });

  // A tree built in code can hold what JSON text cannot.
  Json inf = Json::object();
  inf["cpu"] = std::numeric_limits<double>::infinity();
  const auto e = thrown([&] { decode_resources(inf, "r"); });
  REQUIRE(e);
  CHECK(e->field() == "r.cpu");
  CHECK(e->reason() == "WrongType");
}

TEST_CASE("resource lists encode canonical quantities") {
  ResourceList r = list(1500, 8 * k_gib, 2);
  r.set("example.com/fpga", 1);
  CHECK(encode_resources(r) == Json::parse(R"({"cpu": "1500m",
        "memory": "8Gi", "gpu": "2", "example.com/fpga": "1"})"));
  CHECK(encode_resources(ResourceList{}) == Json::object());
  CHECK(decode_resources(through_text(encode_resources(r)), "r") == r);
}

TEST_CASE("prices are decimal strings; numbers are accepted") {
  const auto p = decode_prices(parse_json(R"({"currency": "EUR",
      "cpuPerHour": "0.0319", "memoryGiBPerHour": 0.00428,
      "storageGiBPerHour": "0", "gpuPerHour": {"default": "2.9",
      "T4": 0.35}})"),
                               "prices");
  CHECK(p.currency == "EUR");
  CHECK(p.cpu_per_hour == 0.0319);
  CHECK(p.memory_gib_per_hour == 0.00428);
  CHECK(p.storage_gib_per_hour == 0);
  CHECK(p.gpu_per_hour ==
        std::map<std::string, double>{{"default", 2.9}, {"T4", 0.35}});
  // One GPU price for every model reads as the default.
  const auto one = decode_prices(parse_json(R"({"gpuPerHour": "3"})"), "p");
  CHECK(one.gpu_per_hour == std::map<std::string, double>{{"default", 3}});
  CHECK(one.currency == "USD");

  // Written back as the shortest exact decimal.
  const Json wire = encode_prices(p);
  CHECK(wire["cpuPerHour"] == "0.0319");
  CHECK(wire["memoryGiBPerHour"] == "0.00428");
  CHECK(wire["storageGiBPerHour"] == "0");
  CHECK(wire["gpuPerHour"]["T4"] == "0.35");
}

TEST_CASE("prices refuse negative, non-decimal and mistyped values") {
  const Hostile rows[] = {
      {"/cpuPerHour", R"("cheap")", "p.cpuPerHour", "InvalidPrice"},
      {"/cpuPerHour", R"("-0.5")", "p.cpuPerHour", "InvalidPrice"},
      {"/cpuPerHour", "-0.5", "p.cpuPerHour", "InvalidPrice"},
      {"/cpuPerHour", R"("1e3")", "p.cpuPerHour", "InvalidPrice"},
      {"/cpuPerHour", R"(".5")", "p.cpuPerHour", "InvalidPrice"},
      {"/cpuPerHour", R"("")", "p.cpuPerHour", "InvalidPrice"},
      {"/cpuPerHour", "true", "p.cpuPerHour", "WrongType"},
      {"/gpuPerHour/default", R"("2.9.1")", "p.gpuPerHour.default",
       "InvalidPrice"},
      {"/currency", "1", "p.currency", "WrongType"},
  };
  check_hostile(R"({"cpuPerHour": "1", "gpuPerHour": {"default": "2"}})", rows,
                [](const Json& j) { decode_prices(j, "p"); });
}

// --- advertisements and clusters ---------------------------------------

TEST_CASE("the advertisement of DESIGN.md decodes field by field") {
  const auto ad = decode_advertisement(parse_json(k_advertisement));
  CHECK(ad.cluster_id == "rome");
  CHECK(ad.cluster_name == "Rome");
  CHECK(ad.generation == 1'733'324'400'123);
  // 2026-12-04 is day 20,791 after 1970-01-01:
  // (20,791 x 86,400 + 15 x 3,600) x 1,000.
  CHECK(ad.timestamp == 1'796'396'400'000);
  CHECK(ad.endpoint == "https://rome.example:6443");
  CHECK(ad.region == "europe-west8");
  CHECK(ad.labels == std::map<std::string, std::string>{{"cloud", "gcp"}});
  CHECK(ad.resources.capacity.get("cpu") == 64'000);
  CHECK(ad.resources.allocatable.get("memory") == 250 * k_gib);
  CHECK(ad.resources.allocated.get("cpu") == 20'500);
  CHECK(ad.resources.available.get("gpu") == 6);
  CHECK(ad.resources.available.get("pods") == 289);
  CHECK(ad.resources.largest_node_available.get("memory") == 60 * k_gib);
  CHECK(ad.gpu_models ==
        std::map<std::string, std::int64_t>{{"A100-SXM4-80GB", 8}});
  REQUIRE(ad.prices);
  CHECK(ad.prices->cpu_per_hour == 0.0319);
  CHECK(ad.prices->gpu_price("A100-SXM4-80GB") == 2.9);
  CHECK(ad.consumed.at("r-7f3a") == list(2000, 4 * k_gib));
}

TEST_CASE("an advertisement ignores broker-owned and unknown members") {
  // "reserved", "free", "state" and "version" belong to the broker: a
  // cluster decoded from the same text shows they were there.
  const Json doc = parse_json(k_advertisement);
  const auto cluster = decode_cluster(doc);
  CHECK(cluster.reserved.get("cpu") == 999'000);
  CHECK(cluster.state == ClusterState::cordoned);
  CHECK(cluster.version == 77);
  check_same(decode_advertisement(doc), cluster.ad);
}

TEST_CASE("the prototype agent's shapes are understood") {
  SUBCASE("a flat resource list with numbers and no generation") {
    const auto ad = decode_advertisement(parse_json(R"({"clusterID": "milan",
        "resources": {"cpu": 8, "memory": "32Gi", "nvidia.com/gpu": 1}})"));
    CHECK(ad.generation == 0);
    CHECK(ad.timestamp == 0);
    CHECK_FALSE(ad.prices.has_value());
    const auto offered = list(8000, 32 * k_gib, 1);
    CHECK(ad.resources.capacity == offered);
    CHECK(ad.resources.allocatable == offered);
    CHECK(ad.resources.available == offered);
    CHECK(ad.resources.allocated.empty());
  }
  SUBCASE("nulls for unset maps, no available, a scalar GPU price") {
    const auto ad = decode_advertisement(parse_json(R"({"clusterID": "turin",
        "generation": 3, "labels": null, "gpuModels": null,
        "timestamp": null, "consumed": null,
        "prices": {"cpuPerHour": 0.04, "gpuPerHour": 3},
        "resources": {"allocatable": {"cpu": "8", "memory": "32Gi"},
                      "allocated": {"cpu": "10", "memory": "8Gi"}}})"));
    CHECK(ad.generation == 3);
    CHECK(ad.labels.empty());
    CHECK(ad.gpu_models.empty());
    // available = max(0, allocatable - allocated) per resource:
    // cpu max(0, 8000m - 10000m) = 0; memory 32Gi - 8Gi = 24Gi.
    CHECK(ad.resources.available.get("cpu") == 0);
    CHECK(ad.resources.available.get("memory") == 24 * k_gib);
    REQUIRE(ad.prices);
    CHECK(ad.prices->currency == "USD");
    CHECK(ad.prices->gpu_price("any") == 3);
  }
  SUBCASE("a whole generation written as a float") {
    const auto ad = decode_advertisement(
        parse_json(R"({"clusterID": "bari", "generation": 1.5e3})"));
    CHECK(ad.generation == 1500);
  }
}

TEST_CASE("advertisements refuse bad members with their path") {
  const Hostile rows[] = {
      {"/clusterID", nullptr, "clusterID", "MissingField"},
      {"/clusterID", "null", "clusterID", "MissingField"},
      {"/clusterID", R"("Rome")", "clusterID", "InvalidID"},
      {"/clusterID", R"("")", "clusterID", "InvalidID"},
      {"/clusterID", "42", "clusterID", "WrongType"},
      {"/generation", "-1", "generation", "OutOfRange"},
      // 2^63, one past the largest int64.
      {"/generation", "9223372036854775808", "generation", "OutOfRange"},
      {"/generation", "1e300", "generation", "OutOfRange"},
      {"/generation", "1.5", "generation", "WrongType"},
      {"/generation", R"("5")", "generation", "WrongType"},
      {"/generation", "true", "generation", "WrongType"},
      {"/timestamp", R"("yesterday")", "timestamp", "InvalidTimestamp"},
      // 9999-12-31T23:59:59 at UTC-1 is in the year 10000 in UTC.
      {"/timestamp", R"("9999-12-31T23:59:59-01:00")", "timestamp",
       "InvalidTimestamp"},
      {"/labels/cloud", "1", "labels.cloud", "WrongType"},
      {"/labels", "[]", "labels", "WrongType"},
      {"/gpuModels/A100-SXM4-80GB", "-1", "gpuModels.A100-SXM4-80GB",
       "OutOfRange"},
      {"/gpuModels/A100-SXM4-80GB", "0.5", "gpuModels.A100-SXM4-80GB",
       "WrongType"},
      {"/resources/capacity/cpu", R"("lots")", "resources.capacity.cpu",
       "InvalidQuantity"},
      {"/resources/allocated/nvidia.com~1gpu", R"("0.5")",
       R"(resources.allocated["nvidia.com/gpu"])", "InvalidQuantity"},
      {"/resources/available", R"("all")", "resources.available", "WrongType"},
      {"/resources/capacity/Not A Name", R"("1")",
       R"(resources.capacity["Not A Name"])", "InvalidResourceName"},
      {"/resources", "7", "resources", "WrongType"},
      {"/prices/cpuPerHour", R"("cheap")", "prices.cpuPerHour", "InvalidPrice"},
      {"/prices/gpuPerHour/default", "-2.9", "prices.gpuPerHour.default",
       "InvalidPrice"},
      {"/prices/currency", "1", "prices.currency", "WrongType"},
      {"/consumed/r-7f3a/cpu", R"("-2")", "consumed.r-7f3a.cpu",
       "InvalidQuantity"},
      {"/consumed/r-7f3a", R"("2")", "consumed.r-7f3a", "WrongType"},
      {"", "[]", "", "WrongType"},
  };
  check_hostile(k_advertisement, rows,
                [](const Json& j) { decode_advertisement(j); });
}

TEST_CASE("Go's zero time and the last writable instant are accepted") {
  struct Row {
    const char* text;
    WallMs want;
  };
  const Row rows[] = {
      // 0001-01-01 is 719,162 days before 1970: -719,162 x 86,400,000.
      {"0001-01-01T00:00:00Z", -62'135'596'800'000},
      // The year 0 is a leap year: 366 more days back.
      {"0000-01-01T00:00:00Z", -62'167'219'200'000},
      // 9999-12-31 is day 2,932,896: x 86,400,000 + 86,399,999.
      {"9999-12-31T23:59:59.999Z", 253'402'300'799'999},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    Json doc = Json::parse(R"({"clusterID": "rome"})");
    doc["timestamp"] = row.text;
    const auto ad = decode_advertisement(doc);
    CHECK(ad.timestamp == row.want);
    CHECK(encode_advertisement(ad)["timestamp"] == row.text);
  }
}

TEST_CASE("the largest generation fits") {
  const auto ad = decode_advertisement(parse_json(
      R"({"clusterID": "rome", "generation": 9223372036854775807})"));
  CHECK(ad.generation == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("clusters add the broker's members and refuse bad ones") {
  Cluster c;
  c.ad = sample_advertisement();
  c.reserved = list(4000, 8 * k_gib, 2);
  c.free = list(37'500, 142 * k_gib - 1, 4);
  c.state = ClusterState::stale;
  c.cordoned = true;
  c.last_seen = 1'796'396'412'345;
  c.version = 12;

  const Json wire = encode_cluster(c);
  CHECK(wire["state"] == "Stale");
  CHECK(wire["lastSeen"] == "2026-12-04T15:00:12.345Z");
  CHECK(wire["resources"]["free"]["cpu"] == "37500m");
  const auto back = decode_cluster(through_text(wire));
  check_same(c.ad, back.ad);
  CHECK(back.reserved == c.reserved);
  CHECK(back.free == c.free);
  CHECK(back.state == c.state);
  CHECK(back.cordoned == c.cordoned);
  CHECK(back.last_seen == c.last_seen);
  CHECK(back.version == c.version);

  const Hostile rows[] = {
      {"/state", R"("Gone")", "state", "InvalidState"},
      {"/cordoned", R"("yes")", "cordoned", "WrongType"},
      {"/lastSeen", R"("soon")", "lastSeen", "InvalidTimestamp"},
      {"/version", "-1", "version", "OutOfRange"},
      {"/resources/free/cpu", R"("-1")", "resources.free.cpu",
       "InvalidQuantity"},
  };
  check_hostile(wire.dump(), rows, [](const Json& j) { decode_cluster(j); });
}

TEST_CASE("advertisements round trip") {
  const auto ad = sample_advertisement();
  const Json wire = encode_advertisement(ad);
  CHECK(wire["timestamp"] == "2026-12-04T15:00:00.123Z");
  CHECK(wire["prices"]["storageGiBPerHour"] == "0.0000001");
  check_same(decode_advertisement(through_text(wire)), ad);

  // The least an agent can send survives too.
  Advertisement bare;
  bare.cluster_id = "x";
  const Json bare_wire = encode_advertisement(bare);
  CHECK_FALSE(bare_wire.contains("timestamp"));
  CHECK_FALSE(bare_wire.contains("prices"));
  check_same(decode_advertisement(through_text(bare_wire)), bare);
}

// --- reservation requests -------------------------------------------------

TEST_CASE("a full reservation request decodes field by field") {
  const auto r = decode_request(parse_json(k_request));
  CHECK(r.requester_id == "rome");
  CHECK(r.requested == list(4000, 8 * k_gib, 2));
  CHECK(r.target_cluster_id == "paris");
  CHECK(r.duration_ms == 5'400'000); // (3,600 + 30 x 60) x 1,000
  CHECK(r.priority == 5);
  CHECK(r.constraints.gpu_model == "A100-SXM4-80GB");
  CHECK(r.constraints.regions == std::vector<std::string>{"europe-west1",
                                                          "europe-west3",
                                                          "europe-west8"});
  CHECK(r.constraints.labels.at("cloud") == "gcp");
  CHECK(r.constraints.max_price_per_hour == 12.5);
  CHECK(r.policy.name == "weighted");
  CHECK(r.policy.resource_weight == 0.6);
  CHECK(r.policy.cost_weight == 0.4);
  CHECK(r.policy.seed == 42u);
}

TEST_CASE("a minimal request takes the defaults") {
  const auto r = decode_request(parse_json(R"({"requesterID": "rome",
      "requestedResources": {"cpu": 0.25, "memory": "512Mi"},
      "targetClusterID": "", "duration": null, "constraints": null,
      "policy": {"name": null, "seed": null}})"));
  CHECK(r.requested == list(250, k_gib / 2));
  CHECK(r.target_cluster_id.empty()); // "" is Go's unset id
  CHECK_FALSE(r.duration_ms.has_value());
  CHECK(r.priority == 0);
  CHECK(r.constraints.regions.empty());
  CHECK(r.policy.name.empty());
  CHECK_FALSE(r.policy.seed.has_value());
}

TEST_CASE("requests accept the ends of every integer range") {
  const Json low = patched(k_request, "/priority", "-2147483648");
  CHECK(decode_request(low).priority == std::numeric_limits<int>::min());
  const Json high = patched(k_request, "/priority", "2147483647");
  CHECK(decode_request(high).priority == std::numeric_limits<int>::max());
  const Json seed = patched(k_request, "/policy/seed", "18446744073709551615");
  CHECK(decode_request(seed).policy.seed ==
        std::numeric_limits<std::uint64_t>::max());
  const Json zero = patched(k_request, "/policy/seed", "0");
  CHECK(decode_request(zero).policy.seed == 0u);
}

TEST_CASE("requests refuse every kind of bad member with its path") {
  const Hostile rows[] = {
      {"/requesterID", nullptr, "requesterID", "MissingField"},
      {"/requesterID", "null", "requesterID", "MissingField"},
      {"/requesterID", R"("Rome")", "requesterID", "InvalidID"},
      {"/requesterID", R"("rome.eu")", "requesterID", "InvalidID"},
      {"/requesterID", "7", "requesterID", "WrongType"},
      {"/requestedResources", nullptr, "requestedResources", "MissingField"},
      {"/requestedResources", "[]", "requestedResources", "WrongType"},
      {"/requestedResources/cpu", nullptr, "requestedResources.cpu",
       "MissingField"},
      {"/requestedResources/memory", nullptr, "requestedResources.memory",
       "MissingField"},
      {"/requestedResources/cpu", R"("0")", "requestedResources.cpu",
       "InvalidQuantity"},
      {"/requestedResources/memory", "0", "requestedResources.memory",
       "InvalidQuantity"},
      {"/requestedResources/cpu", R"("four")", "requestedResources.cpu",
       "InvalidQuantity"},
      {"/requestedResources/cpu", R"("-1")", "requestedResources.cpu",
       "InvalidQuantity"},
      {"/requestedResources/nvidia.com~1gpu", R"("1.5")",
       R"(requestedResources["nvidia.com/gpu"])", "InvalidQuantity"},
      {"/requestedResources/pods", R"("-2")", "requestedResources.pods",
       "InvalidQuantity"},
      {"/requestedResources/pods", "2.5", "requestedResources.pods",
       "InvalidQuantity"},
      {"/requestedResources/cpu", "true", "requestedResources.cpu",
       "WrongType"},
      {"/targetClusterID", R"("Paris!")", "targetClusterID", "InvalidID"},
      {"/targetClusterID", "3", "targetClusterID", "WrongType"},
      {"/duration", R"("1d")", "duration", "InvalidDuration"},
      {"/duration", R"("90")", "duration", "InvalidDuration"},
      {"/duration", R"("-5m")", "duration", "InvalidDuration"},
      {"/duration", R"("0s")", "duration", "InvalidDuration"},
      {"/duration", "3600", "duration", "WrongType"},
      // int32 ends plus and minus one.
      {"/priority", "2147483648", "priority", "OutOfRange"},
      {"/priority", "-2147483649", "priority", "OutOfRange"},
      {"/priority", "1.5", "priority", "WrongType"},
      {"/priority", R"("5")", "priority", "WrongType"},
      {"/constraints", "[]", "constraints", "WrongType"},
      {"/constraints/regions/2", "5", "constraints.regions[2]", "WrongType"},
      {"/constraints/regions", R"("europe-west1")", "constraints.regions",
       "WrongType"},
      {"/constraints/colour", R"("red")", "constraints.colour", "UnknownField"},
      {"/constraints/labels/cloud", "true", "constraints.labels.cloud",
       "WrongType"},
      {"/constraints/gpuModel", "1", "constraints.gpuModel", "WrongType"},
      {"/constraints/maxPricePerHour", R"("-1")", "constraints.maxPricePerHour",
       "InvalidPrice"},
      {"/policy/weight", "0.5", "policy.weight", "UnknownField"},
      {"/policy/resourceWeight", R"("0.7")", "policy.resourceWeight",
       "WrongType"},
      {"/policy/seed", "-1", "policy.seed", "OutOfRange"},
      // 2^64 is parsed as a double, still a whole number, out of range.
      {"/policy/seed", "18446744073709551616", "policy.seed", "OutOfRange"},
      {"/policy/seed", "0.5", "policy.seed", "WrongType"},
      {"/idempotencyKey", R"("k1")", "idempotencyKey", "UnknownField"},
      {"", R"("rome")", "", "WrongType"},
  };
  check_hostile(k_request, rows, [](const Json& j) { decode_request(j); });
}

TEST_CASE("a misspelled key is reported, not the key it fails to give") {
  const auto e = thrown([] {
    decode_request(parse_json(R"({"requesterId": "rome",
        "requestedResources": {"cpu": "1", "memory": "1Gi"}})"));
  });
  REQUIRE(e);
  CHECK(e->field() == "requesterId");
  CHECK(e->reason() == "UnknownField");
}

TEST_CASE("requests round trip") {
  const auto r = sample_request();
  const Json wire = encode_request(r);
  CHECK(wire["duration"] == "1h30m");
  CHECK(wire["requestedResources"]["memory"] == "8Gi");
  CHECK(wire["constraints"]["maxPricePerHour"] == "12.5");
  CHECK(wire["policy"]["seed"] == std::numeric_limits<std::uint64_t>::max());
  check_same(decode_request(through_text(wire)), r);

  ReservationRequest bare;
  bare.requester_id = "rome";
  bare.requested = list(1, 1);
  const Json bare_wire = encode_request(bare);
  CHECK_FALSE(bare_wire.contains("constraints"));
  CHECK_FALSE(bare_wire.contains("targetClusterID"));
  check_same(decode_request(through_text(bare_wire)), bare);
}

// --- decisions and reservations ----------------------------------------

TEST_CASE("decisions round trip exactly, doubles included") {
  const auto d = sample_decision();
  const Json wire = encode_decision(d);
  CHECK(wire["rows"][0]["pricePerHour"] == 8.36184);
  CHECK_FALSE(wire["rows"][1].contains("pricePerHour"));
  CHECK(wire["rows"][2]["reason"] == "is the requester");
  check_same(decode_decision(through_text(wire), "decision"), d);

  Decision empty;
  check_same(decode_decision(through_text(encode_decision(empty)), "d"), empty);
}

TEST_CASE("reservations round trip") {
  const auto r = sample_reservation();
  const Json wire = encode_reservation(r);
  // The request's members sit at the top level beside the outcome.
  CHECK(wire["requesterID"] == "paris");
  CHECK(wire["targetClusterID"] == "rome");
  CHECK(wire["requestedTargetClusterID"] == "rome");
  CHECK(wire["status"]["phase"] == "Active");
  CHECK(wire["status"]["activatedAt"] == "2026-12-04T15:00:01.250Z");
  CHECK(wire["createdAt"] == "2026-12-04T14:59:59.999Z");
  check_same(decode_reservation(through_text(wire)), r);

  // A failed one with no target, no times and no key.
  Reservation failed;
  failed.id = "r-1";
  failed.request.requester_id = "rome";
  failed.request.requested = list(1000, k_gib);
  failed.status.phase = Phase::failed;
  failed.status.reason = "NoCapacity";
  const Json failed_wire = encode_reservation(failed);
  CHECK_FALSE(failed_wire.contains("idempotencyKey"));
  CHECK_FALSE(failed_wire["status"].contains("expiresAt"));
  check_same(decode_reservation(through_text(failed_wire)), failed);
}

TEST_CASE("reservations refuse bad members and ignore unknown ones") {
  const std::string base = encode_reservation(sample_reservation()).dump();
  const Hostile rows[] = {
      {"/status", nullptr, "status", "MissingField"},
      {"/status/phase", nullptr, "status.phase", "MissingField"},
      {"/status/phase", R"("Done")", "status.phase", "InvalidPhase"},
      {"/status/expiresAt", R"("soon")", "status.expiresAt",
       "InvalidTimestamp"},
      {"/id", nullptr, "id", "MissingField"},
      {"/id", R"("")", "id", "InvalidID"},
      {"/targetClusterID", R"("Rome")", "targetClusterID", "InvalidID"},
      {"/requestedResources/cpu", R"("0")", "requestedResources.cpu",
       "InvalidQuantity"},
      {"/grantedResources/gpu", R"("x")", "grantedResources.gpu",
       "InvalidQuantity"},
      {"/decision/rows/1/rank", "-1", "decision.rows[1].rank", "OutOfRange"},
      {"/decision/rows/0/clusterID", nullptr, "decision.rows[0].clusterID",
       "MissingField"},
      {"/version", "0.5", "version", "WrongType"},
  };
  check_hostile(base, rows, [](const Json& j) { decode_reservation(j); });

  // What a newer broker may add is not an error for a client.
  Json newer = Json::parse(base);
  newer["shard"] = 3;
  newer["constraints"]["zone"] = "b";
  CHECK(decode_reservation(newer).id == "r-0193b2c4");
}

// --- errors ---------------------------------------------------------------

TEST_CASE("errors encode as the wire's error object") {
  const Error e(Code::invalid_argument,
                "requestedResources.cpu: must be greater than zero",
                "requestedResources.cpu", "InvalidQuantity");
  CHECK(encode_error(e) == Json::parse(R"({"error": {
      "code": "InvalidQuantity",
      "message": "requestedResources.cpu: must be greater than zero",
      "field": "requestedResources.cpu"}})"));

  // Without a field there is no "field"; the code defaults to the name.
  CHECK(encode_error(Error(Code::conflict, "busy")) ==
        Json::parse(R"({"error": {"code": "Conflict", "message": "busy"}})"));
}

TEST_CASE("an error quoting invalid UTF-8 still serializes") {
  const Error e(Code::invalid_argument, "bad \xff\xfe value", "x\xc3");
  const Json j = encode_error(e);
  // Each invalid byte becomes U+FFFD (EF BF BD).
  CHECK(j["error"]["message"] == "bad \xef\xbf\xbd\xef\xbf\xbd value");
  CHECK(j["error"]["field"] == "x\xef\xbf\xbd");
  CHECK_NOTHROW(j.dump());
}

TEST_CASE("decoding errors travel to the wire intact") {
  const auto e = thrown([] {
    decode_request(patched(k_request, "/constraints/regions/2", "false"));
  });
  REQUIRE(e);
  const Json j = encode_error(*e);
  CHECK(j["error"]["code"] == "WrongType");
  CHECK(j["error"]["field"] == "constraints.regions[2]");
  CHECK(j["error"]["message"] ==
        "constraints.regions[2] must be a string, not boolean");
}

} // namespace lrb::core
