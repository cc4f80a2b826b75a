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
// (LRB_*), then the config file, in that order of precedence
// (config.h's resolve_globals runs after parsing, before the action).
struct Globals {
  std::string broker;        // --broker / LRB_BROKER / broker
  std::string broker_source; // where `broker` came from, for diagnostics
  std::string output;        // -o table|wide|json|yaml|name / output
  bool no_color = false;     // --no-color / NO_COLOR
  std::string log_level;     // --log-level
  std::string config_file;   // --config
  // TLS and credentials for talking to the broker.
  std::string ca, cert, key, token, token_file;
  bool insecure_skip_tls_verify = false;
  // The default requester cluster (LRB_CLUSTER / requester).
  std::string requester;
  // Whether stdout and stderr get colour (a terminal and no NO_COLOR).
  bool color = false;
  bool color_stderr = false;
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

// Throws Error(invalid_argument) naming `name` when `value` is empty:
// "<name> is required: <how>". Verbs check required flags and arguments
// this way, after parsing, so that an unknown flag is reported first.
void require_value(const std::string& value, std::string_view name,
                   std::string_view how);

// Prints "lrb: warning: <message>" on stderr.
void print_warning(std::string_view message);

// Value names that `lrb completion` turns into completions: an option or
// positional whose type_name is one of these completes files, cluster
// ids or reservation ids; a CLI::IsMember check completes its members.
inline constexpr std::string_view k_type_file = "FILE";
inline constexpr std::string_view k_type_cluster = "CLUSTER";
inline constexpr std::string_view k_type_reservation = "RESERVATION";

} // namespace lrb::cli
