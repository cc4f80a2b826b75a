// Durations in Go's syntax, held as whole milliseconds. Go's own parser
// sums float64 fractions into int64 nanoseconds; lrb instead turns every
// "<number><unit>" term into an exact decimal number of milliseconds
// (whole part plus fraction digits) and adds the terms exactly, so
// "1.1h" is 3960000 ms and a stray nanosecond still rounds the magnitude
// up to the next millisecond. The range is that of int64 milliseconds
// rather than Go's int64 nanoseconds, so that everything format_duration
// writes re-parses. Go accepts "0" without a unit; the contract forbids
// bare numbers, so lrb does not.

#include "core/duration.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/quoting.h"

namespace lrb::core {

namespace {

__extension__ typedef __int128 Int128;

constexpr std::int64_t k_ms_per_second = 1000;
constexpr std::int64_t k_ms_per_minute = 60 * k_ms_per_second;
constexpr std::int64_t k_ms_per_hour = 60 * k_ms_per_minute;

// A unit's length in milliseconds is multiplier × 10^shift.
struct Unit {
  std::string_view name;
  int multiplier;
  int shift;
};

constexpr Unit k_units[] = {
    {"ns", 1, -6},      // 10^-6 ms
    {"us", 1, -3},      // 10^-3 ms
    {"\u00b5s", 1, -3}, // micro sign
    {"\u03bcs", 1, -3}, // Greek small letter mu
    {"ms", 1, 0},       // 1 ms
    {"s", 1, 3},        // 1000 ms
    {"m", 6, 4},        // 60000 ms
    {"h", 36, 5},       // 3600000 ms
};

// An exact non-negative number of milliseconds.
struct Millis {
  Int128 whole = 0;
  std::vector<std::uint8_t> fraction; // digits after the decimal point
};

// The text being parsed, where it came from and the largest magnitude
// it may have (one more when negative, so that INT64_MIN parses).
struct Source {
  std::string_view text;
  std::string_view field;
  Int128 limit = INT64_MAX;
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

[[noreturn]] void fail(const Source& src, std::string_view why) {
  std::string message = fmt::format(
      "invalid duration {}: {}; use Go syntax such as 90s, 30m or 1h30m "
      "(units ns, us, ms, s, m, h)",
      quote_input(src.text), why);
  if (!src.field.empty()) {
    message = fmt::format("{}: {}", src.field, message);
  }
  throw Error(Code::invalid_argument, std::move(message),
              std::string(src.field), "InvalidDuration");
}

// Multiplies a big-endian digit string by a small factor.
void multiply(std::vector<std::uint8_t>& digits, int factor,
              std::int64_t& point) {
  int carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    const int product = *it * factor + carry;
    *it = static_cast<std::uint8_t>(product % 10);
    carry = product / 10;
  }
  for (; carry > 0; carry /= 10, ++point) {
    digits.insert(digits.begin(), static_cast<std::uint8_t>(carry % 10));
  }
}

// Adds a whole number of milliseconds, failing past int64.
void add_whole(const Source& src, Millis& total, Int128 whole) {
  total.whole += whole;
  if (total.whole > src.limit) {
    fail(src, "it is too long");
  }
}

// Adds fraction digits (after the point) to the total, carrying over.
// Only the term's own digits are visited, so that a long input costs
// linear time however its terms are arranged.
void add_fraction(const Source& src, Millis& total,
                  const std::vector<std::uint8_t>& fraction) {
  auto& mine = total.fraction;
  if (mine.size() < fraction.size()) {
    mine.resize(fraction.size(), 0);
  }
  int carry = 0;
  for (std::size_t i = fraction.size(); i-- > 0;) {
    const int sum = mine[i] + fraction[i] + carry;
    mine[i] = static_cast<std::uint8_t>(sum % 10);
    carry = sum / 10;
  }
  add_whole(src, total, carry);
}

// Adds `digits` (a number whose point sits after `point` digits) times
// `unit` to the total.
void add_term(const Source& src, Millis& total,
              std::vector<std::uint8_t> digits, std::int64_t point,
              const Unit& unit) {
  point += unit.shift;
  multiply(digits, unit.multiplier, point);

  Int128 whole = 0;
  std::vector<std::uint8_t> fraction;
  const auto size = static_cast<std::int64_t>(digits.size());
  for (std::int64_t i = std::min<std::int64_t>(point, 0); i < size; ++i) {
    const int digit = i < 0 ? 0 : digits[i];
    if (i >= point) {
      fraction.push_back(static_cast<std::uint8_t>(digit));
    } else if ((whole = whole * 10 + digit) > src.limit) {
      fail(src, "it is too long");
    }
  }
  for (std::int64_t i = size; i < point; ++i) {
    if ((whole = whole * 10) > src.limit) {
      fail(src, "it is too long");
    }
  }
  add_whole(src, total, whole);
  add_fraction(src, total, fraction);
}

// Reads "<digits>[.<digits>]" at `pos` into digits (leading zeros
// dropped) and the count of digits before the point.
std::vector<std::uint8_t> read_number(const Source& src, std::size_t& pos,
                                      std::int64_t& point) {
  const std::string_view text = src.text;
  std::vector<std::uint8_t> digits;
  std::size_t count = 0;
  for (; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
    if (!digits.empty() || text[pos] != '0') {
      digits.push_back(static_cast<std::uint8_t>(text[pos] - '0'));
    }
  }
  point = static_cast<std::int64_t>(digits.size());
  if (pos < text.size() && text[pos] == '.') {
    for (++pos; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
      digits.push_back(static_cast<std::uint8_t>(text[pos] - '0'));
    }
  }
  if (count == 0) {
    fail(src, "expected a number");
  }
  return digits;
}

// Reads the unit at `pos`: every byte up to the next digit or point.
const Unit& read_unit(const Source& src, std::size_t& pos) {
  const std::size_t start = pos;
  while (pos < src.text.size() && !is_digit(src.text[pos]) &&
         src.text[pos] != '.') {
    ++pos;
  }
  const std::string_view name = src.text.substr(start, pos - start);
  if (name.empty()) {
    fail(src, "a number is missing its unit");
  }
  for (const auto& unit : k_units) {
    if (unit.name == name) {
      return unit;
    }
  }
  fail(src, fmt::format("unknown unit {}", quote_input(name)));
}

// Returns whether any digit is nonzero.
bool any_nonzero(const std::vector<std::uint8_t>& digits) {
  return std::any_of(digits.begin(), digits.end(),
                     [](std::uint8_t d) { return d != 0; });
}

// Returns the magnitude of the terms starting at `pos`, rounded up.
Int128 read_terms(const Source& src, std::size_t pos) {
  Millis total;
  while (pos < src.text.size()) {
    std::int64_t point = 0;
    auto digits = read_number(src, pos, point);
    const Unit& unit = read_unit(src, pos);
    add_term(src, total, std::move(digits), point, unit);
  }
  if (any_nonzero(total.fraction)) {
    add_whole(src, total, 1);
  }
  return total.whole;
}

} // namespace

std::int64_t parse_duration_ms(std::string_view text, std::string_view field,
                               bool allow_zero, bool allow_negative) {
  Source src{text, field};
  std::size_t pos = 0;
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    src.limit += negative ? 1 : 0;
    ++pos;
  }
  if (pos == text.size()) {
    fail(src, pos == 0 ? "it is empty" : "expected a number after the sign");
  }

