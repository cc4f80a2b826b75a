#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "core/duration.h"
#include "core/error.h"

namespace lrb::core {

namespace {

constexpr std::int64_t k_second = 1000;
constexpr std::int64_t k_minute = 60 * k_second;
constexpr std::int64_t k_hour = 60 * k_minute;
constexpr std::int64_t k_i64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t k_i64_min = std::numeric_limits<std::int64_t>::min();

// Returns the Error parsing `text` throws; fails the test if none.
Error duration_error(const std::string& text, bool allow_zero = false,
                     bool allow_negative = false) {
  try {
    parse_duration_ms(text, "duration", allow_zero, allow_negative);
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error for \"" << text << "\"");
  return Error(Code::internal, "unreachable");
}

} // namespace

TEST_CASE("Go durations parse to milliseconds") {
  struct Row {
    std::string text;
    std::int64_t ms;
  };
  const Row rows[] = {
      {"90s", 90 * k_second},
      {"30m", 30 * k_minute},
      {"1h30m", k_hour + 30 * k_minute}, // 5400000
      {"1.5h", k_hour + 30 * k_minute},  // the same, as a fraction
      {"1.1h", 3960000},                 // 1.1 × 3600000, exact
      {"250ms", 250},
      {"+5s", 5 * k_second},
      {".5s", 500},      // ".<digits>" is a number
      {"1.s", k_second}, // "<digits>." too
      {"1h1m1s1ms", k_hour + k_minute + k_second + 1}, // 3661001
      {"1h1h", 2 * k_hour},                            // Go allows a unit twice
      {"1m90s", k_minute + 90 * k_second},             // and a term past 60
      {"0.5ms0.5ms", 1},                               // 0.5 + 0.5 = 1
      {"000012s", 12 * k_second},
      {"1000000ns", 1}, // 10^6 ns = 1 ms
      {"1000us", 1},
      {"1000\u00b5s", 1}, // micro sign
      {"1000\u03bcs", 1}, // Greek mu
      // Finer than a millisecond rounds up.
      {"1ns", 1},
      {"1us", 1},
      {"1000001ns", 2},                          // 1.000001 ms
      {"1500us", 2},                             // 1.5 ms
      {"0.0001s", 1},                            // 0.1 ms
      {"1.0000000000000000000001h", k_hour + 1}, // 1h + 3.6e-16 ms
      // Fractions add exactly: 999999 + 0.6 + 0.6 ns = 1000000.2 ns.
      {"999999ns.6ns.6ns", 2},
      {"999999ns.5ns.5ns", 1}, // 1000000 ns exactly
      // The largest int64 of milliseconds, as format_duration writes it.
      {"2562047788015h12m55.807s", k_i64_max},
      {"9223372036854775807ms", k_i64_max},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    CHECK(parse_duration_ms(row.text, "duration") == row.ms);
  }
}

TEST_CASE("long inputs parse exactly") {
  const std::string tiny = "0." + std::string(20000, '0') + "1ns";
  std::string many_terms = tiny;
  for (int i = 0; i < 10000; ++i) {
    many_terms += "1ns";
  }
  // 10^-20001 ns + 10000 ns = 0.01 ms and a bit: rounds up to 1.
  CHECK(parse_duration_ms(many_terms, "d") == 1);
  // 1 ms and a tiny fraction of a nanosecond: rounds up to 2.
  CHECK(parse_duration_ms("1ms" + tiny, "d") == 2);
  // 999999 ns and the tiny fraction stays below 1 ms.
  CHECK(parse_duration_ms("999999ns" + tiny, "d") == 1);
  // Leading zeros do not count toward the size: 10^-1 h = 360000 ms.
  CHECK(parse_duration_ms(std::string(20000, '0') + ".1h", "d") == 360000);
}

TEST_CASE("malformed durations are errors naming the field") {
  const std::string rows[] = {
      "90", // a bare number
      "0",  // even zero: Go accepts it, the contract does not
      "1d", // no days in Go's syntax
      "",
      "h",
      "-",
      "+",
      "1h-30m",
      "1h+30m",
      "--1h",
      "1.5.5h",
      "1 h",
      " 1h",
      "1h ",
      "1H",
      "1hr",
      "1sec",
      "1S",
      "1Ms",
      ".s",
      "1h30",
      "1e3s",
      "1h\n",
      "1\xc2s",
      "inf",
      "1_000s",
      "1,5s",
      "9223372036854775808ms",     // INT64_MAX + 1
      "2562047788015h12m55.8071s", // just past INT64_MAX, rounded up
      "99999999999999999999999999999999h",
      "9223372036854775807ms1ns",
  };
  for (const auto& text : rows) {
    CAPTURE(text);
    const Error e = duration_error(text, true, true);
    CHECK(e.code() == Code::invalid_argument);
    CHECK(e.reason() == "InvalidDuration");
    CHECK(e.field() == "duration");
    CHECK(std::string(e.what()).starts_with("duration: invalid duration"));
  }
  CHECK(std::string(duration_error("1d").what()).find("unit \"d\"") !=
        std::string::npos);
}

TEST_CASE("zero and negative durations are errors unless allowed") {
  struct Row {
    std::string text;
    bool allow_zero;
    bool allow_negative;
    std::optional<std::int64_t> ms; // nullopt: an error
  };
  const Row rows[] = {
      {"0s", false, false, std::nullopt},
      {"0s", true, false, 0},
      {"0h0m0s", true, false, 0},
      {"-0s", true, false, 0}, // -0 is zero, not negative
      {"0.0ns", true, false, 0},
      {"-1h", false, false, std::nullopt},
      {"-1h", true, false, std::nullopt}, // zero allowed, not negative
      {"-1h", false, true, -k_hour},
      {"-1h30m", false, true, -5400000},  // -(3600000 + 1800000)
      {"-1ns", false, true, -1},          // the magnitude rounds up
      {"-0s", false, true, std::nullopt}, // negative allowed, zero not
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    CAPTURE(row.allow_zero);
    CAPTURE(row.allow_negative);
    if (row.ms) {
      CHECK(parse_duration_ms(row.text, "ttl", row.allow_zero,
                              row.allow_negative) == *row.ms);
    } else {
      CHECK_THROWS_AS(parse_duration_ms(row.text, "ttl", row.allow_zero,
                                        row.allow_negative),
                      Error);
    }
  }
  CHECK(std::string(duration_error("-1h").what()).find("negative") !=
        std::string::npos);
  CHECK(std::string(duration_error("0s").what()).find("zero") !=
        std::string::npos);
}

TEST_CASE("an error without a field does not prefix the message") {
  try {
    parse_duration_ms("1d", "");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.field().empty());
    CHECK(std::string(e.what()).starts_with("invalid duration \"1d\""));
  }
}

