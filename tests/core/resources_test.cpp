#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/resources.h"

namespace lrb::core {

namespace {

constexpr std::int64_t k_i64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t k_i64_min = std::numeric_limits<std::int64_t>::min();

using Entries =
    std::initializer_list<std::pair<std::string_view, std::int64_t>>;

// Returns a list with the given names set, in the order given.
ResourceList make(Entries entries) {
  ResourceList list;
  for (const auto& [name, value] : entries) {
    list.set(name, value);
  }
  return list;
}

// Returns the (name, value) pairs for_each visits, in its order.
std::vector<std::pair<std::string, std::int64_t>>
visited(const ResourceList& list) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  list.for_each([&](std::string_view name, std::int64_t value) {
    out.emplace_back(name, value);
  });
  return out;
}

// Returns the Error `f` throws; fails the test if none.
template <typename F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error");
  return Error(Code::internal, "unreachable");
}

} // namespace

TEST_CASE("resource names fold to lrb's vocabulary") {
  struct Row {
    std::string name;
    std::string canonical;
  };
  const Row rows[] = {
      {"cpu", "cpu"},
      {"memory", "memory"},
      {"pods", "pods"},
      {"storage", "storage"},
      {"gpu", "gpu"},
      {"ephemeral-storage", "storage"},
      {"nvidia.com/gpu", "gpu"},
      {"amd.com/gpu", "gpu"},
      {"habana.ai.example/gpu", "gpu"},
      {"gpu.intel.com/i915", "gpu.intel.com/i915"}, // last segment not gpu
      {"nvidia.com/gpu.shared", "nvidia.com/gpu.shared"},
      {"nvidia.com/mig-1g.5gb", "nvidia.com/mig-1g.5gb"},
      {"example.com/fpga", "example.com/fpga"},
      {"hugepages-2Mi", "hugepages-2Mi"},
      {"example.com/Foo_Bar.1", "example.com/Foo_Bar.1"},
      {"a", "a"},
      {std::string(63, 'x'), std::string(63, 'x')}, // at the limit
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CHECK(canonical_resource_name(row.name) == row.canonical);
  }
}

TEST_CASE("invalid resource names are errors naming the field") {
  const std::string rows[] = {
      "",
      "/gpu",           // empty prefix
      "nvidia.com/",    // empty name
      "Nvidia.com/gpu", // prefixes are lowercase DNS names
      "a/b/c",          // one slash at most
      "-cpu",           // names start and end alphanumeric
      "cpu-",
      "cpu.",
      "has space",
      "tab\t",
      std::string(64, 'x'),           // names are at most 63 bytes
      std::string(254, 'a') + "/gpu", // prefixes at most 253
      "a..b/c",                       // empty DNS label
      "-a.com/c",                     // DNS label starting with '-'
      "a_b.com/c",                    // '_' is not allowed in a DNS label
      "\xc3\xa9",                     // non-ASCII
      "cpu/",
  };
  for (const auto& name : rows) {
    CAPTURE(name);
    const Error e =
        error_of([&] { canonical_resource_name(name, "requestedResources"); });
    CHECK(e.code() == Code::invalid_argument);
    CHECK(e.field() == "requestedResources");
    CHECK(e.reason() == "InvalidResourceName");
    CHECK(std::string(e.what()).starts_with(
        "requestedResources: invalid resource name"));
  }
}

