#include "core/clock.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "core/error.h"

namespace lrb::core {

namespace {

class RealClock : public Clock {
public:
  WallMs wall_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
        .count();
  }
  MonoMs mono_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
        .count();
  }
};

// Days since 1970-01-01 for a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

[[noreturn]] void bad_time(std::string_view text, std::string_view field) {
  throw Error(Code::invalid_argument,
              fmt::format("invalid timestamp \"{}\": use RFC 3339, such as "
                          "2026-12-04T15:00:00Z",
                          text),
              std::string(field), "InvalidTimestamp");
}

// Reads exactly `n` digits at `pos`, advancing it.
int read_digits(std::string_view s, size_t& pos, size_t n,
                std::string_view field) {
  if (pos + n > s.size()) {
    bad_time(s, field);
  }
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') {
      bad_time(s, field);
    }
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

void expect_char(std::string_view s, size_t& pos, char want,
                 std::string_view field) {
  if (pos >= s.size() || (s[pos] != want && !(want == 'T' && s[pos] == 't'))) {
    bad_time(s, field);
  }
  ++pos;
}

} // namespace

const Clock& system_clock() {
  static const RealClock k_clock;
  return k_clock;
}

std::string format_rfc3339(WallMs t) {
  std::time_t secs =
      static_cast<std::time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
  int ms = static_cast<int>(t - static_cast<WallMs>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  auto base =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (ms == 0) {
    return base + "Z";
  }
  return fmt::format("{}.{:03}Z", base, ms);
}

WallMs parse_rfc3339(std::string_view s, std::string_view field) {
  size_t pos = 0;
  int year = read_digits(s, pos, 4, field);
  expect_char(s, pos, '-', field);
  int month = read_digits(s, pos, 2, field);
  expect_char(s, pos, '-', field);
  int day = read_digits(s, pos, 2, field);
  expect_char(s, pos, 'T', field);
  int hour = read_digits(s, pos, 2, field);
  expect_char(s, pos, ':', field);
  int minute = read_digits(s, pos, 2, field);
  expect_char(s, pos, ':', field);
  int second = read_digits(s, pos, 2, field);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    bad_time(s, field);
  }

  // Optional fraction: keep milliseconds, drop finer digits.
  int ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 3) {
        ms = ms * 10 + (s[pos] - '0');
      }
      ++pos;
    }
    if (pos == start) {
      bad_time(s, field);
    }
    for (size_t i = pos - start; i < 3; ++i) {
      ms *= 10;
    }
  }

  // Zone: 'Z' or +hh:mm / -hh:mm.
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = read_digits(s, pos, 2, field);
    expect_char(s, pos, ':', field);
    int om = read_digits(s, pos, 2, field);
    offset_min = sign * (oh * 60 + om);
  } else {
    bad_time(s, field);
  }
  if (pos != s.size()) {
    bad_time(s, field);
  }

  std::int64_t days = days_from_civil(year, static_cast<unsigned>(month),
                                      static_cast<unsigned>(day));
  std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second -
                      static_cast<std::int64_t>(offset_min) * 60;
  return secs * 1000 + ms;
}

} // namespace lrb::core
