#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/quantity.h"

namespace lrb::core {

namespace {

__extension__ typedef unsigned __int128 Uint128;

constexpr Int128 k_nano = 1;
constexpr Int128 k_micro = 1000 * k_nano;
constexpr Int128 k_milli = 1000 * k_micro;
constexpr Int128 k_unit = 1000 * k_milli;
constexpr Int128 k_int128_max =
    static_cast<Int128>(~static_cast<Uint128>(0) >> 1);
constexpr std::int64_t k_i64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t k_i64_min = std::numeric_limits<std::int64_t>::min();

// Returns 10^n as a 128-bit integer.
constexpr Int128 pow10(int n) {
  return n == 0 ? 1 : 10 * pow10(n - 1);
}

// Returns a 128-bit value in decimal, for failure messages.
std::string to_string(Int128 value) {
  if (value == 0) {
    return "0";
  }
  const bool negative = value < 0;
  auto magnitude =
      negative ? -static_cast<Uint128>(value) : static_cast<Uint128>(value);
  std::string out;
  for (; magnitude > 0; magnitude /= 10) {
    out.insert(out.begin(), static_cast<char>('0' + magnitude % 10));
  }
  return negative ? "-" + out : out;
}

// Returns the Error that parsing `text` throws; fails the test if none.
Error parse_error(const std::string& text) {
  try {
    Quantity::parse(text);
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error for \"" << text << "\"");
  return Error(Code::internal, "unreachable");
}

} // namespace

TEST_CASE("quantities parse to exact nano-units") {
  struct Row {
    std::string text;
    Int128 nanos;
  };
  const Row rows[] = {
      {"0", 0},
      {"-0", 0},
      {"1", k_unit},
      {"+1", k_unit},
      {"-1", -k_unit},
      {"1.", k_unit},                   // "<digits>." is a number
      {".5", 5 * k_unit / 10},          // ".<digits>" too
      {"1.5", 15 * k_unit / 10},        // 1.5 × 10^9
      {"00012", 12 * k_unit},           // leading zeros are ignored
      {"1.250000", 125 * k_unit / 100}, // trailing zeros too
      {"250m", 250 * k_milli},
      {"0.1m", 100 * k_micro}, // 0.1 × 10^6 nanos
      {"1n", k_nano},
      {"1u", k_micro},
      {"1k", 1000 * k_unit},
      {"1M", pow10(6) * k_unit},
      {"1G", pow10(9) * k_unit},
      {"1T", pow10(12) * k_unit},
      {"1P", pow10(15) * k_unit},
      {"1E", pow10(18) * k_unit}, // "E" alone is exa
      {"1Ki", 1024 * k_unit},
      {"1Mi", (Int128{1} << 20) * k_unit},
      {"1Gi", (Int128{1} << 30) * k_unit},
      {"1Ti", (Int128{1} << 40) * k_unit},
      {"1Pi", (Int128{1} << 50) * k_unit},
      {"1Ei", (Int128{1} << 60) * k_unit},
      {"0.5Gi", 536870912 * k_unit},      // 2^30 / 2
      {"12.34Mi", 12939427840 * k_milli}, // 12.34 × 1048576 = 12939427.84
      {"1e3", 1000 * k_unit},
      {"1E3", 1000 * k_unit}, // "E" followed by digits: exponent
      {"1e+3", 1000 * k_unit},
      {"5e-3", 5 * k_milli},
      {"1.5e3", 1500 * k_unit},
      {"-2.5e-1", -25 * k_unit / 100},
      {"1e0", k_unit},
      {"0e999999999999", 0}, // zero stays zero at any scale
      // Sub-nano values round the magnitude up (away from zero).
      {"0.1n", 1},
      {"-0.1n", -1},
      {"1.0000000001", k_unit + 1}, // 1 + 10^-10: one nano more
      {"1e-999999999999", 1},       // tiny but positive: one nano
      // 10^-12 × 2^60 = 1152921.504606846976 units
      //              = 1152921504606846.976 nanos, rounded up.
      {"0.000000000001Ei", Int128{1152921504606847}},
      // The largest 128-bit value, written in nanos, and its negation.
      {"170141183460469231731687303715884105727n", k_int128_max},
      {"-170141183460469231731687303715884105727n", -k_int128_max},
      {"1e29", pow10(38)}, // 10^29 × 10^9 nanos fits
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    const Int128 nanos = Quantity::parse(row.text).nanos();
    CHECK_MESSAGE(nanos == row.nanos, to_string(nanos)
                                          << " != " << to_string(row.nanos));
  }
}

TEST_CASE("long texts parse exactly") {
  const std::string zeros(1000000, '0');
  // The 1 sits 1000001 places after the point:
  // 10^-1000001 × 10^1000002 = 10 units
  CHECK(Quantity::parse("0." + zeros + "1e1000002").nanos() == 10 * k_unit);
  // 10^1000000 × 10^-1000000 = 1 unit
  CHECK(Quantity::parse("1" + zeros + "e-1000000").nanos() == k_unit);
  // 10^-1000001 × 2^60 is still below a nano-unit: rounds up to 1
  CHECK(Quantity::parse("0." + zeros + "1Ei").nanos() == 1);
  // Leading zeros do not count toward the size.
  CHECK(Quantity::parse(zeros + "1.5k").nanos() == 1500 * k_unit);
}

TEST_CASE("malformed quantities are errors naming the text") {
  const std::string
      rows[] =
          {
              "",      " ",    "1 Gi", " 1",       "1 ",    "1\n",   "4x",
              "1.2.3", "--1",  "+-1",  "-+1",      "+",     "-",     ".",
              "-.",    "1e",   "1E+",  "1e-",      "1e1.5", "1e3Ki", "1Gi3",
              "Ki",    "m",    "e3",   "1K",       "1ki",   "1KI",   "1mi",
              "1Kib",  "1GiB", "1kk",  "0x10",     "1_000", "1,5",   "inf",
              "NaN",   "1e 3", "1i",   "\xd9\xa1", // an Arabic-Indic digit one
          };
  for (const auto& text : rows) {
    CAPTURE(text);
    const Error e = parse_error(text);
    CHECK(e.code() == Code::invalid_argument);
    CHECK(e.reason() == "InvalidQuantity");
    CHECK(std::string(e.what()).find("invalid quantity") != std::string::npos);
  }
  CHECK(std::string(parse_error("4x").what()).find("\"4x\"") !=
        std::string::npos);
  CHECK(std::string(parse_error("1K").what()).find("suffix \"K\"") !=
        std::string::npos);
}

TEST_CASE("quantities past 128 bits of nano-units are errors") {
  const std::string rows[] = {
      "9999999999999E", // 9.999999999999 × 10^30 units = ~10^40 nanos
      "1e30",           // 10^39 nanos > 1.7 × 10^38
      "1e1000000000",   // exponent clamped, still far too large
      "170141183460469231731687303715884105728n", // 2^127 nanos
      "-170141183460469231731687303715884105728n",
      "170141183460469231731687303715884105727.1n", // max, rounded up
      "200000000000000000000Ei",                    // 2 × 10^20 × 2^60 units
  };
  for (const auto& text : rows) {
    CAPTURE(text);
    const Error e = parse_error(text);
    CHECK(e.reason() == "InvalidQuantity");
    CHECK(std::string(e.what()).find("too large") != std::string::npos);
  }
}

TEST_CASE("conversions to canonical units round the magnitude up") {
  struct Row {
    std::string text;
    std::optional<std::int64_t> milli; // nullopt: past int64
    std::int64_t units;
  };
  const Row rows[] = {
      {"0", 0, 0},
      {"0.1m", 1, 1},         // 0.1 millicore -> 1m; 0.0001 unit -> 1
      {"1n", 1, 1},           // the smallest value still rounds up
      {"1.5", 1500, 2},       // 1.5 -> 1500m; 1.5 units -> 2
      {"1e3", 1000000, 1000}, // 1000 units = 10^6 milli
      {"250m", 250, 1},
      {"1Ki", 1024000, 1024},                     // 1024 units
      {"0.5Gi", 536870912000, 536870912},         // 2^29 units
      {"1E", std::nullopt, 1000000000000000000},  // 10^21 milli
      {"1Ei", std::nullopt, 1152921504606846976}, // 2^60 units
      {"-0.1m", -1, -1}, // away from zero, as Kubernetes does
      {"-1.5", -1500, -2},
      {"9223372036854775807", std::nullopt, k_i64_max},
      {"9223372036854775.807", k_i64_max, 9223372036854776},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    const Quantity q = Quantity::parse(row.text);
    if (row.milli) {
      CHECK(q.milli_ceil() == *row.milli);
    } else {
      CHECK_THROWS_AS(q.milli_ceil(), Error);
    }
    CHECK(q.units_ceil() == row.units);
  }
}

TEST_CASE("canonical conversions report int64 overflow") {
  const std::string rows[] = {
      "9223372036854775808",   // INT64_MAX + 1
      "9223372036854775807.1", // rounds up past INT64_MAX
      "8Ei",                   // 2^63
      "-9223372036854775809",  // INT64_MIN - 1
      "1e19",
  };
  for (const auto& text : rows) {
    CAPTURE(text);
    const Quantity q = Quantity::parse(text);
    CHECK_THROWS_AS(q.units_ceil(), Error);
    CHECK_THROWS_AS(q.units_exact(), Error);
    CHECK_THROWS_AS(q.milli_ceil(), Error);
  }
  CHECK(Quantity::parse("-8Ei").units_ceil() == k_i64_min); // -2^63 fits
}

TEST_CASE("whole counts must have no fraction") {
  struct Row {
    std::string text;
    std::int64_t units;
  };
  const Row good[] = {
      {"3", 3},   {"1e3", 1000}, {"1k", 1000},  {"2000m", 2}, // 2000m = 2
      {"1.0", 1}, {"-4", -4},    {"1Ki", 1024},
  };
  for (const auto& row : good) {
    CAPTURE(row.text);
    CHECK(Quantity::parse(row.text).units_exact() == row.units);
  }
  for (const std::string text : {"0.5", "1m", "1n", "1.000000001", "5e-1"}) {
    CAPTURE(text);
    try {
      Quantity::parse(text).units_exact();
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Code::invalid_argument);
      CHECK(std::string(e.what()).find("whole number") != std::string::npos);
    }
  }
}

