#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include "cli/app.h"
#include "cli/completion.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

const CommandSpec* child(const CommandSpec& c, const std::string& name) {
  for (const auto& sub : c.children) {
    if (sub.names.front() == name) {
      return &sub;
    }
  }
  return nullptr;
}

const OptionSpec* option(const CommandSpec& c, const std::string& name) {
  for (const auto& o : c.options) {
    for (const auto& n : o.names) {
      if (n == name) {
        return &o;
      }
    }
  }
  return nullptr;
}

// Builds the real command tree, as `lrb` does.
struct Tree {
  CLI::App app{"lrb"};
  Globals globals;
  Tree() { build_app(app, globals); }
};

} // namespace

TEST_CASE("the model is read from the command tree lrb parses with") {
  Tree tree;
  const CommandSpec root = describe_commands(tree.app);
  CHECK(root.path.empty());

  const OptionSpec* output = option(root, "-o");
  REQUIRE(output != nullptr);
  CHECK(output->names == std::vector<std::string>{"--output", "-o"});
  CHECK(output->takes_value);
  CHECK(output->hint == Hint::choices);
  CHECK(output->choices ==
        std::vector<std::string>{"table", "wide", "json", "yaml", "name"});
  REQUIRE(option(root, "--config") != nullptr);
  CHECK(option(root, "--config")->hint == Hint::file);
  REQUIRE(option(root, "--no-color") != nullptr);
  CHECK_FALSE(option(root, "--no-color")->takes_value);

  const CommandSpec* reserve = child(root, "reserve");
  REQUIRE(reserve != nullptr);
  CHECK(reserve->path == "reserve");
  REQUIRE(option(*reserve, "--memory") != nullptr);
  CHECK(option(*reserve, "--memory") == option(*reserve, "--mem"));
  CHECK(option(*reserve, "--requester")->hint == Hint::cluster);
  CHECK(option(*reserve, "--policy")->hint == Hint::choices);
  CHECK_FALSE(option(*reserve, "--wait")->takes_value);
}

TEST_CASE("kinds are subcommands with their aliases and id hints") {
  Tree tree;
  const CommandSpec root = describe_commands(tree.app);
  const CommandSpec* get = child(root, "get");
  REQUIRE(get != nullptr);
  const CommandSpec* res = child(*get, "reservations");
  REQUIRE(res != nullptr);
  CHECK(res->path == "get reservations");
  CHECK(res->names ==
        std::vector<std::string>{"reservations", "reservation", "res"});
  CHECK(res->has_positional);
  CHECK(res->positional_hint == Hint::reservation);
  CHECK(option(*res, "--provider")->hint == Hint::cluster);

  const CommandSpec* completion = child(root, "completion");
  REQUIRE(completion != nullptr);
  CHECK(completion->positional_hint == Hint::choices);
  CHECK(completion->positional_choices == completion_shells());
}

TEST_CASE("the bash script walks into subcommands and skips values") {
  Tree tree;
  const std::string bash = completion_script(tree.app, "bash");
  CHECK(bash.find("\"get/clusters\" | \"get/cluster\" | \"get/cl\") "
                  "command=\"get clusters\" ;;") != std::string::npos);
  CHECK(bash.find("\"reserve/--cpu\"") != std::string::npos);
  CHECK(bash.find("*/--output | */-o) _lrb_words \"$cur\" \"table wide "
                  "json yaml name\" ;;") != std::string::npos);
  CHECK(bash.find("\"describe cluster\") _lrb_ids \"$cur\" clusters ;;") !=
        std::string::npos);
  CHECK(bash.find("complete -F _lrb lrb") != std::string::npos);
}

TEST_CASE("zsh and fish scripts come from the same model") {
  Tree tree;
  const std::string zsh = completion_script(tree.app, "zsh");
  CHECK(zsh.rfind("#compdef lrb\n", 0) == 0);
  CHECK(zsh.find("'reserve:Reserve capacity on the best other cluster'") !=
        std::string::npos);
  const std::string fish = completion_script(tree.app, "fish");
  CHECK(fish.find("complete -c lrb -n '__lrb_at \"get\"' -a res -d 'List "
                  "reservations'") != std::string::npos);
  CHECK(fish.find("complete -c lrb -n '__lrb_at \"reserve\"' -l cpu -x") !=
        std::string::npos);
}

TEST_CASE("an unknown shell is refused") {
  Tree tree;
  CHECK_THROWS_WITH_AS(completion_script(tree.app, "tcsh"),
                       "unknown shell \"tcsh\": use bash, zsh or fish",
                       core::Error);
}

} // namespace lrb::cli