TEST_CASE("durations format like Go without zero units") {
  struct Row {
    std::int64_t ms;
    std::string text;
  };
  const Row rows[] = {
      {0, "0s"},
      {1, "1ms"},
      {500, "500ms"},
      {999, "999ms"},
      {1000, "1s"},
      {1500, "1.5s"},
      {1050, "1.05s"}, // 1 s + 50 ms
      {1001, "1.001s"},
      {90000, "1m30s"}, // 60000 + 30000
      {60000, "1m"},
      {60500, "1m0.5s"},
      {3600000, "1h"},
      {5400000, "1h30m"}, // 3600000 + 1800000
      {3601000, "1h1s"},  // Go: "1h0m1s"
      {3600001, "1h0.001s"},
      {86400000, "24h"}, // no days, as in Go
      {-1500, "-1.5s"},
      {-1, "-1ms"},
      {k_i64_max, "2562047788015h12m55.807s"},
      {k_i64_min, "-2562047788015h12m55.808s"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.ms);
    CHECK(format_duration(row.ms) == row.text);
  }
}

TEST_CASE("formatted durations re-parse to the same value") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    // A random bit length so that ms, s, m and h forms all occur.
    const int bits = 1 + static_cast<int>(rng() % 63);
    auto ms = static_cast<std::int64_t>(rng() >> (64 - bits));
    if (rng() % 4 == 0) {
      ms = -ms;
    }
    CAPTURE(ms);
    CHECK(parse_duration_ms(format_duration(ms), "d", true, true) == ms);
  }
  CHECK(parse_duration_ms(format_duration(k_i64_min), "d", true, true) ==
        k_i64_min);
}

} // namespace lrb::core