TEST_CASE("from_milli makes the quantity format_milli writes") {
  for (std::int64_t milli :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{1500},
        std::int64_t{-250}, k_i64_max, k_i64_min}) {
    CAPTURE(milli);
    const Quantity q = Quantity::from_milli(milli);
    CHECK(q.nanos() == Int128{milli} * k_milli);
    CHECK(Quantity::parse(format_milli(milli)).nanos() == q.nanos());
  }
}

TEST_CASE("formatting writes canonical text") {
  struct Row {
    std::int64_t value;
    std::string text;
  };
  const Row milli[] = {
      {0, "0"},
      {4000, "4"},
      {500, "500m"},
      {1500, "1500m"},
      {-500, "-500m"},
      {-2000, "-2"},
      {1, "1m"},
      {k_i64_max, "9223372036854775807m"},
      {k_i64_min, "-9223372036854775808m"}, // -...808 % 1000 != 0
  };
  for (const auto& row : milli) {
    CHECK(format_milli(row.value) == row.text);
  }
  const Row bytes[] = {
      {0, "0"},
      {1000, "1000"}, // not a multiple of 1024
      {1024, "1Ki"},
      {1536, "1536"},               // 1.5Ki: no binary suffix divides
      {1610612736, "1536Mi"},       // 1.5Gi = 1536 × 2^20
      {8589934592, "8Gi"},          // 8 × 2^30
      {1152921504606846976, "1Ei"}, // 2^60
      {-1024, "-1Ki"},
      {k_i64_min, "-8Ei"}, // -2^63 = -8 × 2^60
      {k_i64_max, "9223372036854775807"},
  };
  for (const auto& row : bytes) {
    CHECK(format_bytes(row.value) == row.text);
  }
  CHECK(format_count(0) == "0");
  CHECK(format_count(3) == "3");
  CHECK(format_count(-7) == "-7");
}

