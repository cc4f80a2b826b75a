// The command line: one binary, one subcommand per verb. Each verb lives
// in its own file and registers itself with a VerbRegistrar; app.cpp owns
// the options every verb shares, runs the chosen verb, and is the one
// place where an Error becomes "lrb: error: ..." and an exit code.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace lrb::cli {

// Options shared by every verb, filled from flags, then the environment
// (LRB_*), then the config file, in that order of precedence.
struct Globals {
  std::string broker;      // --broker / LRB_BROKER
  std::string output;      // -o table|wide|json|yaml|name
  bool no_color = false;   // --no-color / NO_COLOR
  std::string log_level;   // --log-level
  std::string config_file; // --config
  // TLS and credentials for talking to the broker.
  std::string ca, cert, key, token, token_file;
  bool insecure_skip_tls_verify = false;
  // The verb's action; returns the process exit code.
  std::function<int()> action;
};

// One verb: `setup` adds its subcommand to `root` and sets the action on
// the Globals when the subcommand is chosen. `order` sorts --help.
struct Verb {
  std::string_view name;
  int order;
  void (*setup)(CLI::App& root, Globals& globals);
};

// Registers a verb at static-initialisation time.
class VerbRegistrar {
public:
  explicit VerbRegistrar(Verb verb);
};

// Runs the command line; returns the exit code.
int run(int argc, char** argv);

// Builds the full command tree (used by `lrb completion` and the tests).
void build_app(CLI::App& app, Globals& globals);

} // namespace lrb::cli
