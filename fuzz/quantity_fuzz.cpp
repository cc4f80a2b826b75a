// libFuzzer harness for the quantity parser and the canonical
// conversions. Beyond not crashing, it checks the properties the rest of
// lrb relies on: a parse either succeeds or throws lrb's Error (never
// anything else), a negated text parses to the negated value, and every
// canonical value that fits re-parses to itself once formatted.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -Isrc \
//     fuzz/quantity_fuzz.cpp src/core/quantity.cpp src/core/quoting.cpp \
//     src/core/error.cpp -DFMT_HEADER_ONLY -o quantity_fuzz
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include "core/quantity.h"
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace {

using lrb::core::Error;
using lrb::core::Quantity;

// Parses `text`, returning nullopt when it is rejected with an Error.
std::optional<Quantity> try_parse(std::string_view text) {
  try {
    return Quantity::parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// Aborts unless `check` holds; libFuzzer then saves the input.
void require(bool check) {
  if (!check) {
    std::abort();
  }
}

// Checks that a canonical value that fits formats and re-parses.
template <typename Convert, typename Format>
void check_round_trip(const Quantity& q, Convert convert, Format format) {
  std::int64_t value = 0;
  try {
    value = convert(q);
  } catch (const Error&) {
    return; // out of int64 or fractional: reported, not wrapped
  }
  const auto again = try_parse(format(value));
  require(again.has_value() && convert(*again) == value);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto q = try_parse(text);
  if (!q) {
    return 0;
  }

  // "-x" is the exact negation of an unsigned "x".
  if (!text.empty() && text[0] != '-' && text[0] != '+') {
    const auto negated = try_parse("-" + std::string(text));
    require(negated.has_value() && negated->nanos() == -q->nanos());
  }
  check_round_trip(
      *q, [](const Quantity& x) { return x.milli_ceil(); },
      lrb::core::format_milli);
  check_round_trip(
      *q, [](const Quantity& x) { return x.units_ceil(); },
      lrb::core::format_bytes);
  check_round_trip(
      *q, [](const Quantity& x) { return x.units_exact(); },
      lrb::core::format_count);
  return 0;
}
