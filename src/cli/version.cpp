// `lrb version`: the build's version, for people and scripts.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/app.h"

namespace lrb::cli {

namespace {

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand("version", "Print the version of lrb");
  cmd->callback([&globals] {
    globals.action = [&globals] {
      if (globals.output == "json") {
        std::printf("{\"version\":\"%s\"}\n", LRB_VERSION);
      } else {
        std::printf("lrb %s\n", LRB_VERSION);
      }
      return 0;
    };
  });
}

const VerbRegistrar k_registrar({"version", 900, setup});

} // namespace

} // namespace lrb::cli
