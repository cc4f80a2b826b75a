// `lrb broker`: runs the broker daemon. Every flag is also a key of the
// optional --config file (`key = value` lines, '#' comments, the long
// flag names without dashes), and a flag given on the command line wins
// over the file, which wins over the built-in default. The flags are
// kept as text until all three sources are merged, so that one parser
// per setting reports a bad value the same way wherever it came from.
//
// Security: with --tls-cert and --tls-key the broker speaks only HTTPS;
// --client-ca makes it verify client certificates and --tokens-file
// accept bearer tokens, and with either every request is tied to an
// identity and checked (daemon/identity.h). With neither, every caller is
// an anonymous admin, which the broker says at start, so that nobody
// runs an open broker without knowing.
//
// Shutdown: SIGINT and SIGTERM are blocked in every thread and awaited
// by one; it stops the listener and wakes parked watchers, serve()
// returns once in-flight requests are done, and the database is closed
// as the objects go out of scope, so the process exits 0.
#include "daemon/broker.h"

#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include "cli/app.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/log.h"
#include "core/resources.h"
#include "core/scoring.h"
#include "daemon/api.h"
#include "daemon/auth.h"
#include "daemon/http_server.h"
#include "daemon/sqlite_store.h"
#include "daemon/sweeper.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

// One setting: its long flag name (also its config key), its default and
// its help text.
struct Setting {
  const char* name;
  const char* fallback;
  const char* type;
  const char* help;
};

constexpr Setting k_settings[] = {
    {"listen", "127.0.0.1:7070", "HOST:PORT",
     "Address to serve the API on; port 0 picks a free port"},
    {"db", "", "PATH",
     "SQLite database (default $XDG_STATE_HOME/lrb/lrb.db, else "
     "~/.local/state/lrb/lrb.db)"},
    {"port-file", "", "FILE",
     "Write the bound port to FILE once connections are accepted"},
    {"stale-after", "45s", "DURATION",
     "A cluster unheard this long becomes Stale"},
    {"startup-grace", "", "DURATION",
     "After a start, no cluster goes stale before this (default: "
     "--stale-after)"},
    {"activation-timeout", "10m", "DURATION",
     "A Reserved reservation not activated within this expires"},
    {"default-duration", "1h", "DURATION",
     "Lease of a reservation that names no duration"},
    {"max-duration", "24h", "DURATION", "Longest lease a request may ask"},
    {"sweep-interval", "1s", "DURATION",
     "How often leases, deadlines and staleness are checked"},
    {"event-retention", "1h", "DURATION", "How long watch events are kept"},
    {"policy", "weighted", "NAME",
     "Default policy: weighted, resource, cost, random or binpack"},
    {"weights", "0.7,0.3", "R,C",
     "Default resource and cost weights (summing to 1)"},
    {"max-watchers", "512", "N",
     "Watch requests parked at once; more are answered at once"},
    {"max-body", "4MiB", "SIZE", "Largest request body accepted"},
    {"workers", "16", "N", "HTTP threads started up front"},
    {"tls-cert", "", "FILE",
     "Serve HTTPS with this PEM certificate (chain); needs --tls-key"},
    {"tls-key", "", "FILE", "The PEM private key of --tls-cert"},
    {"client-ca", "", "FILE",
     "Verify client certificates against this CA; clients without one "
     "may still use a token"},
    {"tokens-file", "", "FILE",
     "Bearer tokens: `TOKEN IDENTITY ROLE` lines; mode 0600"},
    {"metrics-auth", "false", "BOOL",
     "Require credentials (any role) for /metrics"},
    {"log-level", "info", "LEVEL", "debug, info, warn or error"},
    {"log-format", "text", "FORMAT", "text or json"},
};

struct BrokerFlags {
  std::map<std::string, std::string> values;
  std::map<std::string, CLI::Option*> options;
  std::string config_file;
};

// The merged, parsed settings.
struct BrokerSettings {
  daemon::BrokerConfig broker;
  daemon::HttpServerOptions http;
  daemon::AuthOptions auth;
  std::string db;
  bool default_db = false;
  std::string port_file;
  std::int64_t sweep_interval_ms = 1000;
  core::LogLevel log_level = core::LogLevel::info;
  core::LogFormat log_format = core::LogFormat::text;
};

