#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace lrb::core {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::atomic<int> g_format{static_cast<int>(LogFormat::text)};
std::mutex g_mutex;
std::function<void(std::string_view)> g_sink;

constexpr std::string_view k_level_names[] = {"debug", "info", "warn", "error",
                                              "off"};

// Returns the current UTC time as RFC 3339 with milliseconds.
std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                now.time_since_epoch()) %
            1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, static_cast<int>(ms.count()));
}

// Quotes a text value when it holds spaces, quotes or '='.
std::string text_value(const std::string& value) {
  if (!value.empty() && value.find_first_of(" \"=\t\n") == std::string::npos) {
    return value;
  }
  return nlohmann::json(value).dump(-1, ' ', false,
                                    nlohmann::json::error_handler_t::replace);
}

std::string format_line(LogLevel level, std::string_view message,
                        std::initializer_list<LogField> fields) {
  auto level_name = k_level_names[static_cast<int>(level)];
  if (g_format.load() == static_cast<int>(LogFormat::json)) {
    nlohmann::ordered_json line;
    line["ts"] = now_rfc3339();
    line["level"] = level_name;
    line["msg"] = message;
    for (const auto& f : fields) {
      line[std::string(f.key)] = f.value;
    }
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out = fmt::format("{} {} {}", now_rfc3339(), level_name, message);
  for (const auto& f : fields) {
    out += fmt::format(" {}={}", f.key, text_value(f.value));
  }
  return out;
}

} // namespace

LogField kv_secret(std::string_view key, std::string_view secret) {
  if (secret.size() <= 4) {
    return LogField{key, "****"};
  }
  return LogField{key, "…" + std::string(secret.substr(secret.size() - 4))};
}

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}

void set_log_format(LogFormat format) {
  g_format = static_cast<int>(format);
}

bool log_enabled(LogLevel level) {
  return level != LogLevel::off && static_cast<int>(level) >= g_level.load();
}

LogLevel parse_log_level(std::string_view text, std::string_view field) {
  for (int i = 0; i < 5; ++i) {
    if (text == k_level_names[i]) {
      return static_cast<LogLevel>(i);
    }
  }
  throw Error(Code::invalid_argument,
              fmt::format("unknown log level \"{}\": use debug, info, warn, "
                          "error or off",
                          text),
              std::string(field));
}

void set_log_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

void log_line(LogLevel level, std::string_view message,
              std::initializer_list<LogField> fields) {
  if (!log_enabled(level)) {
    return;
  }
  std::string line = format_line(level, message, fields);
  std::lock_guard lock(g_mutex);
  if (g_sink) {
    g_sink(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace lrb::core
