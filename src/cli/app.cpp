#include "cli/app.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"

namespace lrb::cli {

namespace {

std::vector<Verb>& registry() {
  static std::vector<Verb> verbs;
  return verbs;
}

// Prints one diagnostic line on stderr, as every failure is reported.
void print_error(std::string_view message) {
  std::string line = fmt::format("lrb: error: {}\n", message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace

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
                 "http://127.0.0.1:7070)");
  app.add_option("-o,--output", globals.output,
                 "Output format: table, wide, json, yaml or name");
  app.add_flag("--no-color", globals.no_color,
               "Never colour output (also NO_COLOR)");
  app.add_option("--config", globals.config_file,
                 "Config file (default $XDG_CONFIG_HOME/lrb/config)");
  app.add_option("--ca", globals.ca, "CA bundle to verify the broker (LRB_CA)");
  app.add_option("--cert", globals.cert, "Client certificate (LRB_CERT)");
  app.add_option("--key", globals.key, "Client key (LRB_KEY)");
  app.add_option("--token", globals.token, "Bearer token (LRB_TOKEN)");
  app.add_option("--token-file", globals.token_file,
                 "File holding the bearer token (LRB_TOKEN_FILE)");
  app.add_flag("--insecure-skip-tls-verify", globals.insecure_skip_tls_verify,
               "Do not verify the broker's certificate (unsafe)");

  auto verbs = registry();
  std::sort(verbs.begin(), verbs.end(),
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
    print_error(fmt::format("{} (see 'lrb --help')", e.what()));
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
  try {
    return globals.action();
  } catch (const core::Error& e) {
    print_error(e.what());
    return core::exit_code(e.code());
  } catch (const std::exception& e) {
    print_error(fmt::format("internal error: {}", e.what()));
    return 1;
  }
}

} // namespace lrb::cli