bool known_setting(std::string_view key) {
  for (const auto& s : k_settings) {
    if (key == s.name) {
      return true;
    }
  }
  return false;
}

std::string trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

// Reads `key = value` lines; values may be double-quoted.
std::map<std::string, std::string> read_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw Error(Code::invalid_argument,
                fmt::format("cannot read config file {}", path), "--config");
  }
  std::map<std::string, std::string> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string text = trim(line);
    if (text.empty() || text.front() == '#') {
      continue;
    }
    auto eq = text.find('=');
    std::string key = eq == std::string::npos ? "" : trim(text.substr(0, eq));
    if (!known_setting(key) || out.count(key) != 0) {
      throw Error(Code::invalid_argument,
                  fmt::format("{}:{}: expected `key = value` with a new key "
                              "among the long flags of lrb broker, got \"{}\"",
                              path, number, text),
                  "--config");
    }
    std::string value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    out[key] = value;
  }
  return out;
}

bool parse_bool(const std::string& text, const std::string& flag) {
  if (text == "true" || text == "false") {
    return text == "true";
  }
  throw Error(Code::invalid_argument,
              fmt::format("--{} must be true or false, not \"{}\"", flag, text),
              "--" + flag);
}

// Reads the TLS and authentication settings; refuses combinations that
// would not do what the operator meant.
void resolve_security(std::map<std::string, std::string>& v,
                      BrokerSettings& s) {
  s.http.tls_cert = v["tls-cert"];
  s.http.tls_key = v["tls-key"];
  s.http.client_ca = v["client-ca"];
  if (s.http.tls_cert.empty() != s.http.tls_key.empty()) {
    throw Error(Code::invalid_argument,
                "TLS needs both --tls-cert and --tls-key",
                s.http.tls_cert.empty() ? "--tls-cert" : "--tls-key");
  }
  if (!s.http.client_ca.empty() && s.http.tls_cert.empty()) {
    throw Error(Code::invalid_argument,
                "--client-ca verifies client certificates over TLS: give "
                "--tls-cert and --tls-key too",
                "--client-ca");
  }
  s.auth.client_certificates = !s.http.client_ca.empty();
  if (!v["tokens-file"].empty()) {
    s.auth.tokens = daemon::load_tokens_file(v["tokens-file"]);
    if (s.auth.tokens.empty()) {
      throw Error(Code::invalid_argument,
                  fmt::format("--tokens-file {} lists no token: add "
                              "`TOKEN IDENTITY ROLE` lines",
                              v["tokens-file"]),
                  "--tokens-file");
    }
  }
  s.auth.protect_metrics = parse_bool(v["metrics-auth"], "metrics-auth");
  if (s.auth.protect_metrics && !s.auth.client_certificates &&
      s.auth.tokens.empty()) {
    throw Error(Code::invalid_argument,
                "--metrics-auth needs credentials to check: give "
                "--client-ca or --tokens-file",
                "--metrics-auth");
  }
}

// Says at start what the broker trusts, warning about what is open.
void log_security(const BrokerSettings& s) {
  const bool tls = !s.http.tls_cert.empty();
  const bool auth = s.auth.client_certificates || !s.auth.tokens.empty();
  if (!tls && !auth) {
    LRB_LOG(warn,
            "serving plain HTTP without authentication: every caller "
            "is an admin; listen on a trusted address only",
            kv("addr", s.http.host));
  } else if (!tls) {
    LRB_LOG(warn,
            "serving plain HTTP: bearer tokens cross the network in clear "
            "text; give --tls-cert and --tls-key",
            kv("addr", s.http.host));
  } else if (!auth) {
    LRB_LOG(warn,
            "serving HTTPS without authentication: every caller is an "
            "admin; give --client-ca or --tokens-file",
            kv("addr", s.http.host));
  }
  LRB_LOG(info, "security", kv("tls", tls),
          kv("client_certificates", s.auth.client_certificates),
          kv("tokens", s.auth.tokens.size()),
          kv("metrics_auth", s.auth.protect_metrics));
}

