// libFuzzer harness for the Node/Pod decoding and the inventory: every
// snapshot file and every page of the live API goes through add_list (or
// add_items) and then build_inventory. Beyond not crashing it checks what
// the agent relies on: decoding either succeeds or throws lrb's Error
// (anything else escapes and is reported), a decoded pod never asks for
// a negative amount, and the inventory keeps its invariants — every node
// offers max(0, allocatable - allocated), the cluster never offers more
// than it has, the largest node never more than the sum, every pod is
// accounted for exactly once, and the GPU models add up to the GPUs.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -Isrc \
//     -DFMT_HEADER_ONLY fuzz/kube_list_fuzz.cpp src/kube/objects.cpp \
//     src/kube/inventory.cpp src/core/json.cpp src/core/types.cpp \
//     src/core/resources.cpp src/core/quantity.cpp src/core/duration.cpp \
//     src/core/clock.cpp src/core/error.cpp src/core/quoting.cpp \
//     src/core/log.cpp -o kube_list_fuzz
//   ./kube_list_fuzz -max_total_time=60 -max_len=65536 fuzz/corpus/kube_list
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "kube/inventory.h"

namespace {

using lrb::core::Error;
using lrb::core::ResourceList;

// Aborts unless `check` holds; libFuzzer then saves the input.
void require(bool check) {
  if (!check) {
    std::abort();
  }
}

// Returns whether every amount of `a` is at most the same one in `b`.
bool at_most(const ResourceList& a, const ResourceList& b) {
  bool ok = true;
  a.for_each([&](std::string_view name, std::int64_t value) {
    ok = ok && value <= b.get(name);
  });
  return ok;
}

// Checks the invariants of an inventory built from `pods`.
void check_inventory(const lrb::kube::Inventory& inv, std::size_t pods) {
  const auto& c = inv.counts;
  require(c.counted_pods + c.terminal_pods + c.unbound_pods +
              c.unknown_node_pods ==
          static_cast<int>(pods));
  require(c.eligible_nodes <= c.nodes);
  for (const auto& row : inv.nodes) {
    require(!row.available.any_negative());
    require(row.available ==
            lrb::core::subtract_clamped(row.allocatable, row.allocated));
    require(row.eligible == row.why_not.empty());
  }
  const auto& t = inv.totals;
  require(!t.available.any_negative());
  require(at_most(t.available, t.allocatable));
  require(at_most(t.largest_node_available, t.available));
  std::int64_t gpus = 0;
  for (const auto& [model, count] : inv.gpu_models) {
    require(count > 0);
    gpus += count;
  }
  require(gpus == t.allocatable.get(lrb::core::Slot::gpu));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  namespace core = lrb::core;
  namespace kube = lrb::kube;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  core::Json doc;
  try {
    doc = core::parse_json(text);
  } catch (const Error&) {
    return 0;
  }

  std::vector<kube::NodeInfo> nodes;
  std::vector<kube::PodInfo> pods;
  try {
    kube::add_list(doc, nodes, pods);
  } catch (const Error& e) {
    require(e.code() == core::Code::invalid_argument);
    return 0;
  }
  for (const auto& pod : pods) {
    require(!pod.requests.any_negative());
  }

  // Every filter must keep the invariants; the widest one is tried too.
  for (bool everything : {false, true}) {
    kube::NodeFilter filter{everything, everything, everything, {}};
    try {
      check_inventory(kube::build_inventory(nodes, pods, filter), pods.size());
    } catch (const Error& e) {
      // Objects listed twice, or sums past int64.
      require(e.code() == core::Code::invalid_argument ||
              e.code() == core::Code::internal);
    }
  }
  return 0;
}
