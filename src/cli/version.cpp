// `lrb version`: the build's version, for people and scripts, and the
// broker's when one answers. A version check is what an operator runs
// first when something is wrong, so it must never fail because the broker
// is down: it then says why the broker did not answer and still exits 0.
// The broker is given two seconds, so a hung one does not hang the check.
#include <chrono>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/output.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

constexpr std::chrono::milliseconds k_broker_timeout{2000};

// The broker's version, or why it could not be had.
struct BrokerVersion {
  std::string version;
  std::string error;
};

BrokerVersion ask_broker(const Globals& g) {
  try {
    BrokerClient client(g, k_broker_timeout);
    return {client.version(), ""};
  } catch (const core::Error& e) {
    return {"", e.what()};
  }
}

int run_version(const Globals& g, bool client_only) {
  const Format format =
      output_format(g.output, "version",
                    {Format::table, Format::wide, Format::json, Format::yaml});
  BrokerVersion broker;
  if (!client_only) {
    broker = ask_broker(g);
  }
  if (format == Format::json || format == Format::yaml) {
    core::Json j{{"version", LRB_VERSION}};
    if (!client_only) {
      j["broker"] = {{"url", g.broker}};
      j["broker"][broker.error.empty() ? "version" : "error"] =
          broker.error.empty() ? broker.version : broker.error;
    }
    print_document(j, format);
    return 0;
  }
  std::string out = fmt::format("Client Version: {}\n", LRB_VERSION);
  if (!client_only) {
    out +=
        broker.error.empty()
            ? fmt::format("Broker Version: {} ({})\n", broker.version, g.broker)
            : fmt::format("Broker Version: unknown ({})\n", broker.error);
  }
  print_out(out);
  return 0;
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "version", "Print the version of lrb, and of the broker if it answers");
  auto client_only = std::make_shared<bool>(false);
  cmd->add_flag("--client", *client_only,
                "Print only the client's version (no network)");
  cmd->callback([&globals, client_only] {
    globals.action = [&globals, client_only] {
      return run_version(globals, *client_only);
    };
  });
}

const VerbRegistrar k_registrar({"version", 900, setup});

} // namespace

} // namespace lrb::cli
