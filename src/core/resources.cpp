// Resource names and lists. Names are validated once, where they enter
// (JSON decoding, flags, the Kubernetes API), with Kubernetes'
// qualified-name rules, and folded to lrb's canonical vocabulary so that
// "nvidia.com/gpu" and "amd.com/gpu" meet as "gpu" in the scoring core.
// After that a ResourceList trusts its names and stays cheap: five fixed
// slots and a sorted vector, no map, no hashing. Every sum and difference
// is overflow-checked, because an advertisement is untrusted input and a
// wrapped total would book capacity that does not exist.

#include "core/resources.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"
#include "core/quantity.h"
#include "core/quoting.h"

namespace lrb::core {

namespace {

constexpr Int128 k_nanos_per_unit = 1'000'000'000;

// Kubernetes' limits for the two halves of a qualified name.
constexpr std::size_t k_max_prefix = 253;
constexpr std::size_t k_max_name = 63;

constexpr std::string_view k_slot_names[k_slot_count] = {"cpu", "memory", "gpu",
                                                         "storage", "pods"};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Returns whether `name` is the name part of a qualified name:
// alphanumeric at both ends, '-', '_' or '.' inside, at most 63 bytes.
bool valid_name_part(std::string_view name) {
  if (name.empty() || name.size() > k_max_name || !is_alnum(name.front()) ||
      !is_alnum(name.back())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_alnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// Returns whether `prefix` is a DNS-1123 subdomain: dot-separated labels
// of lowercase alphanumerics and '-', each starting and ending with an
// alphanumeric, at most 253 bytes in all.
bool valid_prefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > k_max_prefix) {
    return false;
  }
  std::size_t start = 0;
  while (start <= prefix.size()) {
    const std::size_t end = std::min(prefix.find('.', start), prefix.size());
    const std::string_view label = prefix.substr(start, end - start);
    if (label.empty() || !is_lower_alnum(label.front()) ||
        !is_lower_alnum(label.back()) ||
        !std::all_of(label.begin(), label.end(),
                     [](char c) { return is_lower_alnum(c) || c == '-'; })) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// Returns whether `name` is a Kubernetes qualified name ("[prefix/]name").
bool valid_resource_name(std::string_view name) {
  const auto slash = name.find('/');
  if (slash == std::string_view::npos) {
    return valid_name_part(name);
  }
  return valid_prefix(name.substr(0, slash)) &&
         valid_name_part(name.substr(slash + 1));
}

// Returns the fixed slot holding `name`, if any.
std::optional<int> slot_of(std::string_view name) {
  for (int i = 0; i < k_slot_count; ++i) {
    if (k_slot_names[i] == name) {
      return i;
    }
  }
  return std::nullopt;
}

// Returns a + b, or throws Error(internal) naming the resource.
std::int64_t checked_add(std::string_view name, std::int64_t a,
                         std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    throw Error(Code::internal,
                fmt::format("sum of {} overflows: {} + {}", name, a, b));
  }
  return sum;
}

// Returns a - b, or throws Error(internal) naming the resource.
std::int64_t checked_sub(std::string_view name, std::int64_t a,
                         std::int64_t b) {
  std::int64_t difference = 0;
  if (__builtin_sub_overflow(a, b, &difference)) {
    throw Error(Code::internal,
                fmt::format("difference of {} overflows: {} - {}", name, a, b));
  }
  return difference;
}

[[noreturn]] void fail_quantity(std::string_view field, std::string message) {
  if (!field.empty()) {
    message = fmt::format("{}: {}", field, message);
  }
  throw Error(Code::invalid_argument, std::move(message), std::string(field),
              "InvalidQuantity");
}

// Returns the quantity `text` parsed, its errors naming `field`.
Quantity parse_quantity(std::string_view text, std::string_view field) {
  try {
    return Quantity::parse(text);
  } catch (const Error& e) {
    fail_quantity(field, e.what());
  }
}

// Converts a non-negative quantity to the canonical unit of `kind`.
std::int64_t to_canonical(const Quantity& quantity, ResourceKind kind) {
  switch (kind) {
  case ResourceKind::milli:
    return quantity.milli_ceil();
  case ResourceKind::bytes:
    return quantity.units_ceil();
  case ResourceKind::count:
    return quantity.units_exact();
  }
  return quantity.units_exact();
}

} // namespace

std::string canonical_resource_name(std::string_view name,
                                    std::string_view field) {
  if (!valid_resource_name(name)) {
    std::string message = fmt::format(
        "invalid resource name {}: use cpu, memory, gpu, storage, pods "
        "or an extended resource such as example.com/fpga (a lowercase DNS "
        "prefix, '/', then at most 63 letters, digits, '-', '_' or '.')",
        quote_input(name));
    if (!field.empty()) {
      message = fmt::format("{}: {}", field, message);
    }
    throw Error(Code::invalid_argument, std::move(message), std::string(field),
                "InvalidResourceName");
  }
  if (is_gpu_resource(name)) {
    return "gpu";
  }
  if (name == "ephemeral-storage") {
    return "storage";
  }
  return std::string(name);
}

bool is_gpu_resource(std::string_view name) {
  const auto slash = name.rfind('/');
  return name == "gpu" || (slash != std::string_view::npos && slash > 0 &&
                           name.substr(slash + 1) == "gpu");
}

ResourceKind resource_kind(std::string_view name) {
  if (name == "cpu") {
    return ResourceKind::milli;
  }
  if (name == "memory" || name == "storage" || name == "ephemeral-storage" ||
      name.starts_with("hugepages-")) {
    return ResourceKind::bytes;
  }
  return ResourceKind::count;
}

std::int64_t parse_resource(std::string_view name, std::string_view text,
                            std::string_view field) {
  const Quantity quantity = parse_quantity(text, field);
  const ResourceKind kind = resource_kind(name);
  if (quantity.negative()) {
    fail_quantity(field, fmt::format("{} must not be negative (got {})", name,
                                     quote_input(text)));
  }
  if (kind == ResourceKind::count && quantity.nanos() % k_nanos_per_unit != 0) {
    fail_quantity(field, fmt::format("{} must be a whole number, such as 1 "
                                     "or 2 (got {})",
                                     name, quote_input(text)));
  }
  try {
    return to_canonical(quantity, kind);
  } catch (const Error& e) {
    fail_quantity(field,
                  fmt::format("{} (got {})", e.what(), quote_input(text)));
  }
}

std::string format_resource(std::string_view name, std::int64_t value) {
  switch (resource_kind(name)) {
  case ResourceKind::milli:
    return format_milli(value);
  case ResourceKind::bytes:
    return format_bytes(value);
  case ResourceKind::count:
    break;
  }
  return format_count(value);
}

// --- ResourceList ---------------------------------------------------------

namespace {

// Returns the first extended entry whose name is not below `name`.
template <typename Vector>
auto lower_bound_of(Vector& extended, std::string_view name) {
  return std::lower_bound(extended.begin(), extended.end(), name,
                          [](const auto& entry, std::string_view key) {
                            return entry.first < key;
                          });
}

} // namespace

std::int64_t ResourceList::get(std::string_view name) const {
  if (auto slot = slot_of(name)) {
    return slots_[*slot];
  }
  auto it = lower_bound_of(extended_, name);
  return it != extended_.end() && it->first == name ? it->second : 0;
}

bool ResourceList::has(std::string_view name) const {
  if (auto slot = slot_of(name)) {
    return (present_ >> *slot) & 1U;
  }
  auto it = lower_bound_of(extended_, name);
  return it != extended_.end() && it->first == name;
}

void ResourceList::set(std::string_view name, std::int64_t value) {
  if (auto slot = slot_of(name)) {
    set(static_cast<Slot>(*slot), value);
    return;
  }
  auto it = lower_bound_of(extended_, name);
  if (it != extended_.end() && it->first == name) {
    it->second = value;
  } else {
    extended_.emplace(it, std::string(name), value);
  }
}

void ResourceList::set(Slot slot, std::int64_t value) {
  slots_[index(slot)] = value;
  present_ |= static_cast<std::uint8_t>(1U << index(slot));
}

void ResourceList::erase(std::string_view name) {
  if (auto slot = slot_of(name)) {
    slots_[*slot] = 0;
    present_ &= static_cast<std::uint8_t>(~(1U << *slot));
    return;
  }
  auto it = lower_bound_of(extended_, name);
  if (it != extended_.end() && it->first == name) {
    extended_.erase(it);
  }
}

std::vector<std::string> ResourceList::names() const {
  std::vector<std::string> out;
  for_each(
      [&](std::string_view name, std::int64_t) { out.emplace_back(name); });
  return out;
}

ResourceList& ResourceList::operator+=(const ResourceList& other) {
  // Check every name first so that an overflow leaves *this unchanged.
  other.for_each([&](std::string_view name, std::int64_t value) {
    checked_add(name, get(name), value);
  });
  other.for_each([&](std::string_view name, std::int64_t value) {
    set(name, get(name) + value);
  });
  return *this;
}

ResourceList& ResourceList::operator-=(const ResourceList& other) {
  other.for_each([&](std::string_view name, std::int64_t value) {
    checked_sub(name, get(name), value);
  });
  other.for_each([&](std::string_view name, std::int64_t value) {
    set(name, get(name) - value);
  });
  return *this;
}

ResourceList ResourceList::clamped() const {
  ResourceList out = *this;
  for (auto& value : out.slots_) {
    value = std::max<std::int64_t>(value, 0);
  }
  for (auto& entry : out.extended_) {
    entry.second = std::max<std::int64_t>(entry.second, 0);
  }
  return out;
}

bool ResourceList::fits(const ResourceList& request) const {
  bool ok = true;
  request.for_each([&](std::string_view name, std::int64_t value) {
    ok = ok && value <= get(name);
  });
  return ok;
}

std::vector<std::string>
ResourceList::shortfalls(const ResourceList& request) const {
  std::vector<std::string> out;
  request.for_each([&](std::string_view name, std::int64_t value) {
    if (value > get(name)) {
      out.emplace_back(name);
    }
  });
  return out;
}

bool ResourceList::any_negative() const {
  bool negative = false;
  for_each([&](std::string_view, std::int64_t value) {
    negative = negative || value < 0;
  });
  return negative;
}

ResourceList ResourceList::max(const ResourceList& a, const ResourceList& b) {
  ResourceList out = a;
  b.for_each([&](std::string_view name, std::int64_t value) {
    out.set(name, std::max(out.get(name), value));
  });
  a.for_each([&](std::string_view name, std::int64_t value) {
    if (!b.has(name)) {
      out.set(name, std::max<std::int64_t>(value, 0));
    }
  });
  return out;
}

bool operator==(const ResourceList& a, const ResourceList& b) {
  return a.present_ == b.present_ && a.slots_ == b.slots_ &&
         a.extended_ == b.extended_;
}

ResourceList operator+(ResourceList a, const ResourceList& b) {
  a += b;
  return a;
}

ResourceList operator-(ResourceList a, const ResourceList& b) {
  a -= b;
  return a;
}

ResourceList subtract_clamped(const ResourceList& a, const ResourceList& b) {
  // The difference is taken in 128 bits: a negative overflow clamps to
  // zero like any other negative, only a positive one is an error.
  ResourceList out;
  a.for_each([&](std::string_view name, std::int64_t value) {
    const Int128 difference = Int128{value} - b.get(name);
    out.set(name, difference > 0 ? checked_sub(name, value, b.get(name)) : 0);
  });
  return out;
}

} // namespace lrb::core