// Merges flags over the config file over the defaults.
std::map<std::string, std::string> merged(const BrokerFlags& f) {
  std::map<std::string, std::string> file;
  if (!f.config_file.empty()) {
    file = read_config(f.config_file);
  }
  std::map<std::string, std::string> out;
  for (const auto& s : k_settings) {
    if (f.options.at(s.name)->count() > 0) {
      out[s.name] = f.values.at(s.name);
    } else if (auto it = file.find(s.name); it != file.end()) {
      out[s.name] = it->second;
    } else {
      out[s.name] = s.fallback;
    }
  }
  return out;
}

std::int64_t parse_int(const std::string& text, const std::string& flag,
                       std::int64_t low, std::int64_t high) {
  std::int64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low ||
      value > high) {
    throw Error(Code::invalid_argument,
                fmt::format("--{} must be a whole number from {} to {}, not "
                            "\"{}\"",
                            flag, low, high, text),
                "--" + flag);
  }
  return value;
}

std::int64_t parse_ms(const std::string& text, const std::string& flag) {
  return core::parse_duration_ms(text, "--" + flag);
}

// Parses "4MiB", "4Mi", "512KiB", "1MB" or a plain byte count.
std::size_t parse_size(std::string text, const std::string& flag) {
  if (text.size() > 1 && text.back() == 'B' &&
      std::isalpha(static_cast<unsigned char>(text[text.size() - 2]))) {
    text.pop_back();
  }
  auto bytes = core::parse_resource("memory", text, "--" + flag);
  if (bytes <= 0) {
    throw Error(Code::invalid_argument,
                fmt::format("--{} must be above zero", flag), "--" + flag);
  }
  return static_cast<std::size_t>(bytes);
}

void parse_listen(const std::string& text, daemon::HttpServerOptions& http) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw Error(Code::invalid_argument,
                fmt::format("--listen must be HOST:PORT, such as "
                            "127.0.0.1:7070, not \"{}\"",
                            text),
                "--listen");
  }
  http.host = text.substr(0, colon);
  if (http.host.size() > 2 && http.host.front() == '[') {
    http.host = http.host.substr(1, http.host.size() - 2);
  }
  http.port =
      static_cast<int>(parse_int(text.substr(colon + 1), "listen", 0, 65535));
}

void parse_scoring(const std::string& policy, const std::string& weights,
                   core::ScoringConfig& scoring) {
  auto comma = weights.find(',');
  double w[2] = {0, 0};
  std::string parts[2] = {
      weights.substr(0, comma),
      comma == std::string::npos ? "" : weights.substr(comma + 1)};
  for (int i = 0; i < 2; ++i) {
    auto [end, ec] = std::from_chars(parts[i].data(),
                                     parts[i].data() + parts[i].size(), w[i]);
    if (parts[i].empty() || ec != std::errc() ||
        end != parts[i].data() + parts[i].size()) {
      throw Error(Code::invalid_argument,
                  fmt::format("--weights must be two numbers R,C summing to "
                              "1, such as 0.7,0.3, not \"{}\"",
                              weights),
                  "--weights");
    }
  }
  core::PolicySpec spec{policy, w[0], w[1], std::nullopt};
  try {
    auto resolved = core::resolve_policy(spec, scoring);
    scoring.policy = policy;
    scoring.resource_weight = w[0];
    scoring.cost_weight = w[1];
    (void)resolved;
  } catch (const Error& e) {
    std::string flag = e.field() == "policy.name" ? "--policy" : "--weights";
    throw Error(Code::invalid_argument, fmt::format("{}: {}", flag, e.what()),
                flag);
  }
}

