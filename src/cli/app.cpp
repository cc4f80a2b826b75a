#include "cli/app.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/config.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/log.h"

namespace lrb::cli {

namespace {

std::vector<Verb>& registry() {
  static std::vector<Verb> verbs;
  return verbs;
}

// Prints one diagnostic line on stderr, as every failure is reported;
// a message spread over lines is joined so that scripts read one line.
// "error:" is red when stderr is a terminal that may have colour.
void print_error(std::string_view message, bool color = false) {
  std::string line =
      fmt::format("lrb: {} {}", paint("error:", Color::red, color), message);
  std::replace(line.begin(), line.end(), '\n', ' ');
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// Returns CLI11's message in lrb's voice: lowercase first word.
std::string usage_message(const CLI::ParseError& e) {
  std::string message = e.what();
  // "The following..." becomes "the following...", "URL" stays.
  auto upper = [&message](std::size_t i) {
    return i < message.size() &&
           std::isupper(static_cast<unsigned char>(message[i])) != 0;
  };
  if (upper(0) && !upper(1)) {
    message[0] =
        static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  }
  return fmt::format("{} (see 'lrb --help')", message);
}

// Reads the environment and config file, then sets the log level asked
// for; a level is set only when asked so that daemons keep their own.
int prepare(Globals& globals) {
  try {
    resolve_globals(globals, process_environment());
    if (!globals.log_level.empty()) {
      core::set_log_level(
          core::parse_log_level(globals.log_level, "--log-level"));
    }
  } catch (const core::Error& e) {
    print_error(e.what());
    return core::exit_code(e.code());
  }
  return 0;
}

} // namespace

void require_value(const std::string& value, std::string_view name,
                   std::string_view how) {
  if (value.empty()) {
    throw core::Error(core::Code::invalid_argument,
                      fmt::format("{} is required: {}", name, how),
                      std::string(name));
  }
}

void print_warning(std::string_view message) {
  std::string line = fmt::format("lrb: warning: {}\n", message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

VerbRegistrar::VerbRegistrar(Verb verb) {
  registry().push_back(verb);
}

void build_app(CLI::App& app, Globals& globals) {
  app.description("lrb - a multi-cluster resource broker for Kubernetes.\n"
                  "Clusters advertise spare CPU, memory and GPUs; the "
                  "broker picks the best\nother cluster for each request "
                  "and locks the capacity there.");
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", "lrb " LRB_VERSION);
  app.add_option("--broker", globals.broker,
                 "Broker URL (env LRB_BROKER; default "
                 "http://127.0.0.1:7070)")
      ->type_name("URL");
  app.add_option("-o,--output", globals.output,
                 "Output format: table, wide, json, yaml or name")
      ->type_name("FORMAT")
      ->check(CLI::IsMember(format_names()));
  app.add_flag("--no-color", globals.no_color,
               "Never colour output (also NO_COLOR)");
  app.add_option("--log-level", globals.log_level,
                 "Log level: debug, info, warn, error or off")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));
  app.add_option("--config", globals.config_file,
                 "Config file (default $XDG_CONFIG_HOME/lrb/config)")
      ->type_name(std::string(k_type_file));
  app.add_option("--ca", globals.ca, "CA bundle to verify the broker (LRB_CA)")
      ->type_name(std::string(k_type_file));
  app.add_option("--cert", globals.cert, "Client certificate (LRB_CERT)")
      ->type_name(std::string(k_type_file));
  app.add_option("--key", globals.key, "Client key (LRB_KEY)")
      ->type_name(std::string(k_type_file));
  app.add_option("--token", globals.token, "Bearer token (LRB_TOKEN)")
      ->type_name("TOKEN");
  app.add_option("--token-file", globals.token_file,
                 "File holding the bearer token (LRB_TOKEN_FILE)")
      ->type_name(std::string(k_type_file));
  app.add_flag("--insecure-skip-tls-verify", globals.insecure_skip_tls_verify,
               "Do not verify the broker's certificate (unsafe)");

  auto verbs = registry();
  std::stable_sort(
      verbs.begin(), verbs.end(),
      [](const Verb& a, const Verb& b) { return a.order < b.order; });
  for (const auto& verb : verbs) {
    verb.setup(app, globals);
  }
}

int run(int argc, char** argv) {
  CLI::App app{"lrb"};
  Globals globals;
  try {
    build_app(app, globals);
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error(usage_message(e));
    return 2;
  } catch (const core::Error& e) {
    // Validators that parse quantities and durations throw core errors.
    print_error(e.what());
    return 2;
  }

  if (!globals.action) {
    print_error("no verb given (see 'lrb --help')");
    return 2;
  }
  if (int rc = prepare(globals); rc != 0) {
    return rc;
  }
  try {
    return globals.action();
  } catch (const core::Error& e) {
    print_error(e.what(), globals.color_stderr);
    return core::exit_code(e.code());
  } catch (const std::exception& e) {
    print_error(fmt::format("internal error: {}", e.what()),
                globals.color_stderr);
    return 1;
  }
}

} // namespace lrb::cli