TEST_CASE("formatted values re-parse to the same value") {
  // Values of every magnitude: a random bit length, then random bits.
  std::mt19937_64 rng(20261204);
  for (int i = 0; i < 20000; ++i) {
    const int bits = 1 + static_cast<int>(rng() % 63);
    auto value = static_cast<std::int64_t>(rng() >> (64 - bits));
    if (rng() % 2 == 1) {
      value = -value;
    }
    if (i % 3 == 0) {
      // Clear low bits to favour the binary suffixes.
      value = static_cast<std::int64_t>(static_cast<std::uint64_t>(value) &
                                        (~std::uint64_t{0} << (rng() % 40)));
    }
    CAPTURE(value);
    CHECK(Quantity::parse(format_milli(value)).milli_ceil() == value);
    CHECK(Quantity::parse(format_bytes(value)).units_ceil() == value);
    CHECK(Quantity::parse(format_count(value)).units_exact() == value);
  }
}

TEST_CASE("the same value written differently parses the same") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 5000; ++i) {
    const std::int64_t n = static_cast<std::int64_t>(rng() % 1000000000);
    const std::string s = std::to_string(n);
    CAPTURE(s);
    const Int128 nanos = Quantity::parse(s).nanos();
    CHECK(nanos == Int128{n} * k_unit);
    // n k = n e3 = n000 = n000000m
    CHECK(Quantity::parse(s + "k").nanos() == nanos * 1000);
    CHECK(Quantity::parse(s + "e3").nanos() == nanos * 1000);
    CHECK(Quantity::parse(s + "000").nanos() == nanos * 1000);
    CHECK(Quantity::parse(s + "m").nanos() == nanos / 1000);
    // n Ki = n × 1024; n Mi = n × 2^20
    CHECK(Quantity::parse(s + "Ki").nanos() == nanos * 1024);
    CHECK(Quantity::parse(std::to_string(n * 1024) + "Mi").nanos() ==
          nanos * 1024 * 1048576);
    // n = n × 10 × 10^-1 = "<n>0e-1"
    CHECK(Quantity::parse(s + "0e-1").nanos() == nanos);
    // -n is the exact negation
    CHECK(Quantity::parse("-" + s).nanos() == -nanos);
  }
}

TEST_CASE("sums of many small quantities stay exact") {
  // 10,000 × 0.1m = 1000m exactly; in double, 0.0001 summed 10,000 times
  // is not exactly 1.
  Int128 sum = 0;
  const Quantity tenth_milli = Quantity::parse("0.1m");
  for (int i = 0; i < 10000; ++i) {
    sum += tenth_milli.nanos();
  }
  CHECK(sum == k_unit);

  // 10,000 × 1n = 10 µ-units = 0.01m, which rounds up to 1m only once.
  Int128 nanos = 0;
  for (int i = 0; i < 10000; ++i) {
    nanos += Quantity::parse("1n").nanos();
  }
  CHECK(nanos == 10 * k_micro);

  // 0.3m + 0.7m + 0.25m, 10,000 times: 1.25m × 10^4 = 12500m.
  Int128 mixed = 0;
  for (int i = 0; i < 10000; ++i) {
    for (const char* text : {"0.3m", "0.7m", "0.25m"}) {
      mixed += Quantity::parse(text).nanos();
    }
  }
  CHECK(mixed == 12500 * k_milli);
}

} // namespace lrb::core
