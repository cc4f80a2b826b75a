#include "cli/config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/output.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

// Removes one pair of surrounding double quotes, so that values with
// leading blanks or '#' can be written.
std::string unquote(const std::string& value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

[[noreturn]] void bad_line(std::string_view path, int line,
                           const std::string& why) {
  throw Error(Code::invalid_argument,
              fmt::format("config file {} line {}: {}", path, line, why),
              "--config");
}

// Returns the first set, non-empty value among the candidates, tagged
// with where it came from (for messages naming the setting at fault).
struct Setting {
  std::string value;
  std::string source;
};

std::optional<std::string> env_value(const Environment& env,
                                     std::string_view name) {
  auto value = env(name);
  if (!value || value->empty()) {
    return std::nullopt;
  }
  return value;
}

// Picks flag, then environment variable, then config key.
Setting pick(const std::string& flag, std::string_view flag_name,
             const Environment& env, std::string_view env_name,
             const std::map<std::string, std::string>& file,
             const std::string& key, const std::string& file_path) {
  if (!flag.empty()) {
    return {flag, std::string(flag_name)};
  }
  if (!env_name.empty()) {
    if (auto value = env_value(env, env_name)) {
      return {*value, std::string(env_name)};
    }
  }
  if (auto it = file.find(key); it != file.end()) {
    return {it->second, fmt::format("{} ({})", key, file_path)};
  }
  return {};
}

// Resolves a path read from the config file against the file's folder,
// as kubeconfig does, so one config can carry its certificates.
std::string relative_to(const std::string& value, const std::string& file) {
  if (value.empty() || std::filesystem::path(value).is_absolute()) {
    return value;
  }
  return (std::filesystem::path(file).parent_path() / value).string();
}

void check_broker_url(const Setting& broker) {
  if (broker.value.rfind("http://", 0) == 0 ||
      broker.value.rfind("https://", 0) == 0) {
    return;
  }
  throw Error(Code::invalid_argument,
              fmt::format("{}: broker URL \"{}\" must start with http:// or "
                          "https://, such as {}",
                          broker.source, broker.value, k_default_broker),
              "--broker");
}

// Resolves the TLS file settings; paths from the file are relative to it.
void resolve_tls(Globals& g, const Environment& env,
                 const std::map<std::string, std::string>& file,
                 const std::string& path) {
  auto tls_file = [&](std::string& field, std::string_view flag,
                      std::string_view env_name, const std::string& key) {
    const bool from_file = field.empty() && !env_value(env, env_name);
    field = pick(field, flag, env, env_name, file, key, path).value;
    if (from_file) {
      field = relative_to(field, path);
    }
  };
  tls_file(g.ca, "--ca", "LRB_CA", "ca");
  tls_file(g.cert, "--cert", "LRB_CERT", "cert");
  tls_file(g.key, "--key", "LRB_KEY", "key");
}

// Resolves the bearer token: a token given directly wins over a file at
// the same level (flag, then environment), then the config's token-file.
void resolve_token(Globals& g, const Environment& env,
                   const std::map<std::string, std::string>& file,
                   const std::string& path) {
  if (!g.token.empty() || !g.token_file.empty()) {
    g.token = read_token(g.token, g.token_file, "--token-file");
    return;
  }
  auto env_token = env_value(env, "LRB_TOKEN");
  auto env_file = env_value(env, "LRB_TOKEN_FILE");
  if (env_token || env_file) {
    g.token_file = env_file.value_or("");
    g.token =
        read_token(env_token.value_or(""), g.token_file, "LRB_TOKEN_FILE");
    return;
  }
  if (auto it = file.find("token-file"); it != file.end()) {
    g.token_file = relative_to(it->second, path);
    g.token = read_token("", g.token_file, "token-file");
  }
}

} // namespace

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> k_keys = {
      "broker", "output", "requester", "ca", "cert", "key", "token-file"};
  return k_keys;
}

std::map<std::string, std::string> parse_config(std::string_view text,
                                                std::string_view path) {
  std::map<std::string, std::string> values;
  std::istringstream in{std::string(text)};
  std::string raw;
  for (int line = 1; std::getline(in, raw); ++line) {
    const std::string content = trim(raw);
    if (content.empty() || content.front() == '#') {
      continue;
    }
    const auto eq = content.find('=');
    if (eq == std::string::npos) {
      bad_line(path, line, "expected `key = value`");
    }
    const std::string key = trim(content.substr(0, eq));
    const auto& keys = config_keys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      bad_line(path, line,
               fmt::format("unknown key \"{}\": use one of {}", key,
                           fmt::join(keys, ", ")));
    }
    if (!values.emplace(key, unquote(trim(content.substr(eq + 1)))).second) {
      bad_line(path, line, fmt::format("key \"{}\" is set twice", key));
    }
  }
  return values;
}

std::string config_path(const std::string& explicit_path,
                        const Environment& env) {
  if (!explicit_path.empty()) {
    return explicit_path;
  }
  if (auto xdg = env_value(env, "XDG_CONFIG_HOME")) {
    return *xdg + "/lrb/config";
  }
  if (auto home = env_value(env, "HOME")) {
    return *home + "/.config/lrb/config";
  }
  return {};
}

std::map<std::string, std::string> load_config(const std::string& path,
                                               bool required) {
  if (path.empty()) {
    return {};
  }
  std::ifstream in(path);
  if (!in) {
    if (!required) {
      return {};
    }
    throw Error(Code::invalid_argument,
                fmt::format("--config: cannot read config file \"{}\": check "
                            "the path",
                            path),
                "--config");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

void resolve_globals(Globals& g, const Environment& env) {
  const std::string path = config_path(g.config_file, env);
  const auto file = load_config(path, !g.config_file.empty());

  const Setting broker =
      pick(g.broker, "--broker", env, "LRB_BROKER", file, "broker", path);
  g.broker =
      broker.value.empty() ? std::string(k_default_broker) : broker.value;
  g.broker_source = broker.source.empty() ? "the default" : broker.source;
  check_broker_url({g.broker, broker.source});

  const Setting output = pick(g.output, "-o", env, "", file, "output", path);
  g.output = output.value.empty() ? "table" : output.value;
  parse_format(g.output, output.source.empty() ? "-o" : output.source);

  g.requester = pick("", "", env, "LRB_CLUSTER", file, "requester", path).value;
  resolve_tls(g, env, file, path);
  resolve_token(g, env, file, path);

  // NO_COLOR counts when set and not empty (no-color.org).
  g.no_color = g.no_color || env_value(env, "NO_COLOR").has_value();
  g.color = !g.no_color && is_terminal(1);
  g.color_stderr = !g.no_color && is_terminal(2);
}

std::string read_token(const std::string& token, const std::string& token_file,
                       std::string_view field) {
  if (!token.empty() || token_file.empty()) {
    return token;
  }
  std::ifstream in(token_file);
  std::string first;
  if (!in || !std::getline(in, first) || trim(first).empty()) {
    throw Error(Code::invalid_argument,
                fmt::format("{}: cannot read a token from \"{}\": the file "
                            "must exist and hold the token on its first line",
                            field, token_file),
                std::string(field));
  }
  return trim(first);
}

} // namespace lrb::cli
