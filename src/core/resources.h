// Resource names and lists. The well-known resources (cpu, memory, gpu,
// storage, pods) live in fixed slots so that the decision loop over
// thousands of clusters reads them without hashing or string compares;
// any other extended resource is kept by its full name in a small sorted
// vector. Values are canonical integers: millicores for cpu, bytes for
// memory and storage, whole counts for everything else.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrb::core {

// How a resource's canonical integer is measured.
enum class ResourceKind { milli, bytes, count };

// The fixed slots of a ResourceList, in canonical order.
enum class Slot : std::uint8_t { cpu, memory, gpu, storage, pods };
inline constexpr int k_slot_count = 5;

// Returns the canonical name of a resource: any vendor's device-plugin
// GPU ("nvidia.com/gpu", "amd.com/gpu", ...) becomes "gpu",
// "ephemeral-storage" becomes "storage", others stay as written. Throws
// Error(invalid_argument) naming `field` for a name that is not a valid
// Kubernetes resource name.
std::string canonical_resource_name(std::string_view name,
                                    std::string_view field = "");

// Returns whether `name` is a device-plugin GPU resource ("<vendor>/gpu").
bool is_gpu_resource(std::string_view name);

// Returns how the canonical resource `name` is measured.
ResourceKind resource_kind(std::string_view name);

// Parses `text` as a quantity of the canonical resource `name`, into its
// canonical integer: cpu rounds up to a millicore, bytes up to a byte,
// counts must be whole. Negative values are errors. Throws
// Error(invalid_argument, "InvalidQuantity") naming `field`.
std::int64_t parse_resource(std::string_view name, std::string_view text,
                            std::string_view field);

// Formats a canonical value of resource `name` so it re-parses exactly.
std::string format_resource(std::string_view name, std::int64_t value);

// An exact list of resource amounts keyed by canonical name.
class ResourceList {
public:
  // Returns the amount of `name` (0 when absent).
  std::int64_t get(std::string_view name) const;
  // Returns the amount in a fixed slot (0 when absent).
  std::int64_t get(Slot slot) const { return slots_[index(slot)]; }
  // Returns whether `name` was set (even to zero).
  bool has(std::string_view name) const;
  bool has(Slot slot) const { return (present_ >> index(slot)) & 1U; }
  // Sets `name` (canonical) to `value`.
  void set(std::string_view name, std::int64_t value);
  void set(Slot slot, std::int64_t value);
  // Removes `name`.
  void erase(std::string_view name);
  // Returns whether no resource is set.
  bool empty() const { return present_ == 0 && extended_.empty(); }

  // Returns the names that are set, fixed slots first then extended in
  // name order.
  std::vector<std::string> names() const;

  // Calls f(name, value) for every set resource, in names() order.
  template <typename F>
  void for_each(F&& f) const {
    static constexpr std::string_view k_names[] = {"cpu", "memory", "gpu",
                                                   "storage", "pods"};
    for (int i = 0; i < k_slot_count; ++i) {
      if ((present_ >> i) & 1U) {
        f(k_names[i], slots_[i]);
      }
    }
    for (const auto& [name, value] : extended_) {
      f(std::string_view(name), value);
    }
  }

  // Adds or subtracts every resource of `other` exactly; throws
  // Error(internal) on int64 overflow.
  ResourceList& operator+=(const ResourceList& other);
  ResourceList& operator-=(const ResourceList& other);

  // Returns a copy with every negative amount raised to zero.
  ResourceList clamped() const;

  // Returns whether every resource set in `request` is at most the
  // amount here (absent here counts as zero).
  bool fits(const ResourceList& request) const;

  // Returns the names set in `request` whose amount exceeds this list's.
  std::vector<std::string> shortfalls(const ResourceList& request) const;

  // Returns whether any amount is negative.
  bool any_negative() const;

  // Returns per-name max(a, b) over the union of names.
  static ResourceList max(const ResourceList& a, const ResourceList& b);

  friend bool operator==(const ResourceList& a, const ResourceList& b);

private:
  static constexpr int index(Slot s) { return static_cast<int>(s); }
  std::array<std::int64_t, k_slot_count> slots_{};
  std::uint8_t present_ = 0;
  std::vector<std::pair<std::string, std::int64_t>> extended_;
};

// Returns a + b and a - b (exact, overflow-checked).
ResourceList operator+(ResourceList a, const ResourceList& b);
ResourceList operator-(ResourceList a, const ResourceList& b);

// Returns max(0, a - b) per name, over the names of `a`.
ResourceList subtract_clamped(const ResourceList& a, const ResourceList& b);

} // namespace lrb::core
