// Durations in Go's syntax ("90s", "30m", "1h30m", "1.5h", "250ms"),
// as kubectl and the original prototype used them. Held as whole
// milliseconds; finer units are accepted and rounded up.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lrb::core {

// Parses a Go duration into milliseconds. A bare number ("90"), days
// ("1d"), an empty text or garbage is an error naming `field`; a
// negative value is an error unless `allow_negative`; zero is an error
// unless `allow_zero`. Throws Error(invalid_argument, "InvalidDuration").
std::int64_t parse_duration_ms(std::string_view text, std::string_view field,
                               bool allow_zero = false,
                               bool allow_negative = false);

// Formats milliseconds the way Go prints a duration: "1h30m0s" is
// written "1h30m", "90000" ms as "1m30s", 1500 ms as "1.5s", 0 as "0s".
// The result re-parses to the same value.
std::string format_duration(std::int64_t ms);

} // namespace lrb::core
