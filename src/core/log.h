// One logging facility for every module: a fixed lowercase message and
// key=value fields, one line per event, as text or JSON lines on stderr.
// Formatting is skipped entirely when the level is off, so debug lines on
// the decision path cost a comparison when not wanted. The sink is a
// function so that tests can capture lines; writes are serialized.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace lrb::core {

// Severity of a log line; lines below the configured level are dropped.
enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// How lines are written.
enum class LogFormat { text, json };

// One key=value pair of a log line; the value is already formatted.
struct LogField {
  std::string_view key;
  std::string value;
};

// Builds a field from any value fmt can format.
template <typename T>
LogField kv(std::string_view key, const T& value) {
  return LogField{key, fmt::format("{}", value)};
}

// Returns a field showing only the last four characters of a secret.
LogField kv_secret(std::string_view key, std::string_view secret);

// Sets the global level and format; thread-safe.
void set_log_level(LogLevel level);
void set_log_format(LogFormat format);

// Returns whether a line at `level` would be written.
bool log_enabled(LogLevel level);

// Parses "debug|info|warn|error|off"; throws Error naming `field`.
LogLevel parse_log_level(std::string_view text, std::string_view field);

// Replaces the sink (default: stderr); an empty function restores it.
void set_log_sink(std::function<void(std::string_view line)> sink);

// Writes one line (no-op when the level is off).
void log_line(LogLevel level, std::string_view message,
              std::initializer_list<LogField> fields);

} // namespace lrb::core

// Logs `msg` with key/value fields, formatting nothing when disabled:
//   LRB_LOG(info, "listening", kv("addr", addr));
#define LRB_LOG(level, msg, ...)                                               \
  do {                                                                         \
    if (::lrb::core::log_enabled(::lrb::core::LogLevel::level)) {              \
      using ::lrb::core::kv;                                                   \
      ::lrb::core::log_line(::lrb::core::LogLevel::level, msg, {__VA_ARGS__}); \
    }                                                                          \
  } while (0)