  const Int128 magnitude = read_terms(src, pos);
  if (magnitude == 0 && !allow_zero) {
    fail(src, "it must be longer than zero");
  }
  if (negative && magnitude != 0 && !allow_negative) {
    fail(src, "it must not be negative");
  }
  return static_cast<std::int64_t>(negative ? -magnitude : magnitude);
}

std::string format_duration(std::int64_t ms) {
  if (ms == 0) {
    return "0s";
  }
  // Work on the magnitude as unsigned so that INT64_MIN has one too.
  const bool negative = ms < 0;
  std::uint64_t rest = negative ? 0 - static_cast<std::uint64_t>(ms)
                                : static_cast<std::uint64_t>(ms);
  std::string out = negative ? "-" : "";
  if (rest < k_ms_per_second) {
    return out + std::to_string(rest) + "ms";
  }

  if (const auto hours = rest / k_ms_per_hour; hours > 0) {
    out += std::to_string(hours) + "h";
  }
  if (const auto minutes = rest % k_ms_per_hour / k_ms_per_minute;
      minutes > 0) {
    out += std::to_string(minutes) + "m";
  }
  rest %= k_ms_per_minute;
  if (rest > 0) {
    std::string seconds =
        fmt::format("{}.{:03}", rest / k_ms_per_second, rest % k_ms_per_second);
    seconds.erase(seconds.find_last_not_of('0') + 1);
    if (seconds.back() == '.') {
      seconds.pop_back();
    }
    out += seconds + "s";
  }
  return out;
}

} // namespace lrb::core
