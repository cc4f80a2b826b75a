// Kubernetes quantities, parsed exactly. The text is read into a decimal
// digit string with a power of ten and a power of two, and only then
// scaled to nano-units, so that no step ever rounds through a double or
// silently wraps: an over-long fraction or an extreme exponent is handled
// digit by digit, sub-nano remainders round the magnitude up (away from
// zero, as Kubernetes does), and a value past 128 bits is reported. The
// grammar is the one documented for Kubernetes quantities:
//   quantity ::= [+-] number suffix
//   number   ::= digits | digits "." digits | digits "." | "." digits
//   suffix   ::= "" | n u m k M G T P E | Ki Mi Gi Ti Pi Ei
//              | (e | E) [+-] digits
// Kubernetes' own parser is laxer than its grammar ("+" and "." alone are
// read as zero there); lrb follows the grammar and rejects them.

#include "core/quantity.h"

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

__extension__ typedef unsigned __int128 Uint128;

constexpr Int128 k_int128_max = static_cast<Int128>(~Uint128{0} >> 1);
constexpr Int128 k_nanos_per_milli = 1'000'000;
constexpr Int128 k_nanos_per_unit = 1'000'000'000;
// Nano-units are 10^-9 units.
constexpr std::int64_t k_nano_exponent = 9;
// Written exponents are clamped here: no text is long enough for its
// digits to bring a larger one back into range, so past it any nonzero
// value overflows and below its negation any value is one nano-unit.
constexpr std::int64_t k_exponent_clamp = 1'000'000'000'000'000;
// The most decimal digits a value below 2^127 can have.
constexpr std::int64_t k_max_int128_digits = 39;

// A number as written: digits × 10^exponent × 2^binary_power.
struct Decimal {
  bool negative = false;
  std::vector<std::uint8_t> digits; // big-endian, no leading zeros
  std::int64_t exponent = 0;
  int binary_power = 0;
};

struct Suffix {
  std::string_view text;
  int decimal_power;
  int binary_power;
};

// The suffixes of the grammar; the exponent form is handled apart.
constexpr Suffix k_suffixes[] = {
    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
    {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10},
    {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  throw Error(Code::invalid_argument,
              fmt::format("invalid quantity {}: {}; write a number with an "
                          "optional suffix, such as 500m, 2, 1.5Gi or 1e3",
                          quote_input(text), why),
              "", "InvalidQuantity");
}

// Appends one digit, dropping leading zeros.
void push_digit(Decimal& number, char c) {
  if (number.digits.empty() && c == '0') {
    return;
  }
  number.digits.push_back(static_cast<std::uint8_t>(c - '0'));
}

// Reads "<digits>[.<digits>]" at `pos`; at least one digit is required.
void read_mantissa(std::string_view text, std::size_t& pos, Decimal& number) {
  std::size_t count = 0;
  for (; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
    push_digit(number, text[pos]);
  }
  if (pos < text.size() && text[pos] == '.') {
    for (++pos; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
      push_digit(number, text[pos]);
      --number.exponent;
    }
  }
  if (count == 0) {
    fail(text, "expected digits");
  }
}

// Reads the signed integer after "e"/"E", clamped to k_exponent_clamp.
std::int64_t read_exponent(std::string_view text, std::string_view digits) {
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) {
    fail(text, "the exponent needs digits, as in 1e3 or 5e-3");
  }
  std::int64_t value = 0;
  for (char c : digits) {
    if (!is_digit(c)) {
      fail(text, "the exponent must be a whole number, as in 1e3 or 5e-3");
    }
    value = std::min(value * 10 + (c - '0'), k_exponent_clamp);
  }
  return negative ? -value : value;
}

// Applies the suffix (everything after the number) to `number`.
void apply_suffix(std::string_view text, std::string_view suffix,
                  Decimal& number) {
  if (suffix.empty()) {
    return;
  }
  for (const auto& known : k_suffixes) {
    if (suffix == known.text) {
      number.exponent += known.decimal_power;
      number.binary_power = known.binary_power;
      return;
    }
  }
  // "E" alone is exa (matched above); "E" or "e" with more is an exponent.
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    number.exponent += read_exponent(text, suffix.substr(1));
    return;
  }
  fail(text, fmt::format("unknown suffix {} (suffixes are case-sensitive: "
                         "n u m k M G T P E Ki Mi Gi Ti Pi Ei, or e<n>)",
                         quote_input(suffix)));
}

// Reads the whole text into a Decimal.
Decimal read_decimal(std::string_view text) {
  if (text.empty()) {
    fail(text, "it is empty");
  }
  if (text.find_first_of(" \t\n\r") != std::string_view::npos) {
    fail(text, "it must not contain spaces");
  }
  Decimal number;
  std::size_t pos = 0;
  if (text[0] == '+' || text[0] == '-') {
    number.negative = text[0] == '-';
    ++pos;
  }
  read_mantissa(text, pos, number);
  apply_suffix(text, text.substr(pos), number);
  return number;
}

