// Kubernetes quantities, parsed exactly. A quantity such as "1.5Gi",
// "250m" or "1e3" is held as an integer count of nano-units in 128 bits,
// so every suffix of the Kubernetes grammar is represented without loss
// and sums of many small values stay exact. Conversion to lrb's canonical
// units (millicores, bytes, whole counts) rounds up, as kube-scheduler
// does, and reports overflow instead of wrapping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lrb::core {

// A signed 128-bit integer; __extension__ keeps -Wpedantic quiet.
__extension__ typedef __int128 Int128;

// An exact, signed quantity in nano-units (value × 10^9).
class Quantity {
public:
  Quantity() = default;

  // Parses the Kubernetes grammar: sign, digits with an optional
  // fraction, then either a decimal exponent (e/E and an integer), a
  // decimal suffix (n u m k M G T P E) or a binary one (Ki Mi Gi Ti Pi
  // Ei). Values finer than a nano-unit round up. Throws
  // Error(invalid_argument, reason "InvalidQuantity") naming the text,
  // or on overflow.
  static Quantity parse(std::string_view text);

  // Makes a quantity from a whole number of milli-units.
  static Quantity from_milli(std::int64_t milli);

  // Returns the value in nano-units.
  Int128 nanos() const { return nanos_; }
  // Returns whether the value is below zero.
  bool negative() const { return nanos_ < 0; }

  // Returns the value rounded up to a whole milli-unit; throws on
  // overflow of int64.
  std::int64_t milli_ceil() const;
  // Returns the value rounded up to a whole unit; throws on overflow.
  std::int64_t units_ceil() const;
  // Returns the value when it is a whole number; throws
  // Error(invalid_argument) when it has a fraction, or on overflow.
  std::int64_t units_exact() const;

private:
  explicit Quantity(Int128 nanos) : nanos_(nanos) {}
  Int128 nanos_ = 0;
};

// Formats millicores canonically: "4", "500m", "1500m"; re-parses exactly.
std::string format_milli(std::int64_t milli);
// Formats bytes canonically: the largest binary suffix that divides
// exactly ("8Gi"), else the plain number; re-parses exactly.
std::string format_bytes(std::int64_t bytes);
// Formats a whole count: "3".
std::string format_count(std::int64_t count);

} // namespace lrb::core