BrokerSettings resolve(const BrokerFlags& f) {
  auto v = merged(f);
  BrokerSettings s;
  parse_listen(v["listen"], s.http);
  s.db = v["db"];
  s.default_db = s.db.empty();
  if (s.default_db) {
    s.db = daemon::default_database_path();
  }
  s.port_file = v["port-file"];

  auto& b = s.broker;
  b.stale_after_ms = parse_ms(v["stale-after"], "stale-after");
  b.startup_grace_ms = v["startup-grace"].empty()
                           ? b.stale_after_ms
                           : parse_ms(v["startup-grace"], "startup-grace");
  b.activation_timeout_ms =
      parse_ms(v["activation-timeout"], "activation-timeout");
  b.default_duration_ms = parse_ms(v["default-duration"], "default-duration");
  b.max_duration_ms = parse_ms(v["max-duration"], "max-duration");
  if (b.default_duration_ms > b.max_duration_ms) {
    throw Error(Code::invalid_argument,
                "--default-duration is above --max-duration: raise the "
                "maximum or lower the default",
                "--default-duration");
  }
  b.event_retention_ms = parse_ms(v["event-retention"], "event-retention");
  s.sweep_interval_ms = parse_ms(v["sweep-interval"], "sweep-interval");
  parse_scoring(v["policy"], v["weights"], b.scoring);
  b.max_watchers =
      static_cast<int>(parse_int(v["max-watchers"], "max-watchers", 0, 100000));

  s.http.max_body = parse_size(v["max-body"], "max-body");
  s.http.max_watchers = b.max_watchers;
  s.http.workers =
      static_cast<int>(parse_int(v["workers"], "workers", 1, 4096));
  resolve_security(v, s);
  s.log_level = core::parse_log_level(v["log-level"], "--log-level");
  if (v["log-format"] != "text" && v["log-format"] != "json") {
    throw Error(Code::invalid_argument,
                fmt::format("--log-format must be text or json, not \"{}\"",
                            v["log-format"]),
                "--log-format");
  }
  s.log_format =
      v["log-format"] == "json" ? core::LogFormat::json : core::LogFormat::text;
  return s;
}

// Blocks SIGINT and SIGTERM in this thread and every thread it starts,
// so that only the waiter thread receives them; ignores SIGPIPE, which a
// client closing its socket mid-response would otherwise raise.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

int serve(const BrokerSettings& s, const sigset_t& stop_signals) {
  if (s.default_db) {
    daemon::ensure_parent_directory(s.db);
  }
  LRB_LOG(info, "opening database", kv("db", s.db));
  auto store = daemon::open_sqlite_store({.path = s.db});
  daemon::Metrics metrics;
  daemon::Broker broker(*store, core::system_clock(), s.broker, metrics);
  daemon::Api api(broker, daemon::Authenticator(s.auth));
  daemon::HttpServer server(api, metrics, s.http);
  int port = server.bind();
  if (!s.port_file.empty()) {
    daemon::write_port_file(s.port_file, port, "--port-file");
  }
  log_security(s);
  LRB_LOG(info, "listening",
          kv("addr", fmt::format("{}:{}", s.http.host, port)), kv("db", s.db),
          kv("policy", s.broker.scoring.policy));

  daemon::Sweeper sweeper(broker, s.sweep_interval_ms);
  sweeper.start();
  std::atomic<bool> served{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (!served) {
      LRB_LOG(info, "stopping", kv("signal", strsignal(sig)));
    }
    broker.shutdown();
    // stop() is a no-op until serve() runs: repeat until it returned.
    while (!served) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  server.serve();
  served = true;
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  sweeper.stop();
  LRB_LOG(info, "stopped", kv("db", s.db));
  return 0;
}

int run_broker(const BrokerFlags& f) {
  auto settings = resolve(f);
  core::set_log_level(settings.log_level);
  core::set_log_format(settings.log_format);
  auto stop_signals = block_stop_signals();
  return serve(settings, stop_signals);
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "broker", "Run the broker: the HTTP API, the SQLite store, the "
                "sweeper and the metrics");
  auto f = std::make_shared<BrokerFlags>();
  for (const auto& s : k_settings) {
    auto* opt =
        cmd->add_option(fmt::format("--{}", s.name), f->values[s.name], s.help);
    opt->type_name(s.type);
    if (*s.fallback != '\0') {
      opt->description(fmt::format("{} (default {})", s.help, s.fallback));
    }
    f->options[s.name] = opt;
  }
  cmd->add_option("--config", f->config_file,
                  "Read settings from FILE: `key = value` lines with the "
                  "long flag names; flags win")
      ->type_name("FILE");
  cmd->callback(
      [f, &globals] { globals.action = [f] { return run_broker(*f); }; });
}

const VerbRegistrar k_registrar({"broker", 700, setup});

} // namespace

} // namespace lrb::cli