// Multiplies the big-endian digit string by 2^power.
void multiply_by_power_of_two(std::vector<std::uint8_t>& digits, int power) {
  for (; power > 0; power -= 10) {
    const unsigned factor = 1U << (power >= 10 ? 10 : power);
    unsigned carry = 0;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
      unsigned product = *it * factor + carry;
      *it = static_cast<std::uint8_t>(product % 10);
      carry = product / 10;
    }
    for (; carry > 0; carry /= 10) {
      digits.insert(digits.begin(), static_cast<std::uint8_t>(carry % 10));
    }
  }
}

// Returns the integer written by the first `count` digits, zero-padded
// past the end; fails when it does not fit in 128 bits.
Int128 leading_digits(std::string_view text,
                      const std::vector<std::uint8_t>& digits,
                      std::int64_t count) {
  if (count > k_max_int128_digits) {
    fail(text, "it is too large");
  }
  const auto size = static_cast<std::int64_t>(digits.size());
  Int128 value = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    const int digit = i < size ? digits[i] : 0;
    if (value > (k_int128_max - digit) / 10) {
      fail(text, "it is too large");
    }
    value = value * 10 + digit;
  }
  return value;
}

// Returns the magnitude of `number` in nano-units, rounded up.
Int128 to_nanos(std::string_view text, Decimal& number) {
  if (number.digits.empty()) {
    return 0;
  }
  multiply_by_power_of_two(number.digits, number.binary_power);

  // The first `whole` digits are whole nano-units; any nonzero digit
  // after them is a fraction of one, which rounds up.
  const auto& digits = number.digits;
  const auto size = static_cast<std::int64_t>(digits.size());
  const std::int64_t whole =
      size + std::max(number.exponent + k_nano_exponent, -size);
  const Int128 value = leading_digits(text, digits, whole);
  const bool fraction =
      std::any_of(digits.begin() + std::min(whole, size), digits.end(),
                  [](std::uint8_t d) { return d != 0; });
  if (fraction && value == k_int128_max) {
    fail(text, "it is too large");
  }
  return fraction ? value + 1 : value;
}

// Divides by `unit`, rounding the magnitude up, and checks the int64 range.
std::int64_t scale_down(Int128 nanos, Int128 unit, std::string_view what) {
  Int128 quotient = nanos / unit;
  if (nanos % unit != 0) {
    quotient += nanos < 0 ? -1 : 1;
  }
  if (quotient > INT64_MAX || quotient < INT64_MIN) {
    throw Error(Code::invalid_argument,
                fmt::format("quantity is too large to hold in {}", what), "",
                "InvalidQuantity");
  }
  return static_cast<std::int64_t>(quotient);
}

} // namespace

Quantity Quantity::parse(std::string_view text) {
  Decimal number = read_decimal(text);
  const Int128 magnitude = to_nanos(text, number);
  return Quantity(number.negative ? -magnitude : magnitude);
}

Quantity Quantity::from_milli(std::int64_t milli) {
  return Quantity(static_cast<Int128>(milli) * k_nanos_per_milli);
}

std::int64_t Quantity::milli_ceil() const {
  return scale_down(nanos_, k_nanos_per_milli, "millicores");
}

std::int64_t Quantity::units_ceil() const {
  return scale_down(nanos_, k_nanos_per_unit, "whole units");
}

std::int64_t Quantity::units_exact() const {
  if (nanos_ % k_nanos_per_unit != 0) {
    throw Error(Code::invalid_argument,
                "quantity must be a whole number (such as 1 or 2), not a "
                "fraction",
                "", "InvalidQuantity");
  }
  return scale_down(nanos_, k_nanos_per_unit, "whole units");
}

std::string format_milli(std::int64_t milli) {
  if (milli % 1000 == 0) {
    return std::to_string(milli / 1000);
  }
  return std::to_string(milli) + "m";
}

std::string format_bytes(std::int64_t bytes) {
  static constexpr std::string_view k_binary[] = {"Ei", "Pi", "Ti",
                                                  "Gi", "Mi", "Ki"};
  if (bytes == 0) {
    return "0";
  }
  int shift = 60;
  for (auto suffix : k_binary) {
    const std::int64_t unit = std::int64_t{1} << shift;
    if (bytes % unit == 0) {
      return std::to_string(bytes / unit) + std::string(suffix);
    }
    shift -= 10;
  }
  return std::to_string(bytes);
}

std::string format_count(std::int64_t count) {
  return std::to_string(count);
}

} // namespace lrb::core