TEST_CASE("GPU resources are recognised by their last path segment") {
  struct Row {
    std::string name;
    bool gpu;
  };
  const Row rows[] = {
      {"nvidia.com/gpu", true},
      {"amd.com/gpu", true},
      {"gpu", true},
      {"gpu.intel.com/i915", false},
      {"nvidia.com/gpus", false},
      {"nvidia.com/mig-1g.5gb", false},
      {"/gpu", false},
      {"cpu", false},
      {"example.com/vgpu", false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CHECK(is_gpu_resource(row.name) == row.gpu);
  }
}

TEST_CASE("each resource has its unit") {
  struct Row {
    std::string name;
    ResourceKind kind;
  };
  const Row rows[] = {
      {"cpu", ResourceKind::milli},
      {"memory", ResourceKind::bytes},
      {"storage", ResourceKind::bytes},
      {"hugepages-2Mi", ResourceKind::bytes},
      {"hugepages-1Gi", ResourceKind::bytes},
      {"gpu", ResourceKind::count},
      {"pods", ResourceKind::count},
      {"example.com/fpga", ResourceKind::count},
      {"nvidia.com/mig-1g.5gb", ResourceKind::count},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CHECK(resource_kind(row.name) == row.kind);
  }
}

TEST_CASE("resource quantities parse to canonical integers") {
  struct Row {
    std::string name;
    std::string text;
    std::int64_t value;
  };
  const Row rows[] = {
      {"cpu", "0.1m", 1},      // rounded up to a millicore
      {"cpu", "1.5", 1500},    // 1.5 cores
      {"cpu", "1e3", 1000000}, // 1000 cores
      {"cpu", "250m", 250},
      {"cpu", "0", 0},
      {"memory", "1Ki", 1024},
      {"memory", "0.5Gi", 536870912},         // 2^30 / 2
      {"memory", "1E", 1000000000000000000},  // 10^18: exa
      {"memory", "1e3", 1000},                // exponent
      {"memory", "1Ei", 1152921504606846976}, // 2^60
      {"memory", "1.5", 2},                   // a byte fraction rounds up
      {"memory", "129M", 129000000},
      {"storage", "10Gi", 10737418240},  // 10 × 2^30
      {"hugepages-2Mi", "4Mi", 4194304}, // 4 × 2^20
      {"gpu", "2", 2},
      {"gpu", "1k", 1000},
      {"gpu", "2000m", 2}, // a whole number written in milli
      {"pods", "110", 110},
      {"example.com/fpga", "3", 3},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CAPTURE(row.text);
    CHECK(parse_resource(row.name, row.text, "r") == row.value);
  }
}

TEST_CASE("bad resource quantities are InvalidQuantity errors") {
  struct Row {
    std::string name;
    std::string text;
    std::string says; // a part of the message
  };
  const Row rows[] = {
      {"gpu", "0.5", "must be a whole number"},
      {"pods", "1500m", "must be a whole number"},
      {"example.com/fpga", "1n", "must be a whole number"},
      {"cpu", "-1", "must not be negative"},
      {"memory", "-1Ki", "must not be negative"},
      {"gpu", "-1", "must not be negative"},
      {"cpu", "4x", "invalid quantity \"4x\""},
      {"memory", "1 Gi", "invalid quantity \"1 Gi\""},
      {"memory", "8Ei", "too large"},           // 2^63 bytes
      {"cpu", "9223372036854776", "too large"}, // × 1000 > INT64_MAX
      {"gpu", "1e19", "too large"},
      {"memory", "9999999999999E", "too large"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CAPTURE(row.text);
    const Error e = error_of(
        [&] { parse_resource(row.name, row.text, "requestedResources.x"); });
    CHECK(e.code() == Code::invalid_argument);
    CHECK(e.reason() == "InvalidQuantity");
    CHECK(e.field() == "requestedResources.x");
    const std::string message = e.what();
    CHECK(message.starts_with("requestedResources.x: "));
    CHECK(message.find(row.says) != std::string::npos);
  }
}

TEST_CASE("formatted resources re-parse to the same value") {
  struct Row {
    std::string name;
    std::int64_t value;
    std::string text;
  };
  const Row rows[] = {
      {"cpu", 4000, "4"},
      {"cpu", 1500, "1500m"},
      {"memory", 8589934592, "8Gi"}, // 8 × 2^30
      {"memory", 1000, "1000"},
      {"storage", 1536, "1536"},
      {"hugepages-2Mi", 4194304, "4Mi"},
      {"gpu", 3, "3"},
      {"pods", 110, "110"},
      {"cpu", k_i64_max, "9223372036854775807m"},
      {"memory", k_i64_max, "9223372036854775807"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CAPTURE(row.value);
    const std::string text = format_resource(row.name, row.value);
    CHECK(text == row.text);
    CHECK(parse_resource(row.name, text, "r") == row.value);
  }
}

TEST_CASE("a resource list gets, sets, erases and lists names") {
  ResourceList list;
  CHECK(list.empty());
  CHECK(list.get("cpu") == 0);
  CHECK_FALSE(list.has("cpu"));

  list.set("example.com/fpga", 2);
  list.set("memory", 1024);
  list.set(Slot::cpu, 500);
  list.set("acme.io/widget", 7);
  list.set("pods", 0); // set to zero still counts as set
  CHECK_FALSE(list.empty());
  CHECK(list.get("cpu") == 500);
  CHECK(list.get(Slot::cpu) == 500);
  CHECK(list.get(Slot::memory) == 1024);
  CHECK(list.get("example.com/fpga") == 2);
  CHECK(list.has("pods"));
  CHECK(list.has(Slot::pods));
  CHECK_FALSE(list.has("gpu"));
  CHECK_FALSE(list.has(Slot::gpu));
  CHECK_FALSE(list.has("example.com/other"));

  // Fixed slots first, in slot order, then extended names sorted.
  const std::vector<std::string> names = {"cpu", "memory", "pods",
                                          "acme.io/widget", "example.com/fpga"};
  CHECK(list.names() == names);
  const std::vector<std::pair<std::string, std::int64_t>> pairs = {
      {"cpu", 500},          {"memory", 1024},        {"pods", 0},
      {"acme.io/widget", 7}, {"example.com/fpga", 2},
  };
  CHECK(visited(list) == pairs);

  list.set("acme.io/widget", 9); // overwrite, no duplicate
  CHECK(list.get("acme.io/widget") == 9);
  CHECK(list.names().size() == 5);

  list.erase("cpu");
  list.erase("acme.io/widget");
  list.erase("not-set"); // erasing an absent name is harmless
  CHECK_FALSE(list.has("cpu"));
  CHECK(list.get("cpu") == 0);
  CHECK_FALSE(list.has("acme.io/widget"));
  CHECK(list.names() ==
        std::vector<std::string>{"memory", "pods", "example.com/fpga"});

  for (const char* name : {"memory", "pods", "example.com/fpga"}) {
    list.erase(name);
  }
  CHECK(list.empty());
}

TEST_CASE("resource lists are equal when the same names hold the same "
          "values") {
  CHECK(make({{"cpu", 1}, {"x.io/a", 2}}) == make({{"x.io/a", 2}, {"cpu", 1}}));
  CHECK(ResourceList() == ResourceList());
  CHECK_FALSE(make({{"cpu", 1}}) == make({{"cpu", 2}}));
  CHECK_FALSE(make({{"cpu", 0}}) == ResourceList()); // set vs absent
  CHECK_FALSE(make({{"x.io/a", 0}}) == ResourceList());
  CHECK_FALSE(make({{"x.io/a", 1}}) == make({{"x.io/b", 1}}));

  // An erased slot equals one never set.
  ResourceList erased = make({{"cpu", 5}, {"memory", 1}});
  erased.erase("cpu");
  CHECK(erased == make({{"memory", 1}}));
}

TEST_CASE("adding and subtracting lists works over the union of names") {
  const ResourceList a = make({{"cpu", 1000}, {"memory", 2048}, {"x.io/a", 3}});
  const ResourceList b = make({{"cpu", 250}, {"gpu", 2}, {"x.io/b", 1}});

  // cpu 1000 + 250; memory 2048 + 0; gpu 0 + 2; x.io/a 3; x.io/b 0 + 1
  CHECK(a + b == make({{"cpu", 1250},
                       {"memory", 2048},
                       {"gpu", 2},
                       {"x.io/a", 3},
                       {"x.io/b", 1}}));
  // cpu 1000 - 250; gpu 0 - 2; x.io/b 0 - 1: negatives are kept
  CHECK(a - b == make({{"cpu", 750},
                       {"memory", 2048},
                       {"gpu", -2},
                       {"x.io/a", 3},
                       {"x.io/b", -1}}));
  CHECK((a - b).any_negative());
  CHECK_FALSE((a + b).any_negative());

  ResourceList sum = a;
  sum += b;
  sum -= b; // back to a's values, with b's names now present at 0
  CHECK(sum.get("cpu") == 1000);
  CHECK(sum.get("gpu") == 0);
  CHECK(sum.has("gpu"));
  CHECK(sum == a + make({{"gpu", 0}, {"x.io/b", 0}}));
}

TEST_CASE("list arithmetic throws on overflow and leaves the list as it "
          "was") {
  struct Row {
    std::string name;
    std::int64_t left;
    std::int64_t right;
    bool add; // true: left + right, false: left - right
  };
  const Row rows[] = {
      {"cpu", k_i64_max, 1, true},     // INT64_MAX + 1
      {"memory", k_i64_min, -1, true}, // INT64_MIN + -1
      {"x.io/a", k_i64_min, 1, false}, // INT64_MIN - 1
      {"pods", 0, k_i64_min, false},   // 0 - INT64_MIN = 2^63
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    // Another name that would change, to show nothing is half applied.
    ResourceList list = make({{"gpu", 1}, {row.name, row.left}});
    const ResourceList before = list;
    const ResourceList other = make({{"gpu", 1}, {row.name, row.right}});
    const Error e = error_of([&] {
      if (row.add) {
        list += other;
      } else {
        list -= other;
      }
    });
    CHECK(e.code() == Code::internal);
    CHECK(std::string(e.what()).find(row.name) != std::string::npos);
    CHECK(list == before);
  }
  CHECK_THROWS_AS(make({{"cpu", k_i64_max}}) + make({{"cpu", 1}}), Error);
  CHECK_THROWS_AS(make({{"cpu", k_i64_min}}) - make({{"cpu", 1}}), Error);
  // At the edges without crossing them.
  CHECK((make({{"cpu", k_i64_max - 1}}) + make({{"cpu", 1}})).get("cpu") ==
        k_i64_max);
  CHECK((make({{"cpu", k_i64_min + 1}}) - make({{"cpu", 1}})).get("cpu") ==
        k_i64_min);
}

TEST_CASE("clamped raises negatives to zero and keeps the names") {
  const ResourceList list =
      make({{"cpu", -5}, {"memory", 7}, {"x.io/a", -1}, {"x.io/b", 2}});
  CHECK(list.any_negative());
  const ResourceList clamped = list.clamped();
  CHECK(clamped ==
        make({{"cpu", 0}, {"memory", 7}, {"x.io/a", 0}, {"x.io/b", 2}}));
  CHECK_FALSE(clamped.any_negative());
  CHECK_FALSE(ResourceList().any_negative());
  CHECK(make({{"x.io/a", -1}}).any_negative());
}

TEST_CASE("fits and shortfalls compare a request with what is free") {
  const ResourceList free =
      make({{"cpu", 4000}, {"memory", 8192}, {"gpu", 1}, {"x.io/a", 2}});
  struct Row {
    const char* what;
    ResourceList request;
    std::vector<std::string> short_of;
  };
  const Row rows[] = {
      {"empty request", ResourceList(), {}},
      {"exactly all", free, {}},
      {"less", make({{"cpu", 1}, {"memory", 1}}), {}},
      {"zero of an absent name", make({{"storage", 0}}), {}},
      {"one cpu too many", make({{"cpu", 4001}}), {"cpu"}},
      {"absent here counts as 0", make({{"storage", 1}}), {"storage"}},
      {"absent extended", make({{"x.io/b", 1}}), {"x.io/b"}},
      {"several, in names order",
       make({{"x.io/a", 3}, {"gpu", 2}, {"cpu", 1}}),
       {"gpu", "x.io/a"}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    CHECK(free.fits(row.request) == row.short_of.empty());
    CHECK(free.shortfalls(row.request) == row.short_of);
  }
  // A negative amount here fits nothing positive.
  CHECK_FALSE(make({{"cpu", -1}}).fits(make({{"cpu", 0}})));
}

TEST_CASE("max takes the larger amount per name, absent counting as 0") {
  const ResourceList a = make({{"cpu", 5}, {"memory", -3}, {"x.io/a", 1}});
  const ResourceList b = make({{"cpu", 2}, {"gpu", 4}, {"x.io/b", -2}});
  // cpu max(5, 2); memory max(-3, 0); x.io/a max(1, 0); gpu max(0, 4);
  // x.io/b max(0, -2)
  const ResourceList expected = make(
      {{"cpu", 5}, {"memory", 0}, {"x.io/a", 1}, {"gpu", 4}, {"x.io/b", 0}});
  CHECK(ResourceList::max(a, b) == expected);
  CHECK(ResourceList::max(b, a) == expected);
  CHECK(ResourceList::max(a, a) == a); // memory: max(-3, -3) = -3
  CHECK(ResourceList::max(a, ResourceList()) == a.clamped());
}

TEST_CASE("subtract_clamped keeps a's names and never goes negative") {
  const ResourceList a = make({{"cpu", 1000}, {"memory", 100}, {"x.io/a", 1}});
  const ResourceList b = make({{"cpu", 400}, {"memory", 500}, {"gpu", 3}});
  // cpu 1000 - 400; memory max(0, 100 - 500); x.io/a 1 - 0; gpu not in a
  CHECK(subtract_clamped(a, b) ==
        make({{"cpu", 600}, {"memory", 0}, {"x.io/a", 1}}));

  // A difference below INT64_MIN is still just negative: clamped to 0.
  CHECK(subtract_clamped(make({{"cpu", k_i64_min}}), make({{"cpu", 1}})) ==
        make({{"cpu", 0}}));
  // One above INT64_MAX cannot be held.
  const Error e = error_of([] {
    subtract_clamped(make({{"cpu", k_i64_max}}), make({{"cpu", -1}}));
  });
  CHECK(e.code() == Code::internal);
}

} // namespace lrb::core
