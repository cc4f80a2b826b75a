// libFuzzer harness for the Go-duration parser. Beyond not crashing, it
// checks that a parse either succeeds or throws lrb's Error, that the
// flags only ever narrow what is accepted, and that every accepted value
// formats to text that re-parses to the same milliseconds.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -Isrc \
//     fuzz/duration_fuzz.cpp src/core/duration.cpp src/core/quoting.cpp \
//     src/core/error.cpp -DFMT_HEADER_ONLY -o duration_fuzz
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "core/duration.h"
#include "core/error.h"

namespace {

// Parses `text`, returning nullopt when it is rejected with an Error.
std::optional<std::int64_t> try_parse(std::string_view text, bool allow_zero,
                                      bool allow_negative) {
  try {
    return lrb::core::parse_duration_ms(text, "fuzz", allow_zero,
                                        allow_negative);
  } catch (const lrb::core::Error&) {
    return std::nullopt;
  }
}

// Aborts unless `check` holds; libFuzzer then saves the input.
void require(bool check) {
  if (!check) {
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto loose = try_parse(text, true, true);
  const auto strict = try_parse(text, false, false);
  if (!loose) {
    require(!strict.has_value());
    return 0;
  }
  // The strict parse agrees whenever the value is positive.
  require(strict.has_value() == (*loose > 0));
  require(!strict || *strict == *loose);

  const auto again = try_parse(lrb::core::format_duration(*loose), true, true);
  require(again.has_value() && *again == *loose);
  return 0;
}
